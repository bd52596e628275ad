package middleware

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
)

// fakeRedactor stands in for the Cache's RedactJSON until it lands: it
// replaces the value of "password".
type fakeRedactor struct{}

func (fakeRedactor) RedactJSON(body []byte) ([]byte, error) {
	return bytes.ReplaceAll(body, []byte(`"password":"hunter2"`), []byte(`"password":"[REDACTED]"`)), nil
}

func TestJSONBodiesAreRedactedBeforeStorage(t *testing.T) {
	const body = `{"user":"ada","password":"hunter2"}`
	const redacted = `{"user":"ada","password":"[REDACTED]"}`
	for _, forLoader := range []bool{false, true} {
		c, err := aside.New(aside.Options{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		m, err := newCacher(CacheConfig{Cache: c, RedactForLoader: forLoader})
		require.NoError(t, err)
		m.redactor = fakeRedactor{}
		e := echo.New()
		e.GET("/u", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, []byte(body)) }, m.middleware)
		get := func() *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/u", nil))
			return rec
		}
		miss := get()
		if forLoader {
			require.Equal(t, body, miss.Body.String(), "RedactForLoader: the loader's client gets the handler's body")
		} else {
			require.Equal(t, redacted, miss.Body.String(), "the miss gets what later hits get")
		}
		hit := get()
		require.Contains(t, hit.Header().Get("Cache-Status"), "hit")
		require.Equal(t, redacted, hit.Body.String())
	}
}

func TestTheCachesRedactorIsFoundByItsMethod(t *testing.T) {
	c, err := aside.New(aside.Options{})
	require.NoError(t, err)
	defer c.Close()
	m, err := newCacher(CacheConfig{Cache: c})
	require.NoError(t, err)
	_, has := any(c).(redactor)
	require.Equal(t, has, m.redactor != nil)
}
