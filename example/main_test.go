package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/metrics"
	"github.com/aside-go/aside/provider/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestTheExampleAppOverLoopback starts the app on 127.0.0.1:0 and walks
// through what the README shows.
func TestTheExampleAppOverLoopback(t *testing.T) {
	mp, err := memory.New(memory.Options{})
	require.NoError(t, err)
	c, err := aside.New(aside.Options{Provider: metrics.Instrument(mp, metrics.Options{Cache: cacheName}), Breaker: aside.Breaker{Disabled: true}})
	require.NoError(t, err)
	defer c.Close()
	s := newShop()
	s.delay = 5 * time.Millisecond
	e, err := newServer(c, s, "t0ken")
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e.Listener = ln
	done := make(chan error, 1)
	go func() { done <- e.Start("") }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, e.Shutdown(ctx))
		require.True(t, errors.Is(<-done, http.ErrServerClosed))
	}()
	base := "http://" + ln.Addr().String()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	do := func(method, path, body string, hdr ...string) (*http.Response, string) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := cl.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(b)
	}
	hit := func(res *http.Response) bool {
		return strings.HasPrefix(res.Header.Get("Cache-Status"), "aside; hit")
	}

	res, body := do("GET", "/products", "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.False(t, hit(res))
	require.Contains(t, body, "Kettle")
	res, _ = do("GET", "/products?utm_source=mail", "")
	require.True(t, hit(res), "utm_source is ignored in the key")

	res, _ = do("GET", "/products/2", "")
	require.False(t, hit(res))
	res, _ = do("GET", "/products/2", "")
	require.True(t, hit(res))
	res, _ = do("GET", "/products/99", "")
	require.Equal(t, http.StatusNotFound, res.StatusCode)
	res, _ = do("GET", "/products/99", "")
	require.True(t, hit(res), "404s are cached")

	res, _ = do("PUT", "/products/2", `{"name":"Big Teapot","price":30}`, "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, body = do("GET", "/products/2", "")
	require.False(t, hit(res))
	require.Contains(t, body, "Big Teapot")
	res, body = do("GET", "/products", "")
	require.False(t, hit(res), "the list carries the products tag")
	require.Contains(t, body, "Big Teapot")

	_, body = do("GET", "/users/7/summary", "")
	require.Contains(t, body, `"user_id":7`)

	res, body = do("GET", "/_cache/stats", "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	var st struct{ Hits, Misses int64 }
	require.NoError(t, json.Unmarshal([]byte(body), &st))
	require.Positive(t, st.Hits)
	res, body = do("GET", "/_cache/health", "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	var h struct {
		Status  string
		Reasons []string
	}
	require.NoError(t, json.Unmarshal([]byte(body), &h))
	require.Equal(t, "ok", h.Status, h.Reasons)

	res, body = do("GET", "/_cache/", "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "<title>aside cache</title>")
	require.NotEmpty(t, res.Header.Get("Content-Security-Policy"))

	res, body = do("GET", "/metrics", "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, `aside_hits_total{cache="shop"}`)
	require.Contains(t, body, `aside_route_requests_total{cache="shop",result="hit",route="/products/:id"} 2`)
	require.Contains(t, body, `aside_provider_call_duration_seconds_count{cache="shop",op="get_multi",provider="memory"}`)
	require.NotContains(t, body, "utm_source", "a URL never reaches a label")

	res, _ = do("POST", "/_cache/invalidate", `{"tags":["products"]}`)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res, _ = do("POST", "/_cache/invalidate", `{"tags":["products"]}`, "Authorization", "Bearer t0ken", "Content-Type", "application/json")
	require.Equal(t, http.StatusOK, res.StatusCode)
}
