package middleware_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/provider/memory"
)

// Tests of the HTTP caching rules, one per rule, each naming the RFC
// section it checks. Handlers stand in for an origin: respond sets the
// response's status and fields.

func respond(status int, body string, hdr ...string) echo.HandlerFunc {
	return func(c echo.Context) error {
		for i := 0; i+1 < len(hdr); i += 2 {
			c.Response().Header().Add(hdr[i], hdr[i+1])
		}
		return c.String(status, body)
	}
}

func httpDate(d time.Duration) string { return time.Now().Add(d).UTC().Format(http.TimeFormat) }

func proxyApp(t *testing.T, cfg middleware.CacheConfig) *app {
	cfg.ReverseProxy = true
	return newApp(t, cfg)
}

// RFC 9111 section 4.2.3: the age a response arrives with counts against
// its freshness, and hits report origin age plus time resident.
func TestOriginAgeCountsAgainstFreshness(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/old", respond(200, "old", "Cache-Control", "max-age=10", "Age", "30"))
	a.route("/aged", respond(200, "aged", "Cache-Control", "max-age=600", "Age", "30"))

	require.NotContains(t, cacheStatus(a.get("/old")), "stored", "stale on arrival, no validator: not stored")
	requireNotHit(t, a.get("/old"))
	require.EqualValues(t, 2, a.runs.Load())

	miss := a.get("/aged")
	require.Equal(t, "30", miss.Header().Get("Age"))
	requireTTL(t, miss, 569, 570)
	time.Sleep(1100 * time.Millisecond)
	hit := a.get("/aged")
	requireHit(t, hit)
	age, err := strconv.Atoi(hit.Header().Get("Age"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, age, 31, "origin age + time resident")
}

// RFC 9111 section 5.1: the first member of the first Age line counts; a
// value that is not a non-negative integer is ignored; huge ones are capped
// (and so stale).
func TestAgeFieldParsing(t *testing.T) {
	for _, tt := range []struct {
		ages []string
		hit  bool
	}{
		{[]string{"abc"}, true},
		{[]string{"-7200"}, true},
		{[]string{"7200.0"}, true},
		{[]string{"7200;foo=bar"}, true},
		{[]string{"7200, 0"}, false},
		{[]string{"0, 7200"}, true},
		{[]string{"7200", "0"}, false},
		{[]string{"0", "7200"}, true},
		{[]string{"2147483648"}, false},
		{[]string{"99999999999999999999999"}, false},
	} {
		t.Run(strings.Join(tt.ages, "|"), func(t *testing.T) {
			a := newApp(t, middleware.CacheConfig{})
			hdr := []string{"Cache-Control", "max-age=3600"}
			for _, v := range tt.ages {
				hdr = append(hdr, "Age", v)
			}
			a.route("/p", respond(200, "p", hdr...))
			a.get("/p")
			if tt.hit {
				requireHit(t, a.get("/p"))
			} else {
				requireNotHit(t, a.get("/p"))
			}
		})
	}
}

// RFC 9110 section 6.6.1 and RFC 9111 section 4: a hit repeats the Date of
// the stored response (the origin's, or the time it arrived), never a new
// one.
func TestHitsKeepTheOriginsDate(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	date := httpDate(-time.Hour)
	a.route("/dated", respond(200, "d", "Date", date, "Cache-Control", "max-age=86400"))
	a.route("/undated", respond(200, "u"))

	a.get("/dated")
	hit := a.get("/dated")
	requireHit(t, hit)
	require.Equal(t, date, hit.Header().Get("Date"))
	age, err := strconv.Atoi(hit.Header().Get("Age"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, age, 3600, "apparent age from Date (RFC 9111 section 4.2.3)")

	before := time.Now()
	miss := a.get("/undated")
	require.NotEmpty(t, miss.Header().Get("Date"))
	time.Sleep(1100 * time.Millisecond)
	hit = a.get("/undated")
	requireHit(t, hit)
	require.Equal(t, miss.Header().Get("Date"), hit.Header().Get("Date"))
	requireAgeSince(t, hit, before, 1)
}

// RFC 9111 section 5.3: an invalid Expires (anything but an HTTP-date, or
// several Expires lines) means already expired; RFC 9111 section 4.2: names
// in dates are matched case-insensitively; RFC 9110 section 5.6.7: the
// obsolete RFC 850 and asctime forms are read.
func TestExpiresParsing(t *testing.T) {
	future := time.Now().Add(48 * time.Hour).UTC()
	// 03:04:05 on the day after tomorrow (at least 24 h ahead): its hour
	// has one digit whatever the time of day the test runs at.
	early := time.Date(future.Year(), future.Month(), future.Day(), 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		expires []string
		fresh   bool
	}{
		{"IMF-fixdate", []string{future.Format(http.TimeFormat)}, true},
		{"gMT", []string{strings.Replace(future.Format(http.TimeFormat), "GMT", "gMT", 1)}, true},
		{"upper-case day and month", []string{strings.ToUpper(future.Format(http.TimeFormat))}, true},
		{"RFC 850", []string{future.Format("Monday, 02-Jan-06 15:04:05 GMT")}, true},
		{"asctime", []string{future.Format(time.ANSIC)}, true},
		{"0", []string{"0"}, false},
		{"2-digit hour (control)", []string{early.Format("Mon, 02 Jan 2006 15:04:05 GMT")}, true},
		{"a 1-digit hour", []string{early.Format("Mon, 02 Jan 2006 3:04:05 GMT")}, false},
		{"runs of spaces", []string{future.Format("Mon, 02  Jan  2006 15:04:05 GMT")}, false},
		{"UTC", []string{future.Format("Mon, 02 Jan 2006 15:04:05 UTC")}, false},
		{"time with periods", []string{future.Format("Mon, 02 Jan 2006 15.04.05 GMT")}, false},
		{"several Expires lines", []string{future.Format(http.TimeFormat), future.Format(http.TimeFormat)}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := proxyApp(t, middleware.CacheConfig{})
			hdr := []string{"Date", httpDate(0)}
			for _, v := range tt.expires {
				hdr = append(hdr, "Expires", v)
			}
			a.route("/p", respond(200, "p", hdr...))
			a.get("/p")
			if tt.fresh {
				requireHit(t, a.get("/p"))
			} else {
				requireNotHit(t, a.get("/p"))
			}
		})
	}
}

// RFC 9111 sections 4.2.1 and 5.2: directive parsing.
func TestCacheControlParsing(t *testing.T) {
	for _, tt := range []struct {
		cc  string
		hit bool
	}{
		{"MaX-AgE=3600", true},
		{`max-age="3600"`, true},
		{"max-age='3600'", false},
		{"max-age=3600, max-age=0", true}, // the first occurrence wins
		{"max-age=0, max-age=3600", false},
		{`extension="max-age=3600", max-age=0`, false},
		{"max-age =3600", false},
		{"max-age= 3600", false},
		{"max-age=-1", false},
		{"max-age=3600.5", false},
		{"max-age=003600", true},
		{"max-age=99999999999", true},
	} {
		t.Run(tt.cc, func(t *testing.T) {
			a := proxyApp(t, middleware.CacheConfig{})
			a.route("/p", respond(200, "p", "Cache-Control", tt.cc))
			a.get("/p")
			if tt.hit {
				requireHit(t, a.get("/p"))
			} else {
				requireNotHit(t, a.get("/p"))
			}
		})
	}
}

// validatingOrigin is a handler with validators that answers a matching
// conditional request with 304, recording what it was asked.
type validatingOrigin struct {
	mu        sync.Mutex
	inm, ims  []string
	version   atomic.Int32
	fail      atomic.Bool
	notModCC  string // Cache-Control of its 304s
	cc        string
	lastMod   string
	etag      string
	stale304X string // X-V it sends with a 304
}

func (o *validatingOrigin) handler(c echo.Context) error {
	req := c.Request()
	o.mu.Lock()
	o.inm = append(o.inm, req.Header.Get("If-None-Match"))
	o.ims = append(o.ims, req.Header.Get("If-Modified-Since"))
	o.mu.Unlock()
	if o.fail.Load() {
		return c.String(http.StatusServiceUnavailable, "down")
	}
	h := c.Response().Header()
	if req.Header.Get("If-None-Match") == o.etag {
		h.Set("Cache-Control", o.notModCC)
		h.Set("X-V", o.stale304X)
		return c.NoContent(http.StatusNotModified)
	}
	h.Set("Cache-Control", o.cc)
	h.Set("Etag", o.etag)
	h.Set("Last-Modified", o.lastMod)
	h.Set("X-V", "1")
	return c.String(http.StatusOK, "body v"+itoa(int(o.version.Add(1))))
}

func (o *validatingOrigin) asked() (inm, ims []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.inm...), append([]string(nil), o.ims...)
}

// RFC 9111 sections 4.3.1, 4.3.3 and 4.3.4: a stale response is revalidated
// with the stored validators, and a 304 refreshes it (its fields replace the
// stored ones, its freshness starts again) without a body from the origin.
func TestStaleResponsesAreRevalidatedAndA304RefreshesThem(t *testing.T) {
	o := &validatingOrigin{cc: "max-age=1", notModCC: "max-age=60", etag: `"v1"`, lastMod: httpDate(-time.Hour), stale304X: "2"}
	a := newApp(t, middleware.CacheConfig{KeepStale: time.Minute})
	a.route("/r", o.handler)

	first := a.get("/r")
	require.Equal(t, "body v1", first.Body.String())
	time.Sleep(1100 * time.Millisecond)
	rec := a.get("/r")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "body v1", rec.Body.String(), "the stored body, confirmed by the 304")
	require.Equal(t, "2", rec.Header().Get("X-V"), "the 304's fields replace the stored ones")
	require.Equal(t, `"v1"`, rec.Header().Get("Etag"))
	require.Contains(t, cacheStatus(rec), "fwd=stale; fwd-status=200; stored")
	inm, ims := o.asked()
	require.Equal(t, []string{"", `"v1"`}, inm)
	require.Equal(t, []string{"", o.lastMod}, ims)

	hit := a.get("/r")
	requireHit(t, hit)
	requireTTL(t, hit, 58, 60)
	require.Equal(t, "2", hit.Header().Get("X-V"))

	// The client's own validator is answered by the cache from the
	// refreshed response.
	require.Equal(t, http.StatusNotModified, a.get("/r", "If-None-Match", `"v1"`).Code)
}

// slowEntryReads is a store whose reads of the entry key wait, while armed,
// so that a revalidation's own read comes after the background refresh
// that Remember started for the same request has stored its result.
type slowEntryReads struct {
	sharedMemory
	armed atomic.Bool
}

func (p *slowEntryReads) wait(keys ...string) {
	if !p.armed.Load() {
		return
	}
	for _, k := range keys {
		if strings.HasSuffix(k, "example.com/n") {
			time.Sleep(150 * time.Millisecond)
			return
		}
	}
}

func (p *slowEntryReads) Get(ctx context.Context, key string) ([]byte, error) {
	p.wait(key)
	return p.sharedMemory.Get(ctx, key)
}

func (p *slowEntryReads) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	p.wait(keys...)
	return p.sharedMemory.GetMulti(ctx, keys)
}

// A revalidation whose read comes after the refresh Remember started for
// the same request stored the revalidated response must not store it again:
// that second store gave a no-cache response the route's TTL, and the next
// request got it without revalidation (seen under load as "body v2").
func TestARevalidationAfterItsOwnRefreshDoesNotStoreAgain(t *testing.T) {
	m, err := memory.New(memory.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	p := &slowEntryReads{sharedMemory: sharedMemory{m}}
	o := &validatingOrigin{cc: "no-cache", notModCC: "no-cache", etag: `"n"`, lastMod: httpDate(-time.Hour), stale304X: "304"}
	a := proxyApp(t, middleware.CacheConfig{Cache: newCache(t, aside.Options{Provider: p})})
	a.route("/n", o.handler)
	require.Equal(t, "body v1", a.get("/n").Body.String())
	p.armed.Store(true)
	require.Equal(t, "body v1", a.get("/n").Body.String())
	p.armed.Store(false)
	for range 2 {
		rec := a.get("/n")
		require.Equal(t, "body v1", rec.Body.String())
		require.Contains(t, cacheStatus(rec), "fwd=stale", "a no-cache response is revalidated on every use")
	}
	inm, _ := o.asked()
	require.Equal(t, []string{"", `"n"`, `"n"`, `"n"`}, inm)
}

// RFC 9111 sections 5.2.2.4 and 5.2.2.2: a no-cache response is stored and
// revalidated on every use; a stale must-revalidate one is never served
// without revalidation, not even when the origin fails.
func TestNoCacheAndMustRevalidateResponsesAreRevalidated(t *testing.T) {
	t.Run("no-cache", func(t *testing.T) {
		o := &validatingOrigin{cc: "no-cache", notModCC: "no-cache", etag: `"n"`, lastMod: httpDate(-time.Hour), stale304X: "304"}
		a := proxyApp(t, middleware.CacheConfig{})
		a.route("/n", o.handler)
		for range 3 {
			require.Equal(t, "body v1", a.get("/n").Body.String())
		}
		inm, _ := o.asked()
		require.Equal(t, []string{"", `"n"`, `"n"`}, inm)
	})
	t.Run("must-revalidate", func(t *testing.T) {
		o := &validatingOrigin{cc: "max-age=1, must-revalidate", etag: `"m"`, lastMod: httpDate(-time.Hour)}
		a := newApp(t, middleware.CacheConfig{StaleIfError: time.Minute, StaleWhileRevalidate: time.Minute})
		a.route("/m", o.handler)
		a.get("/m")
		time.Sleep(1100 * time.Millisecond)
		o.fail.Store(true)
		rec := a.get("/m")
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, "never served stale")
		inm, _ := o.asked()
		require.Equal(t, `"m"`, inm[1])
	})
}

// RFC 5861 section 3 and RFC 9111 section 4.3: the background refresh of a
// response served stale is a conditional request too.
func TestStaleWhileRevalidateRefreshesConditionally(t *testing.T) {
	o := &validatingOrigin{cc: "max-age=1, stale-while-revalidate=60", notModCC: "max-age=60", etag: `"s"`, lastMod: httpDate(-time.Hour), stale304X: "refreshed"}
	a := newApp(t, middleware.CacheConfig{KeepStale: time.Minute})
	a.route("/s", o.handler)
	a.get("/s")
	time.Sleep(1100 * time.Millisecond)
	stale := a.get("/s")
	requireHit(t, stale)
	require.Contains(t, cacheStatus(stale), "ttl=-")
	require.Eventually(t, func() bool {
		rec := a.get("/s")
		return rec.Header().Get("X-V") == "refreshed" && strings.HasPrefix(cacheStatus(rec), "aside; hit; ttl=5")
	}, 3*time.Second, 10*time.Millisecond)
	inm, _ := o.asked()
	require.Equal(t, `"s"`, inm[1])
	require.Equal(t, "body v1", a.get("/s").Body.String())
}

// RFC 5861 sections 3 and 4: a response's own stale-while-revalidate and
// stale-if-error windows are used, capped by KeepStale.
func TestResponseStaleWindowsAreReadAndCapped(t *testing.T) {
	var failing atomic.Bool
	a := newApp(t, middleware.CacheConfig{KeepStale: 2 * time.Second})
	a.route("/e", func(c echo.Context) error {
		if failing.Load() {
			return c.String(http.StatusBadGateway, "down")
		}
		c.Response().Header().Set("Cache-Control", "max-age=1, stale-if-error=3600")
		return c.String(http.StatusOK, "good")
	})
	a.get("/e")
	time.Sleep(1100 * time.Millisecond)
	failing.Store(true)
	rec := a.get("/e")
	require.Equal(t, "good", rec.Body.String())
	require.Contains(t, cacheStatus(rec), "detail=stale-if-error")
	time.Sleep(2 * time.Second) // past the 2s cap, though the response asked for an hour
	require.Equal(t, http.StatusBadGateway, a.get("/e").Code)
}

// RFC 9110 section 15.2 and RFC 8297: interim responses reach the client of
// the request that ran the handler, and are never stored.
func TestEarlyHintsReachTheClientAndAreNeverStored(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Set("Cache-Control", "max-age=60")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, "no such page")
	}))
	t.Cleanup(origin.Close)
	u, err := url.Parse(origin.URL)
	require.NoError(t, err)
	a := proxyApp(t, middleware.CacheConfig{})
	a.e.Any("/*", echo.WrapHandler(httputil.NewSingleHostReverseProxy(u)))
	srv, cl := a.server(t)

	get := func() (reply, []int) {
		var mu sync.Mutex
		var interim []int
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			mu.Lock()
			defer mu.Unlock()
			interim = append(interim, code)
			require.Equal(t, "</style.css>; rel=preload; as=style", h.Get("Link"))
			return nil
		}}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, srv.URL+"/hints", nil)
		require.NoError(t, err)
		res, err := cl.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		mu.Lock()
		defer mu.Unlock()
		return reply{res.StatusCode, res.Header, string(b)}, interim
	}
	first, interim := get()
	require.Equal(t, []int{http.StatusEarlyHints}, interim)
	require.Equal(t, http.StatusNotFound, first.status, "the final status survives the interim one")
	require.Empty(t, first.header.Get("Link"), "the hint's fields are not the final response's")
	second, interim := get()
	require.True(t, second.hit())
	require.Empty(t, interim, "a hit sends no stored interim response")
	require.Equal(t, http.StatusNotFound, second.status)
	require.Equal(t, "no such page", second.body)
}

// RFC 9213: a targeted field replaces Cache-Control and Expires for the
// caches it targets; an invalid one is ignored.
func TestTargetedCacheControl(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  middleware.CacheConfig
		hdr  []string
		hit  bool
	}{
		{"CDN-Cache-Control over Cache-Control no-store", middleware.CacheConfig{ReverseProxy: true}, []string{"Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"}, true},
		{"CDN-Cache-Control no-store over a fresh Cache-Control", middleware.CacheConfig{ReverseProxy: true}, []string{"Cache-Control", "max-age=60", "CDN-Cache-Control", "no-store"}, false},
		{"CDN-Cache-Control private", middleware.CacheConfig{ReverseProxy: true}, []string{"Cache-Control", "max-age=60", "CDN-Cache-Control", "private"}, false},
		{"CDN-Cache-Control over a past Expires", middleware.CacheConfig{ReverseProxy: true}, []string{"Expires", httpDate(-time.Hour), "CDN-Cache-Control", "max-age=60"}, true},
		{"an invalid structured field is ignored", middleware.CacheConfig{ReverseProxy: true}, []string{"Cache-Control", "no-store", "CDN-Cache-Control", `max-age="60"`}, false},
		{"not read by default outside ReverseProxy mode", middleware.CacheConfig{}, []string{"Cache-Control", "no-store", "CDN-Cache-Control", "max-age=60"}, false},
		{"a configured field name", middleware.CacheConfig{TargetedCacheControl: []string{"Aside-Cache-Control"}}, []string{"Cache-Control", "no-store", "Aside-Cache-Control", "max-age=60"}, true},
		{"Surrogate-Control targeted at this cache", middleware.CacheConfig{ReverseProxy: true}, []string{"Cache-Control", "no-store", "Surrogate-Control", "max-age=60;aside"}, true},
		{"Surrogate-Control targeted at another device", middleware.CacheConfig{ReverseProxy: true}, []string{"Cache-Control", "no-store", "Surrogate-Control", "max-age=60;other"}, false},
		{"Surrogate-Control names are case-insensitive", middleware.CacheConfig{ReverseProxy: true}, []string{"Cache-Control", "no-store", "Surrogate-Control", "MaX-aGe=60"}, true},
		{"Surrogate-Control NO-STORE", middleware.CacheConfig{ReverseProxy: true}, []string{"Cache-Control", "max-age=60", "Surrogate-Control", "No-Store"}, false},
		{"CDN-Cache-Control keys stay strict (RFC 9213: structured fields)", middleware.CacheConfig{ReverseProxy: true}, []string{"Cache-Control", "no-store", "CDN-Cache-Control", "Max-Age=60"}, false},
		{"Surrogate-Control no-store", middleware.CacheConfig{ReverseProxy: true}, []string{"Cache-Control", "max-age=60", "Surrogate-Control", "no-store"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := newApp(t, tt.cfg)
			a.route("/p", func(c echo.Context) error {
				// A surrogate announces itself (Edge Architecture Specification).
				require.Equal(t, tt.cfg.ReverseProxy, c.Request().Header.Get("Surrogate-Capability") == `aside="Surrogate/1.0"`)
				return respond(200, "p", tt.hdr...)(c)
			})
			first := a.get("/p")
			require.Equal(t, tt.hdr[len(tt.hdr)-1], first.Header().Get(tt.hdr[len(tt.hdr)-2]), "the targeted field is forwarded")
			if tt.hit {
				requireHit(t, a.get("/p"))
			} else {
				requireNotHit(t, a.get("/p"))
			}
		})
	}
}

// RFC 9111 section 4.1: a response is reused only for requests whose
// headers named by its Vary match the request it answered (normalised: RFC
// 9110 section 5.3 field lines and list whitespace; Accept-Language order
// and case); Vary: * never matches.
func TestVaryStoresVariantsByTheHeadersTheResponseNames(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/v", func(c echo.Context) error {
		c.Response().Header().Set("Vary", "X-Flavour")
		return c.String(http.StatusOK, "flavour "+strings.Join(c.Request().Header.Values("X-Flavour"), "+"))
	})
	a.route("/lang", func(c echo.Context) error {
		c.Response().Header().Set("Vary", "Accept-Language")
		return c.String(http.StatusOK, "lang")
	})
	a.route("/star", respond(200, "star", "Vary", "*"))

	require.Equal(t, "flavour a", a.get("/v", "X-Flavour", "a").Body.String())
	b := a.get("/v", "X-Flavour", "b")
	requireNotHit(t, b)
	require.Equal(t, "flavour b", b.Body.String())
	for _, v := range []string{"a", "b"} {
		rec := a.get("/v", "X-Flavour", v)
		requireHit(t, rec)
		require.Equal(t, "flavour "+v, rec.Body.String())
		require.Equal(t, "X-Flavour", rec.Header().Get("Vary"))
	}
	requireNotHit(t, a.get("/v"))
	requireHit(t, a.get("/v"))
	requireNotHit(t, a.get("/v", "X-Flavour", "1, 2"))
	requireHit(t, a.get("/v", "X-Flavour", "1", "X-Flavour", "2"))
	requireHit(t, a.get("/v", "X-Flavour", " 1 ,2 "))

	a.get("/lang", "Accept-Language", "en, de")
	requireHit(t, a.get("/lang", "Accept-Language", "De,EN"))

	a.get("/star", "X-Flavour", "a")
	requireNotHit(t, a.get("/star", "X-Flavour", "a"))
}

// The variants one URL gains are bounded (per process), so cycling a
// header's value cannot fill the store.
func TestVariantsPerURLAreBounded(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/v", respond(200, "v", "Vary", "X-Junk"))
	for i := range 40 {
		a.get("/v", "X-Junk", itoa(i))
	}
	requireHit(t, a.get("/v", "X-Junk", "1"))
	requireNotHit(t, a.get("/v", "X-Junk", "39")) // past the bound, variants are not stored
}

// RFC 9111 section 3: any final status may be stored when the response has
// explicit freshness; section 5.2.2.3: must-understand stores only a status
// the cache knows, and then despite no-store.
func TestAnyStatusWithExplicitFreshnessIsStored(t *testing.T) {
	for _, tt := range []struct {
		status int
		cc     string
		stored bool
	}{
		{302, "max-age=60", true},
		{307, "max-age=60", true},
		{400, "max-age=60", true},
		{500, "max-age=60", true},
		{201, "", false},
		{599, "max-age=60, must-understand", false},
		{200, "max-age=60, must-understand, no-store", true},
		{200, "max-age=60, no-store", false},
	} {
		t.Run(itoa(tt.status)+" "+tt.cc, func(t *testing.T) {
			a := newApp(t, middleware.CacheConfig{})
			var hdr []string
			if tt.cc != "" {
				hdr = []string{"Cache-Control", tt.cc}
			}
			a.route("/p", respond(tt.status, "p", hdr...))
			require.Equal(t, tt.status, a.get("/p").Code)
			rec := a.get("/p")
			require.Equal(t, tt.status, rec.Code)
			if tt.stored {
				requireHit(t, rec)
			} else {
				requireNotHit(t, rec)
			}
		})
	}
}

// RFC 5861 section 4: a 5xx with explicit freshness is stored only when no
// stale response may stand in for it.
func TestA5xxWithFreshnessDoesNotReplaceAStaleResponseThatMayStandIn(t *testing.T) {
	var failing atomic.Bool
	a := newApp(t, middleware.CacheConfig{KeepStale: time.Minute})
	a.route("/p", func(c echo.Context) error {
		if failing.Load() {
			c.Response().Header().Set("Cache-Control", "max-age=60")
			return c.String(http.StatusServiceUnavailable, "down")
		}
		c.Response().Header().Set("Cache-Control", "max-age=1, stale-if-error=60")
		return c.String(http.StatusOK, "good")
	})
	a.get("/p")
	time.Sleep(1100 * time.Millisecond)
	failing.Store(true)
	for range 2 {
		rec := a.get("/p")
		require.Equal(t, "good", rec.Body.String())
		require.Contains(t, cacheStatus(rec), "stale-if-error")
	}
}

// RFC 9110 section 14: a Range request is answered from a stored complete
// response.
func TestRangeRequestsAreAnsweredFromAStoredCompleteResponse(t *testing.T) {
	big := strings.Repeat("0123456789", 100) // stored gzip-compressed
	a := newApp(t, middleware.CacheConfig{})
	a.route("/r", respond(200, "0123456789A", "Cache-Control", "max-age=60", "Etag", `"r1"`))
	a.route("/big", respond(200, big, "Cache-Control", "max-age=60"))
	a.get("/r")
	a.get("/big")
	for _, tt := range []struct {
		hdr          []string
		status       int
		body, crange string
	}{
		{[]string{"Range", "bytes=0-1"}, 206, "01", "bytes 0-1/11"},
		{[]string{"Range", "bytes=1-"}, 206, "123456789A", "bytes 1-10/11"},
		{[]string{"Range", "bytes=-1"}, 206, "A", "bytes 10-10/11"},
		{[]string{"Range", "bytes=5-100"}, 206, "56789A", "bytes 5-10/11"},
		{[]string{"Range", "bytes=20-"}, 416, "", "bytes */11"},
		{[]string{"Range", "bytes=0-1,3-4"}, 200, "0123456789A", ""},
		{[]string{"Range", "bytes=0-1", "If-Range", `"r1"`}, 206, "01", "bytes 0-1/11"},
		{[]string{"Range", "bytes=0-1", "If-Range", `"other"`}, 200, "0123456789A", ""},
	} {
		rec := a.get("/r", tt.hdr...)
		require.Equal(t, tt.status, rec.Code, tt.hdr)
		require.Equal(t, tt.body, rec.Body.String(), tt.hdr)
		require.Equal(t, tt.crange, rec.Header().Get("Content-Range"), tt.hdr)
		requireHit(t, rec)
	}
	rec := a.get("/big", "Range", "bytes=995-", "Accept-Encoding", "gzip")
	require.Equal(t, 206, rec.Code)
	require.Equal(t, "56789", rec.Body.String(), "ranges are of the identity body")
	require.Empty(t, rec.Header().Get("Content-Encoding"))
	require.EqualValues(t, 2, a.runs.Load())

	miss := a.get("/nothing-stored", "Range", "bytes=0-1")
	require.Equal(t, "aside; fwd=miss; detail=range", cacheStatus(miss))
}

// RFC 9111 section 3.5: in ReverseProxy mode a request with Authorization
// goes through the cache, and its response is stored only when it says
// public, s-maxage or must-revalidate; Cookie still bypasses.
func TestAuthorizationInReverseProxyMode(t *testing.T) {
	a := proxyApp(t, middleware.CacheConfig{})
	a.route("/plain", respond(200, "plain", "Expires", httpDate(time.Hour)))
	a.route("/public", respond(200, "public", "Cache-Control", "public, max-age=60"))
	a.route("/smaxage", respond(200, "smaxage", "Cache-Control", "s-maxage=60"))

	a.get("/plain", "Authorization", "Bearer a")
	requireNotHit(t, a.get("/plain"))
	for _, p := range []string{"/public", "/smaxage"} {
		require.Contains(t, cacheStatus(a.get(p, "Authorization", "Bearer a")), "stored")
		requireHit(t, a.get(p))
	}
	require.Equal(t, "aside; fwd=bypass; detail=cookie", cacheStatus(a.get("/public", "Cookie", "sid=1")))
}

// RFC 9111 section 4.2.2: in ReverseProxy mode a response without explicit
// freshness gets at most heuristic freshness from Last-Modified (10%,
// capped), and only for a heuristically cacheable status or public.
func TestReverseProxyModeUsesOnlyExplicitOrHeuristicFreshness(t *testing.T) {
	a := proxyApp(t, middleware.CacheConfig{HeuristicMaxAge: time.Hour, TTL: time.Minute})
	a.route("/none", respond(200, "none"))
	a.route("/lm", respond(200, "lm", "Last-Modified", httpDate(-10*time.Hour)))
	a.route("/lm-old", respond(200, "old", "Last-Modified", httpDate(-100*24*time.Hour)))
	a.route("/created", respond(201, "c", "Last-Modified", httpDate(-10*time.Hour)))
	a.route("/public", respond(299, "p", "Last-Modified", httpDate(-10*time.Hour), "Cache-Control", "public"))

	require.NotContains(t, cacheStatus(a.get("/none")), "stored", "no TTL is invented")
	requireTTL(t, a.get("/lm"), 3599, 3600)
	requireTTL(t, a.get("/lm-old"), 3599, 3600) // capped at HeuristicMaxAge
	require.NotContains(t, cacheStatus(a.get("/created")), "stored")
	require.Contains(t, cacheStatus(a.get("/public")), "stored")
}

// RFC 9110 section 9.3.2: HEAD is GET without content, whatever the cache
// holds: a cold HEAD on a GET-only route is not 405 before a GET was cached
// and 200 after (issue 8).
func TestHEADBehavesTheSameWhateverTheCacheHolds(t *testing.T) {
	a := newApp(t, middleware.CacheConfig{})
	a.route("/get-only", jsonHandler(productsJSON))

	cold := a.do(http.MethodHead, "/get-only")
	require.Equal(t, http.StatusOK, cold.Code)
	require.Empty(t, cold.Body.String())
	require.Equal(t, "application/json", cold.Header().Get("Content-Type"))
	warm := a.do(http.MethodHead, "/get-only")
	requireHit(t, warm)
	require.Equal(t, cold.Code, warm.Code)
	require.Equal(t, cold.Header().Get("Content-Length"), warm.Header().Get("Content-Length"))
	require.Equal(t, itoa(len(productsJSON)), warm.Header().Get("Content-Length"))
	requireHit(t, a.get("/get-only"))
	require.EqualValues(t, 1, a.runs.Load())

	for range 2 {
		require.Equal(t, http.StatusNotFound, a.do(http.MethodHead, "/missing").Code)
	}
}

// The reverse-proxy configuration end to end: an httputil.ReverseProxy
// origin, conditional revalidation across the proxy, and the origin's
// fields passed through.
func TestReverseProxyEndToEnd(t *testing.T) {
	var hits atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Cache-Control", "max-age=1")
		w.Header().Set("Etag", `"o1"`)
		if r.Header.Get("If-None-Match") == `"o1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		_, _ = io.Copy(w, bytes.NewReader([]byte("from origin")))
	}))
	t.Cleanup(origin.Close)
	u, err := url.Parse(origin.URL)
	require.NoError(t, err)
	a := proxyApp(t, middleware.CacheConfig{})
	a.e.Any("/*", echo.WrapHandler(httputil.NewSingleHostReverseProxy(u)))
	srv, cl := a.server(t)

	require.Equal(t, "from origin", call(t, cl, "GET", srv.URL+"/x").body)
	require.True(t, call(t, cl, "GET", srv.URL+"/x").hit())
	time.Sleep(1100 * time.Millisecond)
	r := call(t, cl, "GET", srv.URL+"/x")
	require.Equal(t, "from origin", r.body)
	require.Contains(t, r.header.Get("Cache-Status"), "fwd=stale")
	require.EqualValues(t, 2, hits.Load())
}

// RFC 9111 section 4.3.4: a 304 whose strong ETag is not the stored one
// selects nothing; the cache asks again without validators.
func TestA304ThatDoesNotSelectTheStoredResponseIsNotUsed(t *testing.T) {
	var runs atomic.Int32
	a := newApp(t, middleware.CacheConfig{KeepStale: time.Minute})
	a.route("/p", func(c echo.Context) error {
		n := runs.Add(1)
		c.Response().Header().Set("Cache-Control", "max-age=1")
		if c.Request().Header.Get("If-None-Match") != "" {
			c.Response().Header().Set("Etag", `"other"`)
			return c.NoContent(http.StatusNotModified)
		}
		c.Response().Header().Set("Etag", `"v`+itoa(int(n))+`"`)
		return c.String(http.StatusOK, "v"+itoa(int(n)))
	})
	require.Equal(t, "v1", a.get("/p").Body.String())
	time.Sleep(1100 * time.Millisecond)
	rec := a.get("/p")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "v3", rec.Body.String(), "the conditional attempt (2) was answered by an unconditional one (3)")
	require.Equal(t, `"v3"`, rec.Header().Get("Etag"))
}

// RFC 9111 section 5.2.2.10: s-maxage implies proxy-revalidate: never served
// stale, whatever the configured windows.
func TestSMaxAgeIsNeverServedStale(t *testing.T) {
	var failing atomic.Bool
	a := newApp(t, middleware.CacheConfig{StaleIfError: time.Minute, StaleWhileRevalidate: time.Minute})
	a.route("/p", func(c echo.Context) error {
		if failing.Load() {
			return c.String(http.StatusServiceUnavailable, "down")
		}
		c.Response().Header().Set("Cache-Control", "s-maxage=1")
		return c.String(http.StatusOK, "good")
	})
	a.get("/p")
	time.Sleep(1100 * time.Millisecond)
	failing.Store(true)
	require.Equal(t, http.StatusServiceUnavailable, a.get("/p").Code)
}

// RFC 9110 section 8.4 and RFC 9111 section 4.1: in ReverseProxy mode a body
// in a coding the cache does not handle is stored as it came, and its Vary:
// Accept-Encoding is then honoured like any other.
func TestUnknownContentCodingsAreStoredAsTheyCameInReverseProxyMode(t *testing.T) {
	a := proxyApp(t, middleware.CacheConfig{})
	a.route("/br", func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "max-age=60")
		h.Set("Vary", "Accept-Encoding")
		if strings.Contains(c.Request().Header.Get("Accept-Encoding"), "br") {
			h.Set("Content-Encoding", "br")
			return c.Blob(http.StatusOK, "application/octet-stream", []byte{0x1b, 0x02, 0x00})
		}
		return c.String(http.StatusOK, "plain")
	})
	a.get("/br", "Accept-Encoding", "br")
	br := a.get("/br", "Accept-Encoding", "br")
	requireHit(t, br)
	require.Equal(t, "br", br.Header().Get("Content-Encoding"))
	require.Equal(t, []byte{0x1b, 0x02, 0x00}, br.Body.Bytes())
	plain := a.get("/br", "Accept-Encoding", "gzip")
	require.Equal(t, "plain", plain.Body.String(), "a client that did not ask for br never gets it")
	require.Empty(t, plain.Header().Get("Content-Encoding"))
}

// A HEAD run as a GET goes through every middleware again, so one after
// the cache (authentication, say) still decides.
func TestHEADAsGETRunsEveryMiddleware(t *testing.T) {
	e := echo.New()
	e.Use(middleware.CacheWithConfig(middleware.CacheConfig{Cache: newCache(t, aside.Options{}), Public: true}))
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if c.Request().Header.Get("X-Key") != "k" {
				return echo.NewHTTPError(http.StatusUnauthorized)
			}
			return next(c)
		}
	})
	e.GET("/secret", func(c echo.Context) error { return c.String(http.StatusOK, "secret") })
	head := func(hdr ...string) int {
		req := httptest.NewRequest(http.MethodHead, "/secret", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		require.Empty(t, rec.Body.String())
		return rec.Code
	}
	require.Equal(t, http.StatusUnauthorized, head())
	require.Equal(t, http.StatusOK, head("X-Key", "k"))
}
