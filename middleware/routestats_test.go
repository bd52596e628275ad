package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
)

func TestRouteStatsCountPerRouteNeverPerURL(t *testing.T) {
	e := echo.New()
	c := newCache(t, aside.Options{})
	var routes middleware.RouteStats
	g := e.Group("", routes.Count, middleware.CacheWithConfig(middleware.CacheConfig{Cache: c}))
	g.GET("/products/:id", func(ec echo.Context) error { return ec.String(http.StatusOK, "p"+ec.Param("id")) })
	g.GET("/flaky", func(ec echo.Context) error { return ec.String(http.StatusOK, "ok") })
	g.PUT("/products/:id", func(ec echo.Context) error { return ec.NoContent(http.StatusNoContent) })
	e.GET("/plain", func(ec echo.Context) error { return ec.String(http.StatusOK, "plain") }, routes.Count)

	get := func(target string, hdr ...string) {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		e.ServeHTTP(httptest.NewRecorder(), req)
	}
	get("/products/1?token=s3cret") // miss
	get("/products/1?token=s3cret") // hit
	get("/products/2")              // miss
	get("/products/2")              // hit
	get("/products/2")              // hit
	get("/products/2", "Cookie", "sid=1")
	get("/products/2", "Cache-Control", "no-store")                                              // served from the cache, not stored: a hit
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/products/2", nil)) // not a read: not counted
	get("/plain")                                                                                // no cache middleware: a bypass
	get("/nowhere")                                                                              // the group's catch-all route, "/*"

	got := routes.Routes()
	require.Equal(t, []middleware.RouteCount{
		{Route: "/*", Misses: 1},
		{Route: "/plain", Bypass: 1},
		{Route: "/products/:id", Hits: 4, Misses: 2, Bypass: 1},
	}, got)
	require.InDelta(t, 4.0/6, got[2].HitRate(), 1e-9)
	for _, r := range got {
		require.NotContains(t, r.Route, "s3cret")
	}
}

func TestRouteStatsCountStaleResponses(t *testing.T) {
	e := echo.New()
	c := newCache(t, aside.Options{})
	var routes middleware.RouteStats
	fail := false
	e.Use(routes.Count, middleware.CacheWithConfig(middleware.CacheConfig{Cache: c, TTL: time.Millisecond, StaleIfError: time.Hour}))
	e.GET("/x", func(ec echo.Context) error {
		if fail {
			return ec.String(http.StatusServiceUnavailable, "down")
		}
		return ec.String(http.StatusOK, "x")
	})
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
	time.Sleep(5 * time.Millisecond)
	fail = true
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	require.Equal(t, http.StatusOK, rec.Code, "stale-if-error answered")
	require.Equal(t, []middleware.RouteCount{{Route: "/x", Misses: 1, Stale: 1}}, routes.Routes())
}

func TestRouteStatsAreBounded(t *testing.T) {
	e := echo.New()
	var routes middleware.RouteStats
	for i := range middleware.MaxRoutes + 10 {
		e.GET(fmt.Sprintf("/r%d", i), func(ec echo.Context) error { return ec.NoContent(http.StatusOK) }, routes.Count)
	}
	for i := range middleware.MaxRoutes + 10 {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, fmt.Sprintf("/r%d", i), nil))
	}
	got := routes.Routes()
	require.LessOrEqual(t, len(got), middleware.MaxRoutes+1)
	var other middleware.RouteCount
	for _, r := range got {
		if r.Route == middleware.OtherRoute {
			other = r
		}
	}
	require.EqualValues(t, 10, other.Bypass)
}

// BenchmarkHitCounted is BenchmarkHit's gzip passthrough hit with and
// without RouteStats in front: the cost of per-route counting.
func BenchmarkHitCounted(b *testing.B) {
	for _, counted := range []bool{false, true} {
		b.Run(fmt.Sprintf("counted=%v", counted), func(b *testing.B) {
			c, err := aside.New(aside.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = c.Close() })
			e := echo.New()
			mw := []echo.MiddlewareFunc{middleware.CacheWithConfig(middleware.CacheConfig{Cache: c})}
			if counted {
				var routes middleware.RouteStats
				mw = append([]echo.MiddlewareFunc{routes.Count}, mw...)
			}
			e.GET("/products", func(c echo.Context) error { return c.JSONBlob(http.StatusOK, body2K) }, mw...)
			e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "http://shop.test/products", nil))
			b.SetBytes(int64(len(body2K)))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "http://shop.test/products", nil)
				req.Header.Set("Accept-Encoding", "gzip")
				w := &discard{h: make(http.Header)}
				for pb.Next() {
					w.reset()
					e.ServeHTTP(w, req)
				}
			})
		})
	}
}
