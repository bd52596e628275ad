package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/provider"
)

func TestReflectedUnkeyedHeadersNeverReachOtherClients(t *testing.T) {
	for _, h := range []string{"X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded", "X-Forwarded-Scheme"} {
		t.Run(h, func(t *testing.T) {
			a := newApp(t, middleware.CacheConfig{})
			a.route("/page", func(c echo.Context) error {
				// A handler that builds links from forwarded headers (c.Scheme()
				// reads X-Forwarded-Proto) reflects them.
				return c.HTML(http.StatusOK, `<a href="`+c.Scheme()+"://"+c.Request().Header.Get(h)+`/next">`)
			})
			evil := a.get("/page", h, "evil.test")
			require.Contains(t, evil.Body.String(), "evil.test")
			clean := a.get("/page")
			requireNotHit(t, clean)
			require.NotContains(t, clean.Body.String(), "evil.test")
			requireHit(t, a.get("/page"))
			requireHit(t, a.get("/page", h, "evil.test")) // only the same header value shares the variant
		})
	}
}

func TestRoutingRewriteHeadersBypassTheCache(t *testing.T) {
	for _, h := range []string{"X-Original-URL", "X-Rewrite-URL", "X-HTTP-Method-Override"} {
		t.Run(h, func(t *testing.T) {
			a := newApp(t, middleware.CacheConfig{})
			a.route("/p", func(c echo.Context) error {
				return c.String(http.StatusOK, "saw "+c.Request().Header.Get(h))
			})
			rec := a.get("/p", h, "/admin")
			require.Equal(t, "aside; fwd=bypass; detail=header", cacheStatus(rec))
			clean := a.get("/p")
			require.Equal(t, "saw ", clean.Body.String())
		})
	}
}

func TestAGETWithABodyIsNotCached(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/search", func(c echo.Context) error {
		var q struct{ Q string }
		_ = c.Bind(&q)
		return c.String(http.StatusOK, "results for "+q.Q)
	})
	req := httptest.NewRequest(http.MethodGet, "/search", strings.NewReader(`{"Q":"<script>"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	require.Equal(t, "aside; fwd=bypass; detail=body", cacheStatus(rec))
	clean := a.get("/search")
	require.Equal(t, "results for ", clean.Body.String())
	requireNotHit(t, clean)
}

func TestAPersonalResponseIsNeverStoredBecauseOfAStaticLookingSuffix(t *testing.T) {
	for _, path := range []string{"/account/x.css", "/account;x.css", "/account%2fx.css", "/account/..%2fx.css"} {
		t.Run(path, func(t *testing.T) {
			a := newApp(t, middleware.CacheConfig{})
			handler := func(c echo.Context) error {
				if ck, err := c.Cookie("sid"); err == nil {
					return c.String(http.StatusOK, "balance of "+ck.Value)
				}
				return c.String(http.StatusOK, "please log in")
			}
			a.route("/account*", handler)
			a.route("/account/*", handler)
			victim := a.get(path, "Cookie", "sid=victim")
			require.Equal(t, "balance of victim", victim.Body.String())
			attacker := a.get(path)
			require.Equal(t, "please log in", attacker.Body.String())
		})
	}
}

func TestAPrivateResponseOnAPublicRouteIsNotStoredWhateverItsSuffix(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{Public: true})
	a.route("/account/*", func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "private")
		ck, _ := c.Cookie("sid")
		return c.String(http.StatusOK, "balance of "+ck.Value)
	})
	require.Equal(t, "balance of victim", a.get("/account/x.css", "Cookie", "sid=victim").Body.String())
	require.Equal(t, "balance of attacker", a.get("/account/x.css", "Cookie", "sid=attacker").Body.String())
}

func TestConcurrentMissesRunTheHandlerOnce(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	release := make(chan struct{})
	a.route("/slow", func(c echo.Context) error {
		<-release
		return c.JSONBlob(http.StatusOK, []byte(productsJSON))
	})
	const n = 20
	var wg sync.WaitGroup
	recs := make([]*httptest.ResponseRecorder, n)
	for i := range n {
		wg.Go(func() { recs[i] = a.get("/slow") })
	}
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	require.EqualValues(t, 1, a.runs.Load())
	collapsed := 0
	for _, rec := range recs {
		require.Equal(t, productsJSON, rec.Body.String())
		if strings.Contains(cacheStatus(rec), "collapsed") {
			collapsed++
		}
	}
	require.Positive(t, collapsed)
}

func TestAnUnshareableResponseIsNeverFannedOut(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{Public: true})
	var mu sync.Mutex
	arrived := 0
	release := make(chan struct{})
	a.route("/me", func(c echo.Context) error {
		mu.Lock()
		arrived++
		first := arrived == 1
		mu.Unlock()
		if first {
			<-release
		}
		// Not storable: private to the requester.
		c.Response().Header().Set("Cache-Control", "private")
		return c.String(http.StatusOK, "for "+c.Request().Header.Get("Authorization"))
	})
	var wg sync.WaitGroup
	users := []string{"Bearer a", "Bearer b", "Bearer c", "Bearer d"}
	recs := make([]*httptest.ResponseRecorder, len(users))
	for i, u := range users {
		wg.Go(func() { recs[i] = a.get("/me", "Authorization", u) })
		if i == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	for i, u := range users {
		require.Equal(t, "for "+u, recs[i].Body.String())
	}
}

func TestALeaderWhoseClientLeavesDoesNotFailTheOthers(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	started := make(chan struct{})
	release := make(chan struct{})
	var handlerCtxErr atomic.Value
	a.route("/slow", func(c echo.Context) error {
		close(started)
		<-release
		handlerCtxErr.Store(errString(c.Request().Context().Err()))
		return c.String(http.StatusOK, "done")
	})

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderDone := make(chan *httptest.ResponseRecorder)
	go func() {
		req := httptest.NewRequest(http.MethodGet, "/slow", nil).WithContext(leaderCtx)
		rec := httptest.NewRecorder()
		a.e.ServeHTTP(rec, req)
		leaderDone <- rec
	}()
	<-started
	waiterDone := make(chan *httptest.ResponseRecorder)
	go func() { waiterDone <- a.get("/slow") }()
	time.Sleep(50 * time.Millisecond)
	cancelLeader()
	select {
	case <-leaderDone:
		t.Fatal("the leader returned while its handler still used its echo.Context")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-leaderDone
	waiter := <-waiterDone
	require.Equal(t, "done", waiter.Body.String())
	require.Equal(t, "", handlerCtxErr.Load(), "the handler's context is the load's, not the leaving client's")
	require.EqualValues(t, 1, a.runs.Load())
	requireHit(t, a.get("/slow"))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestStreamedResponsesPassThroughAndAreNeverStoredOrShared(t *testing.T) {
	tests := []struct {
		name    string
		handler echo.HandlerFunc
	}{
		{"a Flush", func(c echo.Context) error {
			c.Response().WriteHeader(http.StatusOK)
			_, _ = c.Response().Write([]byte("part1 "))
			c.Response().Flush()
			_, _ = c.Response().Write([]byte("part2"))
			return nil
		}},
		{"an event stream", func(c echo.Context) error {
			c.Response().Header().Set("Content-Type", "text/event-stream")
			c.Response().WriteHeader(http.StatusOK)
			_, _ = c.Response().Write([]byte("part1 part2"))
			return nil
		}},
		{"a body over the limit", func(c echo.Context) error {
			return c.String(http.StatusOK, "part1 part2")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, middleware.CacheConfig{MaxBodySize: 8})
			a.route("/stream", tt.handler)
			rec := a.get("/stream")
			require.Equal(t, "part1 part2", rec.Body.String())
			require.Contains(t, cacheStatus(rec), "detail=")
			rec = a.get("/stream")
			require.Equal(t, "part1 part2", rec.Body.String())
			require.EqualValues(t, 2, a.runs.Load())
		})
	}
}

func TestStreamingRequestsBypassUpFront(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/events", jsonHandler(`{}`))
	require.Equal(t, "aside; fwd=bypass; detail=streaming", cacheStatus(a.get("/events", "Accept", "text/event-stream")))
	require.Equal(t, "aside; fwd=bypass; detail=upgrade", cacheStatus(a.get("/events", "Upgrade", "websocket", "Connection", "Upgrade")))
}

func TestStaleIfErrorServesTheLastResponseWhenTheHandlerFails(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{TTL: time.Second, StaleIfError: time.Minute})
	var failing atomic.Int32
	a.route("/p", func(c echo.Context) error {
		switch failing.Load() {
		case 1:
			return c.String(http.StatusServiceUnavailable, "down")
		case 2:
			return echo.NewHTTPError(http.StatusBadGateway, "upstream gone")
		}
		return c.String(http.StatusOK, "good")
	})
	require.Equal(t, "good", a.get("/p").Body.String())
	time.Sleep(1100 * time.Millisecond)
	for _, mode := range []int32{1, 2} {
		failing.Store(mode)
		rec := a.get("/p")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, "good", rec.Body.String())
		require.Contains(t, cacheStatus(rec), "detail=stale-if-error")
	}
}

func TestWithNothingStaleTheClientGetsTheHandlersRealErrorResponse(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{StaleIfError: time.Minute})
	a.route("/down", func(c echo.Context) error {
		c.Response().Header().Set("Retry-After", "7")
		return c.String(http.StatusServiceUnavailable, "maintenance until noon")
	})
	a.route("/err", func(c echo.Context) error { return echo.NewHTTPError(http.StatusBadGateway, "upstream gone") })
	rec := a.get("/down")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "maintenance until noon", rec.Body.String())
	require.Equal(t, "7", rec.Header().Get("Retry-After"))
	rec = a.get("/err")
	require.Equal(t, http.StatusBadGateway, rec.Code)
	require.Contains(t, rec.Body.String(), "upstream gone")
}

func TestStaleWhileRevalidateServesStaleAndRefreshesInTheBackground(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{TTL: time.Second, StaleWhileRevalidate: time.Minute})
	var version atomic.Int32
	a.route("/items/:id", func(c echo.Context) error {
		return c.String(http.StatusOK, c.Param("id")+" v"+itoa(int(version.Add(1))))
	})
	require.Equal(t, "7 v1", a.get("/items/7").Body.String())
	time.Sleep(1100 * time.Millisecond)
	stale := a.get("/items/7")
	require.Equal(t, "7 v1", stale.Body.String())
	requireHit(t, stale)
	require.Contains(t, cacheStatus(stale), "ttl=-")
	require.Eventually(t, func() bool {
		rec := a.get("/items/7")
		return rec.Body.String() == "7 v2" && strings.HasPrefix(cacheStatus(rec), "aside; hit")
	}, 2*time.Second, 10*time.Millisecond, "the background refresh ran the handler with the route params")
}

func TestAFailingCacheMeansTheHandlerRuns(t *testing.T) {
	tests := []struct {
		name string
		opts func() aside.Options
	}{
		{"a provider that is down", func() aside.Options { return aside.Options{Provider: failingProvider{}} }},
		{"a slow provider", func() aside.Options { return aside.Options{Provider: failingProvider{delay: 20 * time.Millisecond}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, middleware.CacheConfig{Cache: newCache(t, tt.opts())})
			a.route("/p", jsonHandler(productsJSON))
			for range 3 {
				rec := a.get("/p")
				require.Equal(t, http.StatusOK, rec.Code)
				require.Equal(t, productsJSON, rec.Body.String())
			}
		})
	}
}

func TestGarbageInTheStoreIsAMiss(t *testing.T) {
	inner := newCache(t, aside.Options{})
	c := newCache(t, aside.Options{Provider: garbageProvider{inner.Provider()}})
	a := newApp(t, middleware.CacheConfig{Cache: c})
	a.route("/p", jsonHandler(productsJSON))
	for range 3 {
		rec := a.get("/p")
		require.Equal(t, http.StatusOK, rec.Code)
		require.Equal(t, productsJSON, rec.Body.String())
	}
}

func TestAClosedCacheMeansTheHandlerRuns(t *testing.T) {
	c, err := aside.New(aside.Options{})
	require.NoError(t, err)
	a := newApp(t, middleware.CacheConfig{Cache: c})
	a.route("/p", jsonHandler(productsJSON))
	require.NoError(t, c.Close())
	rec := a.get("/p")
	require.Equal(t, productsJSON, rec.Body.String())
}

func TestAPanickingHandlerReachesRecover(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/boom", func(c echo.Context) error { panic("boom") })
	require.Panics(t, func() { a.get("/boom") })
}

// countingDown is a memory provider that, while down, fails every call
// after delay and counts it.
type countingDown struct {
	provider.Provider
	down  atomic.Bool
	calls atomic.Int64
}

func (p *countingDown) gate(ctx context.Context) error {
	if !p.down.Load() {
		return nil
	}
	p.calls.Add(1)
	return failingProvider{delay: 5 * time.Millisecond}.wait(ctx)
}

func (p *countingDown) Get(ctx context.Context, k string) ([]byte, error) {
	if err := p.gate(ctx); err != nil {
		return nil, err
	}
	return p.Provider.Get(ctx, k)
}

func (p *countingDown) GetMulti(ctx context.Context, k []string) ([][]byte, error) {
	if err := p.gate(ctx); err != nil {
		return nil, err
	}
	return p.Provider.GetMulti(ctx, k)
}

func (p *countingDown) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	if err := p.gate(ctx); err != nil {
		return err
	}
	return p.Provider.Set(ctx, k, v, ttl)
}

func (p *countingDown) Add(ctx context.Context, k string, v []byte, ttl time.Duration) ([]byte, bool, error) {
	if err := p.gate(ctx); err != nil {
		return nil, false, err
	}
	return p.Provider.Add(ctx, k, v, ttl)
}

func (p *countingDown) CompareAndSwap(ctx context.Context, k string, o, n []byte, ttl time.Duration) (bool, error) {
	if err := p.gate(ctx); err != nil {
		return false, err
	}
	return p.Provider.CompareAndSwap(ctx, k, o, n, ttl)
}

func (p *countingDown) Delete(ctx context.Context, k ...string) (int, error) {
	if err := p.gate(ctx); err != nil {
		return 0, err
	}
	return p.Provider.Delete(ctx, k...)
}

func TestARequestPaysForAtMostOneProviderFailure(t *testing.T) {
	inner := newCache(t, aside.Options{})
	p := &countingDown{Provider: inner.Provider()}
	// No breaker: every request reaches the failing store, so each one's
	// own calls are what is counted.
	c := newCache(t, aside.Options{Provider: p, Breaker: aside.Breaker{Disabled: true}})
	a := newApp(t, middleware.CacheConfig{Cache: c})
	a.route("/p/:id", func(ec echo.Context) error {
		if err := middleware.Tag(ec, "product:"+ec.Param("id")); err != nil {
			return err
		}
		return ec.JSON(http.StatusOK, map[string]string{"id": ec.Param("id")})
	})
	p.down.Store(true)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		before := p.calls.Load()
		rec := a.do(method, "/p/1")
		require.Equal(t, http.StatusOK, rec.Code, method)
		require.EqualValues(t, 1, p.calls.Load()-before, "%s: one failed read ends the cache's part of the request (a HEAD's lookup and the GET it runs share it)", method)
	}
}

func TestTheCachesStaleWindowsAreTheMiddlewaresDefault(t *testing.T) {
	c := newCache(t, aside.Options{StaleWhileRevalidate: time.Minute})
	a := newApp(t, middleware.CacheConfig{Cache: c, TTL: 50 * time.Millisecond})
	var version atomic.Int32
	a.route("/items/:id", func(ec echo.Context) error {
		return ec.String(http.StatusOK, ec.Param("id")+" v"+itoa(int(version.Add(1))))
	})
	require.Equal(t, "7 v1", a.get("/items/7").Body.String())
	time.Sleep(80 * time.Millisecond)
	stale := a.get("/items/7")
	require.Equal(t, "7 v1", stale.Body.String(), "served stale within the Cache's window")
	requireHit(t, stale)
	require.Eventually(t, func() bool { return a.get("/items/7").Body.String() == "7 v2" }, 2*time.Second, 10*time.Millisecond)
}
