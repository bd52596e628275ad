package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/provider/redis"
)

// Bounds of the run. The provider's Timeout is what one request may pay;
// slack covers the race detector and a loaded 2-core CI machine.
const (
	timeout      = 250 * time.Millisecond
	handlerDelay = 5 * time.Millisecond
	slack        = 400 * time.Millisecond
	products     = 16
	httpClients  = 16
	directCalls  = 8
	batchCalls   = 4
	pageSize     = 6
)

// db is the origin: products whose version goes up with every write.
type db struct {
	mu       sync.Mutex
	versions [products + 1]int64
}

func (d *db) read(id int) int64 {
	time.Sleep(handlerDelay)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.versions[id]
}

// readMany is one query for many products (WHERE id IN ...).
func (d *db) readMany(ids []int) map[int]int64 {
	time.Sleep(handlerDelay)
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[int]int64, len(ids))
	for _, id := range ids {
		out[id] = d.versions[id]
	}
	return out
}

func (d *db) bump(id int) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.versions[id]++
	return d.versions[id]
}

type product struct {
	ID      int   `json:"id"`
	Version int64 `json:"version"`
}

// committed is, per product, the highest version whose write (and the
// invalidation call after it) has returned: a read that begins later must
// see at least that.
type committed [products + 1]atomic.Int64

func (c *committed) raise(id int, v int64) {
	for {
		cur := c[id].Load()
		if v <= cur || c[id].CompareAndSwap(cur, v) {
			return
		}
	}
}

// tally collects what the load saw in one phase.
type tally struct {
	mu        sync.Mutex
	latencies []time.Duration
	slowAfter int           // requests slower than slowOver once the circuit had opened
	slowOver  time.Duration // see stack.slowOver
	server5xx int
	wrong     []string
	stale     []string
	hits      int
	firstHit  time.Time
}

func (t *tally) add(d time.Duration, afterOpen bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.latencies = append(t.latencies, d)
	if afterOpen && d > max(t.slowOver, handlerDelay+slack/4) {
		t.slowAfter++
	}
}

func (t *tally) fail(list *[]string, format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(*list) < 20 {
		*list = append(*list, fmt.Sprintf(format, args...))
	}
}

func (t *tally) hit(at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.hits++
	if t.firstHit.IsZero() || at.Before(t.firstHit) {
		t.firstHit = at
	}
}

func (t *tally) summary() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.latencies) == 0 {
		return "no requests"
	}
	l := slices.Clone(t.latencies)
	slices.Sort(l)
	pct := func(p float64) time.Duration { return l[min(len(l)-1, int(p*float64(len(l))))] }
	return fmt.Sprintf("%d calls, p50 %v, p99 %v, max %v, %d hits",
		len(l), pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), l[len(l)-1].Round(time.Microsecond), t.hits)
}

func (t *tally) percentile(p float64) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.latencies) == 0 {
		return 0
	}
	l := slices.Clone(t.latencies)
	slices.Sort(l)
	return l[min(len(l)-1, int(p*float64(len(l))))]
}

func (t *tally) max() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Max(append([]time.Duration{0}, t.latencies...))
}

// stack is one application instance: a Cache over the test's Redis, an
// Echo app on a loopback port, and its origin.
type stack struct {
	c      *aside.Cache
	db     *db
	srv    *httptest.Server
	client *http.Client
	done   committed
	// slowOver is what counts as slow once the circuit is open: the
	// healthy phase's p90 for the same kind of call (what a loaded machine
	// costs without any fault), at least handlerDelay+slack/4 and below a
	// Timeout, so that a call that waited on the frozen store still counts.
	slowOver [3]time.Duration
}

func newStack(t *testing.T, addr string) *stack {
	p, err := redis.NewFromURL("redis://"+addr+"/0", redis.Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	c, err := aside.New(aside.Options{Provider: p, Namespace: "faults"})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{c: c, db: &db{}}
	e := echo.New()
	g := e.Group("", middleware.CacheWithConfig(middleware.CacheConfig{Cache: c, TTL: time.Minute}))
	g.GET("/products/:id", func(ec echo.Context) error {
		id, err := strconv.Atoi(ec.Param("id"))
		if err != nil || id < 1 || id > products {
			return echo.NewHTTPError(http.StatusNotFound)
		}
		if err := middleware.Tag(ec, "product:"+ec.Param("id")); err != nil {
			return err // bad input only: a store failure never arrives here
		}
		return ec.JSON(http.StatusOK, product{ID: id, Version: s.db.read(id)})
	})
	g.PUT("/products/:id", func(ec echo.Context) error {
		id, err := strconv.Atoi(ec.Param("id"))
		if err != nil || id < 1 || id > products {
			return echo.NewHTTPError(http.StatusNotFound)
		}
		v := s.db.bump(id)
		// The write happened; the invalidation must not be lost to an
		// outage, and must not fail the request.
		_ = c.InvalidateTagsEventually(ec.Request().Context(), "product:"+ec.Param("id"))
		return ec.JSON(http.StatusOK, product{ID: id, Version: v})
	})
	s.srv = httptest.NewServer(e)
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(func() {
		s.srv.Close()
		s.client.CloseIdleConnections()
		_ = c.Close()
	})
	return s
}

// get reads a product over HTTP and checks what comes back.
func (s *stack) get(id int, tl *tally, opened func() bool) {
	floor := s.done[id].Load()
	start := time.Now()
	afterOpen := opened()
	res, err := s.client.Get(fmt.Sprintf("%s/products/%d", s.srv.URL, id))
	if err != nil {
		tl.fail(&tl.wrong, "GET %d: %v", id, err)
		return
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	d := time.Since(start)
	tl.add(d, afterOpen)
	if res.StatusCode >= 500 {
		tl.fail(&tl.wrong, "GET %d: status %d", id, res.StatusCode)
		tl.mu.Lock()
		tl.server5xx++
		tl.mu.Unlock()
		return
	}
	var p product
	if err != nil || res.StatusCode != http.StatusOK || json.Unmarshal(body, &p) != nil || p.ID != id {
		tl.fail(&tl.wrong, "GET %d: status %d body %q", id, res.StatusCode, body)
		return
	}
	if p.Version < floor {
		tl.fail(&tl.stale, "GET %d returned version %d after version %d was written and invalidated", id, p.Version, floor)
	}
	if strings.Contains(res.Header.Get("Cache-Status"), "; hit") {
		tl.hit(start)
	}
}

func (s *stack) put(id int, tl *tally) {
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/products/%d", s.srv.URL, id), nil)
	start := time.Now()
	res, err := s.client.Do(req)
	if err != nil {
		tl.fail(&tl.wrong, "PUT %d: %v", id, err)
		return
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	tl.add(time.Since(start), false)
	var p product
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &p) != nil {
		tl.fail(&tl.wrong, "PUT %d: status %d body %q", id, res.StatusCode, body)
		if res.StatusCode >= 500 {
			tl.mu.Lock()
			tl.server5xx++
			tl.mu.Unlock()
		}
		return
	}
	s.done.raise(id, p.Version)
}

// remember calls aside.Remember directly for a product summary.
func (s *stack) remember(id int, tl *tally, opened func() bool) {
	floor := s.done[id].Load()
	start := time.Now()
	afterOpen := opened()
	hit := true
	p, err := aside.Remember(context.Background(), s.c, "summary:"+strconv.Itoa(id), func(ctx context.Context) (product, error) {
		hit = false
		_ = aside.LoadTags(ctx, "product:"+strconv.Itoa(id))
		return product{ID: id, Version: s.db.read(id)}, nil
	})
	tl.add(time.Since(start), afterOpen)
	switch {
	case err != nil:
		tl.fail(&tl.wrong, "Remember %d: %v", id, err)
	case p.ID != id:
		tl.fail(&tl.wrong, "Remember %d returned product %d", id, p.ID)
	case p.Version < floor:
		tl.fail(&tl.stale, "Remember %d returned version %d after version %d was written and invalidated", id, p.Version, floor)
	case hit:
		tl.hit(start)
	}
}

// rememberMany reads a page of product summaries with one
// aside.RememberMany, each entry tagged with its product.
func (s *stack) rememberMany(first int, tl *tally, opened func() bool) {
	ids := make([]int, pageSize)
	var floor [pageSize]int64
	for i := range ids {
		ids[i] = 1 + (first+i)%products
		floor[i] = s.done[ids[i]].Load()
	}
	start := time.Now()
	afterOpen := opened()
	loaded := false
	got, err := aside.RememberMany(context.Background(), s.c, ids, func(id int) string { return "page-item:" + strconv.Itoa(id) },
		func(ctx context.Context, missing []int) (map[int]product, error) {
			loaded = true
			out := make(map[int]product, len(missing))
			for id, v := range s.db.readMany(missing) {
				out[id] = product{ID: id, Version: v}
			}
			return out, nil
		}, aside.TagsFor(func(key string) []string { return []string{"product:" + strings.TrimPrefix(key, "page-item:")} }))
	tl.add(time.Since(start), afterOpen)
	if err != nil {
		tl.fail(&tl.wrong, "RememberMany %v: %v", ids, err)
		return
	}
	for i, id := range ids {
		p, ok := got[id]
		switch {
		case !ok || p.ID != id:
			tl.fail(&tl.wrong, "RememberMany %v returned %+v for product %d", ids, p, id)
		case p.Version < floor[i]:
			tl.fail(&tl.stale, "RememberMany returned version %d of product %d after version %d was written and invalidated", p.Version, id, floor[i])
		}
	}
	if !loaded {
		tl.hit(start)
	}
}

// phase runs the load for d and returns what HTTP, Remember and
// RememberMany callers saw.
func (s *stack) phase(d time.Duration, opened func() bool) (httpT, directT, batchT *tally) {
	httpT, directT, batchT = &tally{slowOver: s.slowOver[0]}, &tally{slowOver: s.slowOver[1]}, &tally{slowOver: s.slowOver[2]}
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := range httpClients {
		wg.Go(func() {
			for n := 0; time.Now().Before(stop); n++ {
				id := 1 + (w+n)%products
				if n%10 == 9 {
					s.put(id, httpT)
				} else {
					s.get(id, httpT, opened)
				}
			}
		})
	}
	for w := range directCalls {
		wg.Go(func() {
			for n := 0; time.Now().Before(stop); n++ {
				s.remember(1+(w*3+n)%products, directT, opened)
				time.Sleep(time.Millisecond)
			}
		})
	}
	for w := range batchCalls {
		wg.Go(func() {
			for n := 0; time.Now().Before(stop); n++ {
				s.rememberMany(w*5+n, batchT, opened)
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	return httpT, directT, batchT
}

func TestFaultInjectionOnARealRedisUnderLoad(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	s := newStack(t, srv.Addr())
	never := func() bool { return false }
	opened := func() bool { return s.c.Stats().CircuitOpens > 0 }

	check := func(name string, tls ...*tally) {
		t.Helper()
		for _, tl := range tls {
			if tl.server5xx > 0 || len(tl.wrong) > 0 {
				t.Errorf("%s: %d answers of status 5xx; wrong answers: %q", name, tl.server5xx, tl.wrong)
			}
			if len(tl.stale) > 0 {
				t.Errorf("%s: stale reads: %q", name, tl.stale)
			}
		}
	}
	bound := handlerDelay + timeout + slack

	// Healthy, until every kind of call has hits: on a machine loaded by
	// every package's tests at once, a first 1.5 s phase once saw none over
	// HTTP (p50 127 ms: the writers' invalidations kept up with the reads).
	var h, r, b *tally
	for range 3 {
		h, r, b = s.phase(1500*time.Millisecond, never)
		t.Logf("healthy: HTTP %s; Remember %s; RememberMany %s", h.summary(), r.summary(), b.summary())
		check("healthy", h, r, b)
		if h.hits > 0 && r.hits > 0 && b.hits > 0 {
			break
		}
	}
	if h.hits == 0 || r.hits == 0 || b.hits == 0 {
		t.Fatalf("the warm cache served no hits (HTTP %d, Remember %d, RememberMany %d)", h.hits, r.hits, b.hits)
	}
	for i, tl := range []*tally{h, r, b} {
		s.slowOver[i] = min(tl.percentile(0.90), timeout*4/5)
	}

	// Frozen: connections hang. Every call pays at most one Timeout, and
	// once the circuit is open, nothing.
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	pausedAt := time.Now()
	h, r, b = s.phase(3*time.Second, opened)
	st := s.c.Stats()
	t.Logf("SIGSTOP (3 s): HTTP %s; Remember %s; RememberMany %s; circuit %s, opened %d times, %d calls refused; %d HTTP, %d Remember and %d RememberMany calls slow after it opened",
		h.summary(), r.summary(), b.summary(), st.Circuit, st.CircuitOpens, st.Rejected, h.slowAfter, r.slowAfter, b.slowAfter)
	check("frozen", h, r, b)
	for name, tl := range map[string]*tally{"HTTP": h, "Remember": r, "RememberMany": b} {
		if m := tl.max(); m > bound {
			t.Errorf("frozen: a %s call took %v, more than one Timeout (%v) plus the handler and slack", name, m, timeout)
		}
	}
	if st.CircuitOpens == 0 {
		t.Error("frozen: the circuit never opened")
	}
	// After it opened, only the half-open probes (one per cool-down) may
	// wait for the frozen store; allow for each caller's in-flight call.
	cooldowns := int(time.Since(pausedAt)/time.Second) + 1
	if slow := h.slowAfter + r.slowAfter + b.slowAfter; slow > 2*cooldowns+httpClients+directCalls+batchCalls {
		t.Errorf("frozen: %d calls were slow after the circuit opened; want about one per cool-down (%d)", slow, cooldowns)
	}

	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	h, r, b = s.phase(2500*time.Millisecond, never)
	t.Logf("resumed: HTTP %s; Remember %s; RememberMany %s; first hit %v after SIGCONT", h.summary(), r.summary(), b.summary(), firstHit(h, r, b).Sub(back).Round(time.Millisecond))
	check("resumed", h, r, b)
	if rec := firstHit(h, r, b).Sub(back); firstHit(h, r, b).IsZero() || rec > 2*time.Second {
		t.Errorf("resumed: first hit %v after the store came back; want < 2 s", rec)
	}

	// Killed: connections are refused; the store comes back empty.
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	h, r, b = s.phase(2*time.Second, opened)
	st = s.c.Stats()
	t.Logf("SIGKILL (2 s): HTTP %s; Remember %s; RememberMany %s; circuit %s, opened %d times, %d calls refused",
		h.summary(), r.summary(), b.summary(), st.Circuit, st.CircuitOpens, st.Rejected)
	check("killed", h, r, b)
	for name, tl := range map[string]*tally{"HTTP": h, "Remember": r, "RememberMany": b} {
		if m := tl.max(); m > bound {
			t.Errorf("killed: a %s call took %v, more than one Timeout (%v) plus the handler and slack", name, m, timeout)
		}
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	back = time.Now()
	h, r, b = s.phase(2500*time.Millisecond, never)
	t.Logf("restarted: HTTP %s; Remember %s; RememberMany %s; first hit %v after the restart", h.summary(), r.summary(), b.summary(), firstHit(h, r, b).Sub(back).Round(time.Millisecond))
	check("restarted", h, r, b)
	if rec := firstHit(h, r, b).Sub(back); firstHit(h, r, b).IsZero() || rec > 2*time.Second {
		t.Errorf("restarted: first hit %v after the store came back; want < 2 s", rec)
	}
	st = s.c.Stats()
	t.Logf("totals: %d hits, %d misses, %d provider errors, %d refused by the circuit, %d invalidation retries, %d pending",
		st.Hits, st.Misses, st.Errors, st.Rejected, st.InvalidationRetries, st.InvalidationsPending)
}

func firstHit(ts ...*tally) time.Time {
	var first time.Time
	for _, tl := range ts {
		if !tl.firstHit.IsZero() && (first.IsZero() || tl.firstHit.Before(first)) {
			first = tl.firstHit
		}
	}
	return first
}
