package middleware_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
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
	var h struct {
		Status  string
		Reasons []string
		Recent  struct{ Reads, Hits int64 }
	}
	require.NoError(t, json.Unmarshal(health.Body.Bytes(), &h))
	require.Equal(t, "ok", h.Status)
	require.Empty(t, h.Reasons)
	require.EqualValues(t, 1, h.Recent.Hits)
	require.Equal(t, "no-store", health.Header().Get("Cache-Control"))

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

func TestHealthIsOKWhenDegradedAndSaysWhy(t *testing.T) {
	e := echo.New()
	c := newCache(t, aside.Options{Health: aside.HealthOptions{MinReads: 3}})
	for i := range 5 {
		_, _, err := aside.Get[int](t.Context(), c, fmt.Sprint("nothing:", i))
		require.NoError(t, err)
	}
	require.NoError(t, middleware.RegisterAdmin(e, middleware.AdminConfig{Cache: c}))
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	require.Equal(t, http.StatusOK, rec.Code, "degraded still serves: 200")
	var h aside.Health
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &h))
	require.Equal(t, aside.HealthDegraded, h.Status)
	require.Len(t, h.Reasons, 1)
	require.Contains(t, h.Reasons[0], "hit rate 0.0%")
}

// pings counts the pings a provider answers.
type pings struct {
	provider.Provider
	n atomic.Int64
}

func (p *pings) Ping(ctx context.Context) error {
	p.n.Add(1)
	return p.Provider.Ping(ctx)
}

func TestHealthPingsTheStoreAtMostOnceASecond(t *testing.T) {
	m, err := memory.New(memory.Options{})
	require.NoError(t, err)
	p := &pings{Provider: m}
	c := newCache(t, aside.Options{Provider: p, Breaker: aside.Breaker{Disabled: true}})
	e := echo.New()
	require.NoError(t, middleware.RegisterAdmin(e, middleware.AdminConfig{Cache: c}))
	for range 20 {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
		require.Equal(t, http.StatusOK, rec.Code)
	}
	require.EqualValues(t, 1, p.n.Load())
}

func TestTheStatusPageIsServedWithNoDataAndAStrictPolicy(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/products", jsonHandler(productsJSON))
	var routes middleware.RouteStats
	require.NoError(t, middleware.RegisterAdmin(a.e.Group("/_cache"), middleware.AdminConfig{
		Cache: a.cache, Token: "s3cret", ProtectReads: true, Routes: &routes,
	}))
	a.get("/products")
	for _, path := range []string{"/_cache/", "/_cache"} {
		rec := a.get(path)
		require.Equal(t, http.StatusOK, rec.Code, path)
		require.Contains(t, rec.Header().Get("Content-Type"), "text/html")
		require.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'")
		require.Contains(t, rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'")
		require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		require.Contains(t, rec.Body.String(), `<base href="/_cache/">`, "relative URLs work with and without the slash")
		require.NotContains(t, rec.Body.String(), "s3cret")
		requireNotHit(t, rec)
	}
	js := a.get("/_cache/status.js")
	require.Equal(t, http.StatusOK, js.Code)
	require.Contains(t, js.Header().Get("Content-Type"), "text/javascript")
	require.Contains(t, js.Body.String(), "Authorization")
	require.NotContains(t, js.Body.String(), "localStorage")
	require.NotContains(t, js.Body.String(), "sessionStorage")
	require.NotContains(t, js.Body.String(), "document.cookie")
	require.NotContains(t, js.Body.String(), "innerHTML")
	require.Equal(t, http.StatusOK, a.get("/_cache/status.css").Code)

	// The data needs the token.
	require.Equal(t, http.StatusUnauthorized, a.get("/_cache/stats").Code)
	require.Equal(t, http.StatusUnauthorized, a.get("/_cache/health").Code)
	stats := a.get("/_cache/stats", "Authorization", "Bearer s3cret")
	require.Equal(t, http.StatusOK, stats.Code)
	var s struct {
		History      []aside.Interval
		Routes       []struct{ Route string }
		Invalidation bool
	}
	require.NoError(t, json.Unmarshal(stats.Body.Bytes(), &s))
	require.NotEmpty(t, s.History)
	require.True(t, s.Invalidation)
	require.Empty(t, s.Routes, "RouteStats.Count is not in front of these routes")
}
