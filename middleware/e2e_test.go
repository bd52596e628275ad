package middleware_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/middleware"
)

// server runs a over real loopback HTTP.
func (a *app) server(t *testing.T) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewServer(a.e)
	t.Cleanup(srv.Close)
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return srv, &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type reply struct {
	status int
	header http.Header
	body   string
}

func call(t *testing.T, cl *http.Client, method, url string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := cl.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return reply{res.StatusCode, res.Header, string(b)}
}

func (r reply) hit() bool { return strings.HasPrefix(r.header.Get("Cache-Status"), "aside; hit") }

func TestEndToEndOverLoopbackHTTP(t *testing.T) {
	big := `{"items":"` + strings.Repeat("kettle teapot ", 300) + `"}`
	a := newApp(t, middleware.CacheConfig{Vary: []string{"Accept-Language"}})
	var version atomic.Int32
	version.Store(1)
	a.route("/products", func(c echo.Context) error {
		return c.JSONBlob(http.StatusOK, []byte(`{"v":`+itoa(int(version.Load()))+`}`))
	})
	a.route("/big", jsonHandler(big))
	a.route("/page", func(c echo.Context) error {
		return c.HTML(http.StatusOK, "host="+c.Request().Header.Get("X-Forwarded-Host"))
	})
	a.route("/account", func(c echo.Context) error {
		ck, err := c.Cookie("sid")
		if err != nil {
			return c.String(http.StatusOK, "anonymous")
		}
		return c.String(http.StatusOK, "user "+ck.Value)
	})
	a.e.POST("/products", func(c echo.Context) error {
		version.Add(1)
		return c.NoContent(http.StatusNoContent)
	})
	srv, cl := a.server(t)
	u := srv.URL

	t.Run("a repeat GET is a hit with Age and the same ETag", func(t *testing.T) {
		miss := call(t, cl, "GET", u+"/products")
		require.Contains(t, miss.header.Get("Cache-Status"), "fwd=miss")
		hit := call(t, cl, "GET", u+"/products")
		require.True(t, hit.hit(), hit.header.Get("Cache-Status"))
		require.NotEmpty(t, hit.header.Get("Age"))
		require.Equal(t, miss.header.Get("Etag"), hit.header.Get("Etag"))
		require.Equal(t, miss.body, hit.body)
	})
	t.Run("If-None-Match gets 304", func(t *testing.T) {
		etag := call(t, cl, "GET", u+"/products").header.Get("Etag")
		r := call(t, cl, "GET", u+"/products", "If-None-Match", etag)
		require.Equal(t, http.StatusNotModified, r.status)
	})
	t.Run("HEAD is answered from the GET entry", func(t *testing.T) {
		r := call(t, cl, "HEAD", u+"/products")
		require.True(t, r.hit())
		require.Empty(t, r.body)
	})
	t.Run("gzip clients get the stored bytes, identity clients a readable body", func(t *testing.T) {
		call(t, cl, "GET", u+"/big")
		gz := call(t, cl, "GET", u+"/big", "Accept-Encoding", "gzip")
		require.True(t, gz.hit())
		require.Equal(t, "gzip", gz.header.Get("Content-Encoding"))
		require.Equal(t, big, gunzip(t, []byte(gz.body)))
		plain := call(t, cl, "GET", u+"/big", "Accept-Encoding", "identity")
		require.Empty(t, plain.header.Get("Content-Encoding"))
		require.Equal(t, big, plain.body)
		// Go's own client, with its transparent gzip, reads the same body.
		res, err := http.Get(u + "/big")
		require.NoError(t, err)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, big, string(b))
	})
	t.Run("a POST invalidates the target URI", func(t *testing.T) {
		call(t, cl, "GET", u+"/products")
		require.True(t, call(t, cl, "GET", u+"/products").hit())
		require.Equal(t, http.StatusNoContent, call(t, cl, "POST", u+"/products").status)
		r := call(t, cl, "GET", u+"/products")
		require.False(t, r.hit())
		require.Equal(t, `{"v":2}`, r.body)
	})
	t.Run("a forwarded host never reaches clean requests", func(t *testing.T) {
		call(t, cl, "GET", u+"/page", "X-Forwarded-Host", "evil.test")
		r := call(t, cl, "GET", u+"/page")
		require.Equal(t, "host=", r.body)
	})
	t.Run("cookies bypass; a personal page never reaches others", func(t *testing.T) {
		r := call(t, cl, "GET", u+"/account/x.css", "Cookie", "sid=victim")
		require.Equal(t, http.StatusNotFound, r.status) // no such route; nothing stored under it from the cookie request
		r = call(t, cl, "GET", u+"/account", "Cookie", "sid=victim")
		require.Equal(t, "user victim", r.body)
		require.Equal(t, "anonymous", call(t, cl, "GET", u+"/account").body)
	})
	t.Run("variants by Accept-Language", func(t *testing.T) {
		call(t, cl, "GET", u+"/products", "Accept-Language", "fr")
		require.True(t, call(t, cl, "GET", u+"/products", "Accept-Language", "fr").hit())
		require.False(t, call(t, cl, "GET", u+"/products", "Accept-Language", "de").hit())
	})
}

func TestEndToEndStreamingPassesThroughUnbuffered(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	next := make(chan struct{})
	a.route("/events", func(c echo.Context) error {
		c.Response().Header().Set("Content-Type", "text/event-stream")
		c.Response().WriteHeader(http.StatusOK)
		_, _ = c.Response().Write([]byte("data: one\n\n"))
		c.Response().Flush()
		<-next
		_, _ = c.Response().Write([]byte("data: two\n\n"))
		return nil
	})
	srv, cl := a.server(t)
	res, err := cl.Get(srv.URL + "/events")
	require.NoError(t, err)
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err, "the first event arrives before the handler returns")
	require.Equal(t, "data: one\n", line)
	close(next)
	rest, err := io.ReadAll(br)
	require.NoError(t, err)
	require.Equal(t, "\ndata: two\n\n", string(rest))
	require.Contains(t, res.Header.Get("Cache-Status"), "detail=streamed")
}

func TestEndToEndACollapsedLeaderDisconnecting(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	started := make(chan struct{}, 1)
	release := make(chan struct{})
	a.route("/slow", func(c echo.Context) error {
		started <- struct{}{}
		<-release
		return c.String(http.StatusOK, "done")
	})
	srv, cl := a.server(t)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/slow", nil)
		if res, err := cl.Do(req); err == nil {
			res.Body.Close()
		}
	})
	<-started
	results := make([]reply, 5)
	for i := range results {
		wg.Go(func() { results[i] = call(t, cl, "GET", srv.URL+"/slow") })
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	for _, r := range results {
		require.Equal(t, "done", r.body)
	}
	require.EqualValues(t, 1, a.runs.Load())
}
