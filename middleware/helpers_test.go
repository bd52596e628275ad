package middleware_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/provider"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newCache(t testing.TB, o aside.Options) *aside.Cache {
	t.Helper()
	c, err := aside.New(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// app is an Echo app with the cache middleware in front of every route and
// a counter of handler runs.
type app struct {
	e     *echo.Echo
	cache *aside.Cache
	runs  atomic.Int64
}

func newApp(t testing.TB, cfg middleware.CacheConfig) *app {
	t.Helper()
	a := &app{e: echo.New()}
	if cfg.Cache == nil {
		cfg.Cache = newCache(t, aside.Options{})
	}
	a.cache = cfg.Cache
	a.e.Use(middleware.CacheWithConfig(cfg))
	return a
}

// route adds a GET route whose handler counts its runs.
func (a *app) route(path string, h echo.HandlerFunc) {
	a.e.GET(path, func(c echo.Context) error {
		a.runs.Add(1)
		return h(c)
	})
}

func (a *app) do(method, target string, hdr ...string) *httptest.ResponseRecorder {
	var body io.Reader
	req := httptest.NewRequest(method, target, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	return rec
}

func (a *app) get(target string, hdr ...string) *httptest.ResponseRecorder {
	return a.do(http.MethodGet, target, hdr...)
}

func jsonHandler(body string) echo.HandlerFunc {
	return func(c echo.Context) error { return c.JSONBlob(http.StatusOK, []byte(body)) }
}

func cacheStatus(rec *httptest.ResponseRecorder) string { return rec.Header().Get("Cache-Status") }

func requireHit(t testing.TB, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.True(t, strings.HasPrefix(cacheStatus(rec), "aside; hit"), "Cache-Status %q is not a hit", cacheStatus(rec))
}

func requireNotHit(t testing.TB, rec *httptest.ResponseRecorder) {
	t.Helper()
	require.False(t, strings.HasPrefix(cacheStatus(rec), "aside; hit"), "Cache-Status %q is a hit", cacheStatus(rec))
}

func gunzip(t testing.TB, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return string(out)
}

// failingProvider fails every call, after delay.
type failingProvider struct{ delay time.Duration }

var errDown = errors.New("provider down")

func (p failingProvider) wait(ctx context.Context) error {
	select {
	case <-time.After(p.delay):
		return errDown
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (p failingProvider) Get(ctx context.Context, _ string) ([]byte, error) { return nil, p.wait(ctx) }
func (p failingProvider) GetMulti(ctx context.Context, _ []string) ([][]byte, error) {
	return nil, p.wait(ctx)
}
func (p failingProvider) Set(ctx context.Context, _ string, _ []byte, _ time.Duration) error {
	return p.wait(ctx)
}
func (p failingProvider) Add(ctx context.Context, _ string, _ []byte, _ time.Duration) ([]byte, bool, error) {
	return nil, false, p.wait(ctx)
}
func (p failingProvider) CompareAndSwap(ctx context.Context, _ string, _, _ []byte, _ time.Duration) (bool, error) {
	return false, p.wait(ctx)
}
func (p failingProvider) Delete(ctx context.Context, _ ...string) (int, error) {
	return 0, p.wait(ctx)
}
func (p failingProvider) Ping(ctx context.Context) error { return p.wait(ctx) }
func (p failingProvider) Close() error                   { return nil }

var _ provider.Provider = failingProvider{}

// garbageProvider wraps a provider and corrupts every value it returns
// under the middleware's keys.
type garbageProvider struct{ provider.Provider }

func (p garbageProvider) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := p.Provider.Get(ctx, key)
	return garble(key, v), err
}

func (p garbageProvider) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	vs, err := p.Provider.GetMulti(ctx, keys)
	for i := range vs {
		if i < len(keys) {
			vs[i] = garble(keys[i], vs[i])
		}
	}
	return vs, err
}

func garble(key string, v []byte) []byte {
	if v == nil || !strings.Contains(key, ":e:") {
		return v
	}
	out := bytes.Clone(v)
	for i := len(out) / 2; i < len(out); i++ {
		out[i] ^= 0x5a
	}
	return out
}
