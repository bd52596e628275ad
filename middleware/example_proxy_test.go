package middleware_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
)

// A caching reverse proxy: Echo in front of an origin that speaks HTTP
// caching, with the middleware as an RFC 9111 shared cache.
func ExampleCacheWithConfig_reverseProxy() {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Etag", `"v1"`)
		io.WriteString(w, "hello from the origin")
	}))
	defer origin.Close()
	upstream, _ := url.Parse(origin.URL)

	c, _ := aside.New(aside.Options{})
	defer c.Close()
	e := echo.New()
	e.Use(middleware.CacheWithConfig(middleware.CacheConfig{Cache: c, ReverseProxy: true}))
	e.Any("/*", echo.WrapHandler(httputil.NewSingleHostReverseProxy(upstream)))

	for range 2 {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/greeting", nil))
		status, _, _ := strings.Cut(rec.Header().Get("Cache-Status"), "; ttl=")
		fmt.Println(rec.Code, rec.Body.String(), "|", status)
	}
	// Output:
	// 200 hello from the origin | aside; fwd=miss; fwd-status=200; stored
	// 200 hello from the origin | aside; hit
}
