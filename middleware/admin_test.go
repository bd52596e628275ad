package middleware_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
)

func TestAdminEndpoints(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/products", jsonHandler(productsJSON))
	g := a.e.Group("/_cache")
	require.NoError(t, middleware.RegisterAdmin(g, middleware.AdminConfig{Cache: a.cache, Token: "s3cret"}))

	a.get("/products")
	a.get("/products")
	stats := a.get("/_cache/stats")
	require.Equal(t, http.StatusOK, stats.Code)
	require.Equal(t, "no-store", stats.Header().Get("Cache-Control"))
	var s struct{ Hits, Misses int64 }
	require.NoError(t, json.Unmarshal(stats.Body.Bytes(), &s))
	require.GreaterOrEqual(t, s.Hits, int64(1))
	requireNotHit(t, a.get("/_cache/stats"))

	health := a.get("/_cache/health")
	require.Equal(t, http.StatusOK, health.Code)
	require.JSONEq(t, `{"status":"ok"}`, health.Body.String())

	post := func(body string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/_cache/invalidate", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		a.e.ServeHTTP(rec, req)
		return rec
	}
	for _, auth := range []string{"", "Bearer wrong", "Bearer s3cre", "s3cret"} {
		rec := post(`{"tags":["x"]}`, "Authorization", auth)
		require.Equal(t, http.StatusUnauthorized, rec.Code, "Authorization %q", auth)
		require.NotContains(t, rec.Body.String(), "s3cret")
	}
	require.Equal(t, http.StatusBadRequest, post(`{}`, "Authorization", "Bearer s3cret").Code)
	requireHit(t, a.get("/products"))
	rec := post(`{"pattern":"mw:*products*"}`, "Authorization", "Bearer s3cret")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"deleted":1`)
	requireNotHit(t, a.get("/products"))
	rec = post(`{"urls":["http://example.com/products"]}`, "Authorization", "Bearer s3cret")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	requireNotHit(t, a.get("/products"))
	requireHit(t, a.get("/products"))
	tag, err := middleware.URITag("http://example.com/products")
	require.NoError(t, err)
	rec = post(`{"tags":["`+tag+`"]}`, "Authorization", "Bearer s3cret")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	requireNotHit(t, a.get("/products"))
	require.Equal(t, http.StatusBadRequest, post(`{"urls":["/relative"]}`, "Authorization", "Bearer s3cret").Code)
}

func TestAdminIsOffUnlessConfigured(t *testing.T) {
	e := echo.New()
	c := newCache(t, aside.Options{})
	require.NoError(t, middleware.RegisterAdmin(e, middleware.AdminConfig{Cache: c}))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/invalidate", strings.NewReader(`{"tags":["x"]}`)))
	require.NotEqual(t, http.StatusOK, rec.Code, "no token, no invalidation endpoint")

	require.Error(t, middleware.RegisterAdmin(e, middleware.AdminConfig{}))
	require.Error(t, middleware.RegisterAdmin(e, middleware.AdminConfig{Cache: c, ProtectReads: true}))

	e2 := echo.New()
	require.NoError(t, middleware.RegisterAdmin(e2, middleware.AdminConfig{Cache: c, Token: "t", ProtectReads: true}))
	rec = httptest.NewRecorder()
	e2.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats", nil))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
}

func TestHealthReportsAFailingProvider(t *testing.T) {
	e := echo.New()
	c := newCache(t, aside.Options{Provider: failingProvider{}})
	require.NoError(t, middleware.RegisterAdmin(e, middleware.AdminConfig{Cache: c}))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.NotContains(t, rec.Body.String(), "provider down")
}
