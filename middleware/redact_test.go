package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
)

func TestJSONBodiesAreRedactedBeforeStorage(t *testing.T) {
	const body = `{"user":"ada","password":"hunter2","profile":{"apiKey":"sk-live-1","bio":"hi"}}`
	const redacted = `{"user":"ada","profile":{"bio":"hi"}}`
	for _, tc := range []struct {
		name            string
		redaction       *aside.Redaction
		redactForLoader bool
		wantMiss        string
		wantHit         string
	}{
		{"by default the miss gets what later hits get", nil, false, redacted, redacted},
		{"RedactForLoader gives the loader's client the handler's body", nil, true, body, redacted},
		{"masking keeps the keys", &aside.Redaction{Mode: aside.RedactMask}, false,
			`{"user":"ada","password":"[REDACTED]","profile":{"apiKey":"[REDACTED]","bio":"hi"}}`,
			`{"user":"ada","password":"[REDACTED]","profile":{"apiKey":"[REDACTED]","bio":"hi"}}`},
		{"disabled redaction stores the body as it is", &aside.Redaction{Disabled: true}, false, body, body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := aside.New(aside.Options{Redaction: tc.redaction})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			e := echo.New()
			e.GET("/u", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, []byte(body)) },
				middleware.CacheWithConfig(middleware.CacheConfig{Cache: c, RedactForLoader: tc.redactForLoader}))
			get := func() *httptest.ResponseRecorder {
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/u", nil))
				return rec
			}
			miss := get()
			require.Equal(t, tc.wantMiss, miss.Body.String())
			hit := get()
			require.Contains(t, hit.Header().Get("Cache-Status"), "hit")
			require.Equal(t, tc.wantHit, hit.Body.String())
		})
	}
}
