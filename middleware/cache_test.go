package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
)

const productsJSON = `[{"id":1,"name":"kettle"},{"id":2,"name":"teapot"}]`

func TestARepeatedGETIsServedFromTheCache(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{TTL: time.Minute})
	a.route("/products", jsonHandler(productsJSON))

	first := a.get("/products")
	require.Equal(t, http.StatusOK, first.Code)
	require.Equal(t, productsJSON, first.Body.String())
	require.True(t, strings.HasPrefix(cacheStatus(first), "aside; fwd=miss; fwd-status=200; stored; ttl="), cacheStatus(first))
	requireTTL(t, first, 59, 60)

	second := a.get("/products")
	require.Equal(t, http.StatusOK, second.Code)
	require.Equal(t, productsJSON, second.Body.String())
	requireHit(t, second)
	require.Equal(t, "0", second.Header().Get("Age"))
	require.Equal(t, first.Header().Get("Etag"), second.Header().Get("Etag"))
	require.Equal(t, "application/json", second.Header().Get("Content-Type"))
	require.EqualValues(t, 1, a.runs.Load())
	require.NotContains(t, cacheStatus(second), "products", "Cache-Status must not reveal the key")
}

func TestAgeGrowsOnHits(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{TTL: time.Minute})
	a.route("/p", jsonHandler(`{}`))
	before := time.Now()
	a.get("/p")
	time.Sleep(1100 * time.Millisecond)
	rec := a.get("/p")
	requireHit(t, rec)
	age := requireAgeSince(t, rec, before, 1)
	requireTTL(t, rec, 59-age, 60-age)
}

// requireAgeSince checks that rec's Age is at least least and at most the
// whole seconds since before (taken before the request that stored it), so
// that a slow machine does not fail the check; it returns the Age.
func requireAgeSince(t testing.TB, rec *httptest.ResponseRecorder, before time.Time, least int) int {
	t.Helper()
	age, err := strconv.Atoi(rec.Header().Get("Age"))
	require.NoError(t, err)
	most := int(time.Since(before) / time.Second)
	require.True(t, age >= least && age <= most, "Age %d not in [%d, %d]", age, least, most)
	return age
}

func TestHEADIsAnsweredFromTheGETEntryAndAColdHEADStoresTheGET(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.e.Match([]string{http.MethodGet, http.MethodHead}, "/p", func(c echo.Context) error {
		a.runs.Add(1)
		require.Equal(t, http.MethodGet, c.Request().Method, "a HEAD miss runs the handler as the GET it stands for")
		return c.JSONBlob(http.StatusOK, []byte(productsJSON))
	})

	cold := a.do(http.MethodHead, "/p")
	require.Equal(t, http.StatusOK, cold.Code)
	require.Contains(t, cacheStatus(cold), "fwd=miss")
	require.Empty(t, cold.Body.String())
	get := a.get("/p")
	require.Equal(t, productsJSON, get.Body.String(), "the HEAD stored the whole GET response, never an empty body")
	requireHit(t, get)

	head := a.do(http.MethodHead, "/p")
	requireHit(t, head)
	require.Empty(t, head.Body.String())
	require.Equal(t, get.Header().Get("Content-Length"), head.Header().Get("Content-Length"))
	require.EqualValues(t, 1, a.runs.Load())
}

func TestUnsafeMethodsInvalidateTheTargetURIAndSameOriginLocation(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{Vary: []string{"Accept-Language"}})
	version := 1
	var mu sync.Mutex
	read := func(c echo.Context) error {
		mu.Lock()
		defer mu.Unlock()
		return c.String(http.StatusOK, c.Request().URL.Path+" v"+itoa(version))
	}
	a.route("/products", read)
	a.route("/products/7", read)
	a.e.POST("/products", func(c echo.Context) error {
		mu.Lock()
		version++
		mu.Unlock()
		c.Response().Header().Set("Location", "/products/7")
		return c.NoContent(http.StatusCreated)
	})
	a.e.PUT("/other", func(c echo.Context) error {
		c.Response().Header().Set("Location", "http://evil.test/products")
		return c.NoContent(http.StatusNoContent)
	})
	a.e.DELETE("/products", func(c echo.Context) error { return c.NoContent(http.StatusForbidden) })

	for _, lang := range []string{"en", "fr"} {
		a.get("/products", "Accept-Language", lang)
		requireHit(t, a.get("/products", "Accept-Language", lang))
	}
	a.get("/products/7")

	require.Equal(t, http.StatusForbidden, a.do(http.MethodDelete, "/products").Code)
	requireHit(t, a.get("/products", "Accept-Language", "en"))
	require.Equal(t, http.StatusNoContent, a.do(http.MethodPut, "/other").Code)
	requireHit(t, a.get("/products", "Accept-Language", "en"))

	post := a.do(http.MethodPost, "/products")
	require.Equal(t, http.StatusCreated, post.Code)
	require.Equal(t, "aside; fwd=method", cacheStatus(post))
	for _, lang := range []string{"en", "fr"} {
		rec := a.get("/products", "Accept-Language", lang)
		requireNotHit(t, rec)
		require.Equal(t, "/products v2", rec.Body.String())
	}
	rec := a.get("/products/7")
	requireNotHit(t, rec)
	require.Equal(t, "/products/7 v2", rec.Body.String())
}

func TestResponsesThatMustNotBeStored(t *testing.T) {
	tests := []struct {
		name    string
		cfg     middleware.CacheConfig
		handler echo.HandlerFunc
		hdr     []string
	}{
		{"response no-store", middleware.CacheConfig{}, withHeader("Cache-Control", "no-store"), nil},
		{"response private", middleware.CacheConfig{}, withHeader("Cache-Control", "private, max-age=60"), nil},
		{"response no-cache", middleware.CacheConfig{}, withHeader("Cache-Control", "no-cache"), nil},
		{"response max-age=0", middleware.CacheConfig{}, withHeader("Cache-Control", "max-age=0"), nil},
		{"Vary: *", middleware.CacheConfig{}, withHeader("Vary", "*"), nil},
		{"Set-Cookie", middleware.CacheConfig{}, withHeader("Set-Cookie", "sid=1"), nil},
		{"a status outside the set", middleware.CacheConfig{}, func(c echo.Context) error { return c.String(http.StatusCreated, "made") }, nil},
		{"a 400 caused by an odd header", middleware.CacheConfig{}, func(c echo.Context) error {
			if c.Request().Header.Get("X-Odd") != "" {
				return c.String(http.StatusBadRequest, "odd")
			}
			return c.String(http.StatusOK, "fine")
		}, []string{"X-Odd", "1"}},
		{"a request saying no-store", middleware.CacheConfig{}, jsonHandler(`{}`), []string{"Cache-Control", "no-store"}},
		{"Authorization without public", middleware.CacheConfig{Public: true}, jsonHandler(`{}`), []string{"Authorization", "Bearer a"}},
		{"a body over the limit", middleware.CacheConfig{MaxBodySize: 10}, jsonHandler(productsJSON), nil},
		{"an unknown content coding", middleware.CacheConfig{}, withHeader("Content-Encoding", "br"), nil},
		{"a handler error that is not an HTTP error", middleware.CacheConfig{}, func(c echo.Context) error {
			_ = c.String(http.StatusOK, "half")
			return context.Canceled
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, tt.cfg)
			a.route("/p", tt.handler)
			first := a.get("/p", tt.hdr...)
			require.NotContains(t, cacheStatus(first), "stored")
			second := a.get("/p", tt.hdr...)
			requireNotHit(t, second)
			require.EqualValues(t, 2, a.runs.Load())
			if tt.hdr == nil {
				return
			}
			clean := a.get("/p")
			requireNotHit(t, clean)
		})
	}
}

func withHeader(k, v string) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set(k, v)
		return c.String(http.StatusOK, "body")
	}
}

func TestTheClientOfAnUnstorableResponseGetsAllOfIt(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/login", func(c echo.Context) error {
		c.SetCookie(&http.Cookie{Name: "sid", Value: "secret"})
		return c.String(http.StatusOK, "welcome")
	})
	rec := a.get("/login")
	require.Equal(t, "welcome", rec.Body.String())
	require.Contains(t, rec.Header().Get("Set-Cookie"), "sid=secret")
	require.Equal(t, "aside; fwd=miss; fwd-status=200", cacheStatus(rec))
}

func TestRequestsWithCookieOrAuthorizationBypassTheCacheByDefault(t *testing.T) {
	for _, hdr := range [][]string{{"Cookie", "sid=1"}, {"Authorization", "Bearer t"}} {
		t.Run(hdr[0], func(t *testing.T) {
			a := newApp(t, middleware.CacheConfig{})
			a.route("/account", func(c echo.Context) error { return c.String(http.StatusOK, "personal") })
			rec := a.get("/account", hdr...)
			require.Equal(t, "aside; fwd=bypass; detail="+strings.ToLower(hdr[0]), cacheStatus(rec))
			anon := a.get("/account")
			requireNotHit(t, anon)
			requireHit(t, a.get("/account"))
			requireNotHit(t, a.get("/account", hdr...))
		})
	}
}

func TestPublicRoutesIgnoreCookiesAndStorePublicAuthorizedResponses(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{Public: true})
	a.route("/catalog", jsonHandler(productsJSON))
	a.route("/shared", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=60")
		return c.String(http.StatusOK, "shared")
	})
	a.get("/catalog", "Cookie", "sid=1")
	requireHit(t, a.get("/catalog", "Cookie", "sid=2"))
	requireHit(t, a.get("/catalog", "Authorization", "Bearer x")) // a stored response may answer an authorized request

	first := a.get("/shared", "Authorization", "Bearer a")
	require.Contains(t, cacheStatus(first), "stored")
	requireHit(t, a.get("/shared", "Authorization", "Bearer b"))
}

func TestAKeyFunctionKeysEachUserApart(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{KeyFunc: func(c echo.Context) (string, error) {
		ck, err := c.Cookie("user")
		if err != nil {
			return "", nil
		}
		return ck.Value, nil
	}})
	a.route("/me", func(c echo.Context) error {
		ck, _ := c.Cookie("user")
		return c.String(http.StatusOK, "hello "+ck.Value)
	})
	require.Equal(t, "hello ada", a.get("/me", "Cookie", "user=ada").Body.String())
	bob := a.get("/me", "Cookie", "user=bob")
	requireNotHit(t, bob)
	require.Equal(t, "hello bob", bob.Body.String())
	ada := a.get("/me", "Cookie", "user=ada")
	requireHit(t, ada)
	require.Equal(t, "hello ada", ada.Body.String())
}

func TestFreshnessPrefersSMaxAgeThenMaxAgeThenTheTTL(t *testing.T) {
	tests := []struct {
		name, cc string
		want     int
		ignore   bool
	}{
		{"s-maxage wins", "max-age=100, s-maxage=200", 200, false},
		{"max-age next", "max-age=100", 100, false},
		{"the TTL without either", "", 30, false},
		{"the TTL when origin lifetimes are ignored", "s-maxage=200", 30, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, middleware.CacheConfig{TTL: 30 * time.Second, IgnoreOriginLifetime: tt.ignore})
			a.route("/p", withHeader("Cache-Control", tt.cc))
			requireTTL(t, a.get("/p"), tt.want-1, tt.want)
			hit := a.get("/p")
			requireHit(t, hit)
			requireTTL(t, hit, tt.want-1, tt.want)
		})
	}
}

func TestExpiredEntriesAreMisses(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/p", withHeader("Cache-Control", "max-age=1"))
	a.get("/p")
	requireHit(t, a.get("/p"))
	time.Sleep(1100 * time.Millisecond)
	requireNotHit(t, a.get("/p"))
}

func TestIfNoneMatchGets304(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/p", jsonHandler(productsJSON))
	etag := a.get("/p").Header().Get("Etag")
	require.True(t, strings.HasPrefix(etag, `W/"`), "generated ETag %q", etag)

	rec := a.get("/p", "If-None-Match", etag)
	require.Equal(t, http.StatusNotModified, rec.Code)
	require.Empty(t, rec.Body.String())
	require.Equal(t, etag, rec.Header().Get("Etag"))
	require.Empty(t, rec.Header().Get("Content-Type"))

	require.Equal(t, http.StatusOK, a.get("/p", "If-None-Match", `"other"`).Code)
	require.Equal(t, http.StatusNotModified, a.get("/p", "If-None-Match", `"x", `+strings.TrimPrefix(etag, "W/")).Code)
}

func TestTheHandlersOwnETagIsKept(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/p", withHeader("ETag", `"v7"`))
	a.get("/p")
	rec := a.get("/p", "If-None-Match", `"v7"`)
	require.Equal(t, http.StatusNotModified, rec.Code)
}

func TestVariantsAreKeyedByTheNominatedHeaders(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{Vary: []string{"accept-language"}})
	a.route("/hello", func(c echo.Context) error {
		c.Response().Header().Set("Vary", "Accept-Language")
		if strings.HasPrefix(c.Request().Header.Get("Accept-Language"), "fr") {
			return c.String(http.StatusOK, "bonjour")
		}
		return c.String(http.StatusOK, "hello")
	})
	require.Equal(t, "bonjour", a.get("/hello", "Accept-Language", "fr").Body.String())
	en := a.get("/hello", "Accept-Language", "en")
	requireNotHit(t, en)
	require.Equal(t, "hello", en.Body.String())
	fr := a.get("/hello", "Accept-Language", "fr")
	requireHit(t, fr)
	require.Equal(t, "bonjour", fr.Body.String())
	require.Equal(t, "Accept-Language", fr.Header().Get("Vary"))
}

func TestStoredBodiesAreCompressedAndNegotiated(t *testing.T) {
	big := `{"items":"` + strings.Repeat("kettle teapot ", 200) + `"}`
	for _, alg := range []string{"", "gzip", "zstd"} {
		t.Run("compression "+alg, func(t *testing.T) {
			a := newApp(t, middleware.CacheConfig{Compression: alg})
			a.route("/big", jsonHandler(big))
			a.route("/small", jsonHandler(`{"a":1}`))
			name := alg
			if name == "" {
				name = "gzip"
			}
			miss := a.get("/big", "Accept-Encoding", name)
			require.Equal(t, name, miss.Header().Get("Content-Encoding"))
			hit := a.get("/big", "Accept-Encoding", "br, "+name)
			requireHit(t, hit)
			require.Equal(t, name, hit.Header().Get("Content-Encoding"))
			require.Contains(t, hit.Header().Get("Vary"), "Accept-Encoding")
			require.Less(t, hit.Body.Len(), len(big))
			require.Equal(t, itoa(hit.Body.Len()), hit.Header().Get("Content-Length"))
			if name == "gzip" {
				require.Equal(t, big, gunzip(t, hit.Body.Bytes()))
			}

			for _, ae := range []string{"", "identity", name + ";q=0", "br"} {
				plain := a.get("/big", "Accept-Encoding", ae)
				requireHit(t, plain)
				require.Empty(t, plain.Header().Get("Content-Encoding"), "Accept-Encoding %q", ae)
				require.Equal(t, big, plain.Body.String(), "Accept-Encoding %q", ae)
				require.Equal(t, itoa(len(big)), plain.Header().Get("Content-Length"))
			}

			a.get("/small", "Accept-Encoding", name)
			small := a.get("/small", "Accept-Encoding", name)
			requireHit(t, small)
			require.Empty(t, small.Header().Get("Content-Encoding"), "small bodies are stored as they are")
		})
	}
}

func TestNoCompressionStoresBodiesAsTheyAre(t *testing.T) {
	big := strings.Repeat("a", 5000)
	a := newApp(t, middleware.CacheConfig{Compression: "none"})
	a.route("/big", func(c echo.Context) error { return c.String(http.StatusOK, big) })
	a.get("/big", "Accept-Encoding", "gzip")
	rec := a.get("/big", "Accept-Encoding", "gzip")
	requireHit(t, rec)
	require.Empty(t, rec.Header().Get("Content-Encoding"))
	require.Equal(t, big, rec.Body.String())
}

func TestABodyTheHandlerEncodedIsNeverEncodedTwice(t *testing.T) {
	big := strings.Repeat("kettle ", 500)
	e := echo.New()
	c := newCache(t, aside.Options{})
	runs := 0
	// A gzip middleware inside the cache: the handler's body arrives
	// gzip-encoded.
	e.GET("/p", func(c echo.Context) error {
		runs++
		return c.String(http.StatusOK, big)
	}, middleware.Cache(c), gzipMiddleware)

	get := func(ae string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/p", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	miss := get("gzip")
	require.Equal(t, "gzip", miss.Header().Get("Content-Encoding"))
	require.Equal(t, big, gunzip(t, miss.Body.Bytes()))
	hit := get("gzip")
	requireHit(t, hit)
	require.Equal(t, big, gunzip(t, hit.Body.Bytes()))
	plain := get("identity")
	requireHit(t, plain)
	require.Empty(t, plain.Header().Get("Content-Encoding"))
	require.Equal(t, big, plain.Body.String())
	require.Equal(t, 1, runs)
}

func TestAnEncoderOutsideTheCacheGetsIdentityBodies(t *testing.T) {
	big := strings.Repeat("kettle ", 500)
	e := echo.New()
	e.Use(gzipMiddleware)
	e.Use(middleware.Cache(newCache(t, aside.Options{})))
	e.GET("/p", func(c echo.Context) error { return c.String(http.StatusOK, big) })
	for range 2 {
		req := httptest.NewRequest(http.MethodGet, "/p", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		require.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
		require.Equal(t, big, gunzip(t, rec.Body.Bytes()), "gzip applied once")
	}
}

func TestTagsFromConfigAndHandlersInvalidateEntries(t *testing.T) {
	for _, tag := range []string{"product:1", "products", "catalog"} {
		t.Run(tag, func(t *testing.T) {
			a := newApp(t, middleware.CacheConfig{Tags: []string{"catalog"}, Routes: map[string]middleware.Route{
				"/products/:id": {Tags: []string{"products"}},
			}})
			a.route("/products/:id", func(c echo.Context) error {
				if err := middleware.Tag(c, "product:"+c.Param("id")); err != nil {
					return err
				}
				return c.String(http.StatusOK, "product "+c.Param("id"))
			})
			a.get("/products/1")
			a.get("/products/2")
			requireHit(t, a.get("/products/1"))
			require.NoError(t, a.cache.InvalidateTags(context.Background(), tag))
			requireNotHit(t, a.get("/products/1"))
			if tag == "product:1" {
				requireHit(t, a.get("/products/2"))
			} else {
				requireNotHit(t, a.get("/products/2"))
			}
		})
	}
	require.NoError(t, middleware.Tag(echo.New().NewContext(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder()), "x"),
		"Tag outside a cached response does nothing")
}

func TestRoutesCanBeDisabledOrGivenTheirOwnTTL(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{TTL: time.Minute, Routes: map[string]middleware.Route{
		"/live":  {Disable: true},
		"/short": {TTL: 10 * time.Second},
	}})
	a.route("/live", jsonHandler(`{}`))
	a.route("/short", jsonHandler(`{}`))
	a.get("/live")
	require.Equal(t, "aside; fwd=bypass; detail=route", cacheStatus(a.get("/live")))
	requireTTL(t, a.get("/short"), 9, 10)
}

func TestSkipperSkips(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{Skipper: func(c echo.Context) bool { return c.Path() == "/skip" }})
	a.route("/skip", jsonHandler(`{}`))
	a.get("/skip")
	rec := a.get("/skip")
	require.Empty(t, cacheStatus(rec))
	require.EqualValues(t, 2, a.runs.Load())
}

func TestCacheWithConfigPanicsOnABadConfig(t *testing.T) {
	c := newCache(t, aside.Options{})
	for name, cfg := range map[string]middleware.CacheConfig{
		"no cache":          {},
		"negative TTL":      {Cache: c, TTL: -1},
		"s2 compression":    {Cache: c, Compression: "s2"},
		"a bad level":       {Cache: c, CompressionLevel: 99},
		"a bad status code": {Cache: c, StatusCodes: []int{42}},
	} {
		require.Panics(t, func() { middleware.CacheWithConfig(cfg) }, name)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// gzipMiddleware does what echo/v4/middleware.Gzip does (that package
// cannot be imported here: its rate limiter needs golang.org/x/time, which
// is not in go.sum): announce Vary: Accept-Encoding, and gzip the body for
// clients that accept it.
func gzipMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		res.Header().Add("Vary", "Accept-Encoding")
		if !strings.Contains(c.Request().Header.Get("Accept-Encoding"), "gzip") {
			return next(c)
		}
		gw := &gzipWriter{ResponseWriter: res.Writer, zw: gzip.NewWriter(res.Writer)}
		res.Writer = gw
		defer func() {
			res.Writer = gw.ResponseWriter
			if gw.wrote {
				_ = gw.zw.Close()
			}
		}()
		return next(c)
	}
}

type gzipWriter struct {
	http.ResponseWriter
	zw    *gzip.Writer
	wrote bool
}

func (w *gzipWriter) WriteHeader(code int) {
	w.Header().Del("Content-Length")
	w.Header().Set("Content-Encoding", "gzip")
	w.ResponseWriter.WriteHeader(code)
}

func (w *gzipWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.zw.Write(b)
}

// requireTTL checks the ttl parameter of Cache-Status.
func requireTTL(t testing.TB, rec *httptest.ResponseRecorder, lo, hi int) {
	t.Helper()
	cs := cacheStatus(rec)
	_, after, ok := strings.Cut(cs, "ttl=")
	require.True(t, ok, "no ttl in %q", cs)
	n, err := strconv.Atoi(strings.SplitN(after, ";", 2)[0])
	require.NoError(t, err)
	require.True(t, n >= lo && n <= hi, "ttl %d not in [%d, %d] (%q)", n, lo, hi, cs)
}
