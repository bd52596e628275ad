package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
)

// chromium returns the path of a Chromium to drive: $CHROMIUM, else
// /usr/bin/chromium, else chromium on PATH. Without one the test skips,
// except in CI, where it fails: .ci/run installs Debian's chromium.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	msg := "no Chromium: install Debian's (apt-get install chromium) or set CHROMIUM to its path"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestStatusPageInAHeadlessChromium loads the status page in a real
// browser: without the token it shows nothing and the data endpoints
// refuse; with it, it shows the numbers the Cache reports, and its
// invalidation button invalidates. It writes a screenshot to t.TempDir()
// (and to $ASIDE_STATUS_SCREENSHOT when set, to look at).
func TestStatusPageInAHeadlessChromium(t *testing.T) {
	browser := chromium(t)
	const token = "s3cret-Adm1n"

	c := newCache(t, aside.Options{})
	var routes middleware.RouteStats
	e := echo.New()
	shop := e.Group("", routes.Count, middleware.CacheWithConfig(middleware.CacheConfig{Cache: c, Tags: []string{"products"}}))
	shop.GET("/products", func(ec echo.Context) error { return ec.JSON(http.StatusOK, []string{"kettle", "teapot"}) })
	shop.GET("/products/:id", func(ec echo.Context) error { return ec.JSON(http.StatusOK, ec.Param("id")) })
	require.NoError(t, middleware.RegisterAdmin(e.Group("/_cache"), middleware.AdminConfig{
		Cache: c, Token: token, ProtectReads: true, Routes: &routes,
	}))
	srv := httptest.NewServer(e)
	defer srv.Close()

	cl := srv.Client()
	get := func(path string) string {
		res, err := cl.Get(srv.URL + path)
		require.NoError(t, err)
		res.Body.Close()
		return res.Header.Get("Cache-Status")
	}
	for range 3 {
		get("/products")
	}
	get("/products/1")
	get("/products/1")
	get("/products/2")
	require.True(t, strings.HasPrefix(get("/products"), "aside; hit"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browser),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1700),
	)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(tab, steps...))
	}
	text := func(id string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Text(chromedp.ID(id)))
		require.NoError(t, err)
		return s
	}
	eval := func(expr string) int {
		t.Helper()
		n, err := chromedp.Run(tab, chromedp.Evaluate[int](expr, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		return n
	}
	waitFor := func(expr string) {
		t.Helper()
		_, err := chromedp.Run(tab, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(10*time.Second)))
		require.NoError(t, err, "waiting for %s", expr)
	}

	// Without the token: the page asks for it, shows no figure, and the
	// data and invalidation endpoints refuse the browser.
	do(chromedp.Navigate(srv.URL+"/_cache/"), chromedp.WaitVisible(chromedp.ID("auth")))
	waitFor(`document.getElementById('auth-msg').textContent !== ''`)
	require.Contains(t, text("auth-msg"), "needs the admin token")
	require.Equal(t, "—", text("hit-rate"))
	require.Equal(t, http.StatusUnauthorized, eval(`fetch('stats').then(r => r.status)`))
	require.Equal(t, http.StatusUnauthorized, eval(`fetch('health').then(r => r.status)`))
	require.Equal(t, http.StatusUnauthorized, eval(`fetch('invalidate', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: '{"tags":["products"]}'}).then(r => r.status)`))
	require.True(t, strings.HasPrefix(get("/products"), "aside; hit"), "the refused invalidation invalidated nothing")

	// With it: the figures are the Cache's.
	do(chromedp.SendKeys(chromedp.ID("token"), token), chromedp.Click(chromedp.ID("token-btn")))
	waitFor(`document.getElementById('routes').rows.length >= 2 && document.getElementById('status').textContent === 'ok'`)
	s := c.Stats()
	require.Equal(t, "OK", text("status"), "the badge, upper-cased by CSS")
	require.Equal(t, fmt.Sprintf("%.1f%%", 100*s.HitRate()), text("lifetime-hit-rate"))
	require.Equal(t, fmt.Sprint(s.Hits+s.Misses), text("reads"), "every read so far is in the window")
	routeRows := text("routes")
	require.Contains(t, routeRows, "/products/:id")
	require.Contains(t, routeRows, "/products\t")
	require.Equal(t, "none", text("circuit"), "no breaker in front of the memory provider")

	// The invalidation button invalidates.
	do(chromedp.SendKeys(chromedp.ID("inv-tag-value"), "products"), chromedp.Click(chromedp.ID("inv-tag-btn")))
	waitFor(`document.getElementById('inv-result').textContent !== ''`)
	require.Equal(t, "Tag: invalidated 1 tag(s)", text("inv-result"))
	require.True(t, strings.HasPrefix(get("/products"), "aside; fwd=miss"), "the page's invalidation reached the cache")

	// The token is nowhere but in the page's memory.
	require.Equal(t, 1, eval(`(document.cookie === '' && localStorage.length === 0 && sessionStorage.length === 0 && !location.href.includes('`+token+`') && !document.documentElement.outerHTML.includes('`+token+`')) ? 1 : 0`),
		"the token leaked into a cookie, storage, the URL or the DOM")

	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.Greater(t, len(png), 10_000)
	shot := filepath.Join(t.TempDir(), "status.png")
	require.NoError(t, os.WriteFile(shot, png, 0o600))
	if out := os.Getenv("ASIDE_STATUS_SCREENSHOT"); out != "" {
		require.NoError(t, os.WriteFile(out, png, 0o600))
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))

	// Close the browser before the server, so that goleak sees no client.
	cancelTab()
	cancelAlloc()
}
