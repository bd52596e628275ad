package dual_test

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
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
	"github.com/aside-go/aside/provider/dual"
	"github.com/aside-go/aside/provider/memory"
	"github.com/aside-go/aside/provider/redis"
)

// The soak tests run the whole stack (Echo middleware, aside.Remember, a
// composite of this package, a test-owned redis-server on loopback) under
// load while the redis-server is frozen (SIGSTOP), thawed, killed
// (SIGKILL) and restarted, with writes and their invalidations racing the
// reads. They fail on any stale read, any 5xx, any error reaching a
// Remember caller or an invalidating handler, and any call slower than one
// provider timeout plus slack. Run them with -v to see the figures.
const (
	soakTimeout      = 250 * time.Millisecond // redis.DefaultTimeout: what one call may pay
	soakHandlerDelay = 3 * time.Millisecond
	soakSlack        = 400 * time.Millisecond // at least; see soakStack.bound
	soakProducts     = 16
	soakHTTPClients  = 10
	soakRememberers  = 4
)

// soakDB is the origin: products whose version goes up with every write.
type soakDB struct {
	mu       sync.Mutex
	versions [soakProducts + 1]int64
}

func (d *soakDB) read(id int) int64 {
	time.Sleep(soakHandlerDelay)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.versions[id]
}

func (d *soakDB) bump(id int) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.versions[id]++
	return d.versions[id]
}

// soakTally is what the load saw.
type soakTally struct {
	reads, hits, puts       atomic.Int64
	stale, server5xx, wrong atomic.Int64
	rememberErrs            atomic.Int64
	atRisk                  atomic.Int64 // reads after a SIGCONT of products invalidated while frozen
	mu                      sync.Mutex
	problems                []string
	latencies               []time.Duration
	healthy                 []time.Duration // of calls that began before the first fault
	faulted                 atomic.Bool     // the first fault has begun
}

func (t *soakTally) problem(counter *atomic.Int64, format string, args ...any) {
	counter.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.problems) < 10 {
		t.problems = append(t.problems, fmt.Sprintf(format, args...))
	}
}

func (t *soakTally) latency(start time.Time, faulted bool) {
	d := time.Since(start)
	t.mu.Lock()
	t.latencies = append(t.latencies, d)
	if !faulted {
		t.healthy = append(t.healthy, d)
	}
	t.mu.Unlock()
}

// bound is what one call may take: one provider timeout, the handler, and
// slack. The slack is soakSlack or three times the p99 of the calls made
// before the first fault, whichever is larger, so that a loaded machine
// (the race detector on 2 cores shared with other work) moves the bound
// with it: what the bound catches is a call paying a second timeout.
func (t *soakTally) bound() time.Duration {
	t.mu.Lock()
	l := slices.Clone(t.healthy)
	t.mu.Unlock()
	slack := soakSlack
	if len(l) > 0 {
		slices.Sort(l)
		slack = max(slack, 3*l[min(len(l)-1, len(l)*99/100)])
	}
	return soakHandlerDelay + soakTimeout + slack
}

// percentiles returns the p50, p99 and max latency, and how many calls took
// longer than bound.
func (t *soakTally) percentiles(bound time.Duration) (p50, p99, max time.Duration, over int) {
	t.mu.Lock()
	l := slices.Clone(t.latencies)
	t.mu.Unlock()
	if len(l) == 0 {
		return 0, 0, 0, 0
	}
	slices.Sort(l)
	for _, d := range l {
		if d > bound {
			over++
		}
	}
	at := func(q float64) time.Duration { return l[min(len(l)-1, int(q*float64(len(l))))].Round(time.Millisecond) }
	return at(0.5), at(0.99), l[len(l)-1].Round(time.Millisecond), over
}

// soakStack is one application process: a Cache over a composite, an Echo
// app on a loopback port, and the floors its own writes set.
type soakStack struct {
	name   string
	c      *aside.Cache
	db     *soakDB
	srv    *httptest.Server
	client *http.Client
	// floor[id] is the highest version whose PUT (write, then invalidation)
	// has returned in this process: a read that begins later must return
	// at least that.
	floor [soakProducts + 1]atomic.Int64
	// frozenWrite[id] is set when a PUT of id returned while the store was
	// frozen; the first read after it thaws counts as at risk.
	frozenWrite [soakProducts + 1]atomic.Bool
	tally       soakTally
}

type soakProduct struct {
	ID      int   `json:"id"`
	Version int64 `json:"version"`
}

func newSoakStack(t *testing.T, name string, p provider.Provider, db *soakDB, frozen func() bool) *soakStack {
	t.Helper()
	c, err := aside.New(aside.Options{Provider: p, Namespace: "soak"})
	if err != nil {
		t.Fatal(err)
	}
	s := &soakStack{name: name, c: c, db: db}
	e := echo.New()
	g := e.Group("", middleware.CacheWithConfig(middleware.CacheConfig{Cache: c, TTL: time.Minute}))
	product := func(ec echo.Context) (int, error) {
		id, err := strconv.Atoi(ec.Param("id"))
		if err != nil || id < 1 || id > soakProducts {
			return 0, echo.NewHTTPError(http.StatusNotFound)
		}
		return id, nil
	}
	g.GET("/products/:id", func(ec echo.Context) error {
		id, err := product(ec)
		if err != nil {
			return err
		}
		if err := middleware.Tag(ec, "product:"+ec.Param("id")); err != nil {
			return err
		}
		return ec.JSON(http.StatusOK, soakProduct{ID: id, Version: db.read(id)})
	})
	g.PUT("/products/:id", func(ec echo.Context) error {
		id, err := product(ec)
		if err != nil {
			return err
		}
		v := db.bump(id)
		// Plain InvalidateTags: a composite that answers during an outage
		// makes it succeed; a failure here is a cache-caused 5xx.
		if err := c.InvalidateTags(ec.Request().Context(), "product:"+ec.Param("id")); err != nil {
			return fmt.Errorf("invalidate: %w", err)
		}
		if frozen() {
			s.frozenWrite[id].Store(true)
		}
		return ec.JSON(http.StatusOK, soakProduct{ID: id, Version: v})
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

func (s *soakStack) raise(id int, v int64) {
	for {
		cur := s.floor[id].Load()
		if v <= cur || s.floor[id].CompareAndSwap(cur, v) {
			return
		}
	}
}

func (s *soakStack) get(id int, serving func() bool) {
	floor := s.floor[id].Load()
	faulted := s.tally.faulted.Load()
	if serving() && s.frozenWrite[id].CompareAndSwap(true, false) {
		s.tally.atRisk.Add(1)
	}
	start := time.Now()
	res, err := s.client.Get(fmt.Sprintf("%s/products/%d", s.srv.URL, id))
	if err != nil {
		s.tally.problem(&s.tally.wrong, "%s GET %d: %v", s.name, id, err)
		return
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	s.tally.latency(start, faulted)
	s.tally.reads.Add(1)
	var p soakProduct
	switch {
	case res.StatusCode >= 500:
		s.tally.problem(&s.tally.server5xx, "%s GET %d: status %d: %s", s.name, id, res.StatusCode, body)
	case err != nil || res.StatusCode != http.StatusOK || json.Unmarshal(body, &p) != nil || p.ID != id:
		s.tally.problem(&s.tally.wrong, "%s GET %d: status %d body %q", s.name, id, res.StatusCode, body)
	case p.Version < floor:
		s.tally.problem(&s.tally.stale, "%s GET %d returned version %d after version %d was written and invalidated", s.name, id, p.Version, floor)
	case strings.Contains(res.Header.Get("Cache-Status"), "; hit"):
		s.tally.hits.Add(1)
	}
}

func (s *soakStack) put(id int) {
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/products/%d", s.srv.URL, id), nil)
	faulted := s.tally.faulted.Load()
	start := time.Now()
	res, err := s.client.Do(req)
	if err != nil {
		s.tally.problem(&s.tally.wrong, "%s PUT %d: %v", s.name, id, err)
		return
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	s.tally.latency(start, faulted)
	s.tally.puts.Add(1)
	var p soakProduct
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &p) != nil {
		counter := &s.tally.wrong
		if res.StatusCode >= 500 {
			counter = &s.tally.server5xx
		}
		s.tally.problem(counter, "%s PUT %d: status %d body %q", s.name, id, res.StatusCode, body)
		return
	}
	s.raise(id, p.Version)
}

func (s *soakStack) remember(id int, serving func() bool) {
	floor := s.floor[id].Load()
	faulted := s.tally.faulted.Load()
	if serving() && s.frozenWrite[id].CompareAndSwap(true, false) {
		s.tally.atRisk.Add(1)
	}
	start := time.Now()
	hit := true
	p, err := aside.Remember(context.Background(), s.c, "summary:"+strconv.Itoa(id), func(ctx context.Context) (soakProduct, error) {
		hit = false
		_ = aside.LoadTags(ctx, "product:"+strconv.Itoa(id))
		return soakProduct{ID: id, Version: s.db.read(id)}, nil
	}, aside.TTL(time.Minute))
	s.tally.latency(start, faulted)
	s.tally.reads.Add(1)
	switch {
	case err != nil:
		s.tally.problem(&s.tally.rememberErrs, "%s Remember %d: %v", s.name, id, err)
	case p.ID != id:
		s.tally.problem(&s.tally.wrong, "%s Remember %d returned product %d", s.name, id, p.ID)
	case p.Version < floor:
		s.tally.problem(&s.tally.stale, "%s Remember %d returned version %d after version %d was written and invalidated", s.name, id, p.Version, floor)
	case hit:
		s.tally.hits.Add(1)
	}
}

// load runs the clients of every stack until stop is closed.
func soakLoad(stacks []*soakStack, stop <-chan struct{}, serving func() bool) {
	var wg sync.WaitGroup
	running := func() bool {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	for si, s := range stacks {
		for w := range soakHTTPClients {
			wg.Go(func() {
				for n := 0; running(); n++ {
					id := 1 + (w+n+si)%soakProducts
					if n%8 == 7 {
						s.put(id)
					} else {
						s.get(id, serving)
					}
				}
			})
		}
		for w := range soakRememberers {
			wg.Go(func() {
				for n := 0; running(); n++ {
					s.remember(1+(w*5+n+si)%soakProducts, serving)
					time.Sleep(time.Millisecond)
				}
			})
		}
	}
	wg.Wait()
}

// step is one fault of a schedule: what to do, what to wait for (the
// composite serving normally again after a store came back; at most
// soakRecovery), and how long the load then runs before the next step.
type step struct {
	name  string
	do    func() error
	until func() bool
	hold  time.Duration
}

// soakRecovery bounds the wait for a composite to serve normally again once
// its store is back: a cool-down, a probe and a replay, plus go-redis's
// one-second re-dial pause after a restart, on a loaded machine.
const soakRecovery = 10 * time.Second

// runSchedule runs the steps while the load runs, then stops the load. It
// returns how long each step's until took to hold (0 without one).
func runSchedule(t *testing.T, stacks []*soakStack, serving func() bool, steps []step) []time.Duration {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		soakLoad(stacks, stop, serving)
		close(done)
	}()
	defer func() {
		close(stop)
		<-done
	}()
	waited := make([]time.Duration, len(steps))
	for i, st := range steps {
		if i == 1 {
			for _, s := range stacks {
				s.tally.faulted.Store(true)
			}
		}
		if st.do != nil {
			if err := st.do(); err != nil {
				t.Errorf("%s: %v", st.name, err)
				return waited
			}
		}
		if st.until != nil {
			start := time.Now()
			for !st.until() {
				if time.Since(start) > soakRecovery {
					t.Errorf("%s: not serving normally %v after the store came back", st.name, soakRecovery)
					return waited
				}
				time.Sleep(2 * time.Millisecond)
			}
			waited[i] = time.Since(start)
		}
		time.Sleep(st.hold)
	}
	return waited
}

// check fails on any stale read, 5xx, wrong answer or Remember error, and
// on more than 1% of calls (or 3) slower than tally.bound: a scheduler
// stall may delay a few calls, a call paying two timeouts would show in
// many.
func (s *soakStack) check(t *testing.T) {
	t.Helper()
	tl := &s.tally
	if tl.stale.Load()+tl.server5xx.Load()+tl.wrong.Load()+tl.rememberErrs.Load() > 0 {
		t.Errorf("%s: %d stale reads, %d 5xx, %d wrong answers, %d Remember errors; first: %q",
			s.name, tl.stale.Load(), tl.server5xx.Load(), tl.wrong.Load(), tl.rememberErrs.Load(), tl.problems)
	}
	calls := int(tl.reads.Load() + tl.puts.Load())
	if _, _, _, over := tl.percentiles(tl.bound()); over > max(3, calls/100) {
		t.Errorf("%s: %d of %d calls took more than one provider timeout (%v) plus the handler and slack (%v)", s.name, over, calls, soakTimeout, tl.bound())
	}
	if tl.reads.Load() < 500 || tl.puts.Load() < 25 {
		t.Errorf("%s: %d reads and %d writes: too little load to prove anything", s.name, tl.reads.Load(), tl.puts.Load())
	}
}

// TestSoakFallback runs one process over a Fallback whose primary is a
// test-owned redis-server that is frozen, thawed, killed and restarted
// under load.
func TestSoakFallback(t *testing.T) {
	srv := ownServer(t)
	p, err := redis.NewFromURL(srv.URL(0), redis.Options{Timeout: soakTimeout})
	if err != nil {
		t.Fatal(err)
	}
	f, err := dual.NewFallback(p, dual.FallbackOptions{
		Breaker: circuit.Options{CoolDown: 200 * time.Millisecond},
		Scope:   "aside:soak:*",
	})
	if err != nil {
		t.Fatal(err)
	}
	var frozen atomic.Bool
	serving := func() bool { return f.State() == dual.Primary }
	s := newSoakStack(t, "fallback", f, &soakDB{}, frozen.Load)
	freeze := func() error {
		frozen.Store(true)
		return srv.Pause()
	}
	thaw := func() error {
		frozen.Store(false)
		return srv.Resume()
	}
	steps := []step{
		{"healthy", nil, nil, 1200 * time.Millisecond},
		{"SIGSTOP", freeze, nil, 1200 * time.Millisecond},
		{"SIGCONT", thaw, serving, 800 * time.Millisecond},
		{"SIGSTOP again", freeze, nil, 700 * time.Millisecond},
		{"SIGCONT again", thaw, serving, 800 * time.Millisecond},
		{"SIGKILL", srv.Stop, nil, 900 * time.Millisecond},
		{"restart", srv.Start, serving, 800 * time.Millisecond},
	}
	waited := runSchedule(t, []*soakStack{s}, serving, steps)

	st := f.Stats()
	tl := &s.tally
	p50, p99, maxL, over := tl.percentiles(tl.bound())
	t.Logf("fallback over redis: %d reads (%d hits), %d writes+invalidations; %d stale reads, %d 5xx, %d Remember errors",
		tl.reads.Load(), tl.hits.Load(), tl.puts.Load(), tl.stale.Load(), tl.server5xx.Load(), tl.rememberErrs.Load())
	t.Logf("  latency p50 %v, p99 %v, max %v; %d calls over %v", p50, p99, maxL, over, tl.bound().Round(time.Millisecond))
	t.Logf("  %d outages, %d calls served by the secondary; %d journal replays delivering %d keys/patterns; "+
		"%d reads after a thaw of products invalidated while frozen (stale without the replay)",
		st.Outages, st.Served, st.Journal.Replays, st.Journal.Replayed, tl.atRisk.Load())
	t.Logf("  primary serving again after SIGCONT, SIGCONT, restart: %v, %v, %v; last reconciliation (probe answered to switch back) %v, max %v",
		waited[2].Round(time.Millisecond), waited[4].Round(time.Millisecond), waited[6].Round(time.Millisecond),
		st.LastReconcile.Round(time.Microsecond), st.MaxReconcile.Round(time.Microsecond))
	t.Logf("  primary: %d calls, %d errors, hit rate %.2f, p50 %v p99 %v; secondary: %d calls, hit rate %.2f, p99 %v",
		st.Primary.Calls, st.Primary.Errors, st.Primary.HitRate(), st.Primary.Latency.Quantile(0.5), st.Primary.Latency.Quantile(0.99),
		st.Secondary.Calls, st.Secondary.HitRate(), st.Secondary.Latency.Quantile(0.99))

	s.check(t)
	if st.Outages < 3 || st.Served == 0 || st.Journal.Replays < 3 {
		t.Errorf("%d outages, %d calls served by the secondary, %d replays: the faults did not exercise the fallback", st.Outages, st.Served, st.Journal.Replays)
	}
	if tl.atRisk.Load() == 0 {
		t.Error("no product invalidated while the store was frozen was read after it thawed: the replay was not exercised")
	}
}

// TestSoakMigrate runs two processes, each a Migrator from its own memory
// primary to a shared redis-server secondary, reading through and
// backfilling, while the redis-server is frozen, thawed, killed and
// restarted under load. Each process checks its reads against its own
// writes: processes with private memory primaries do not see each other's
// invalidations, as before the migration.
func TestSoakMigrate(t *testing.T) {
	srv := ownServer(t)
	db := &soakDB{}
	var frozen atomic.Bool
	var ms []*dual.Migrator
	var stacks []*soakStack
	for _, name := range []string{"process 1", "process 2"} {
		r, err := redis.NewFromURL(srv.URL(0), redis.Options{Timeout: soakTimeout})
		if err != nil {
			t.Fatal(err)
		}
		mem, err := memory.New(memory.Options{})
		if err != nil {
			t.Fatal(err)
		}
		m, err := dual.NewMigrator(mem, r, dual.MigrateOptions{
			ReadThrough: true,
			Breaker:     circuit.Options{CoolDown: 200 * time.Millisecond},
			Scope:       "aside:soak:*",
		})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
		stacks = append(stacks, newSoakStack(t, name, m, db, frozen.Load))
	}
	always := func() bool { return true }
	// caughtUp: every secondary's circuit is closed and its journal empty.
	caughtUp := func() bool {
		for _, m := range ms {
			st := m.Stats()
			if st.Breaker.State != circuit.Closed || st.Journal.Keys+st.Journal.Patterns > 0 || st.Journal.Overflowed {
				return false
			}
		}
		return true
	}
	steps := []step{
		{"healthy", nil, nil, 1000 * time.Millisecond},
		{"SIGSTOP", func() error { frozen.Store(true); return srv.Pause() }, nil, 1000 * time.Millisecond},
		{"SIGCONT", func() error { frozen.Store(false); return srv.Resume() }, caughtUp, 700 * time.Millisecond},
		{"SIGKILL", srv.Stop, nil, 800 * time.Millisecond},
		{"restart", srv.Start, caughtUp, 700 * time.Millisecond},
	}
	waited := runSchedule(t, stacks, always, steps)
	t.Logf("secondaries caught up (circuit closed, journal replayed) after SIGCONT, restart: %v, %v",
		waited[2].Round(time.Millisecond), waited[4].Round(time.Millisecond))
	for i, m := range ms {
		s, st := stacks[i], m.Stats()
		tl := &s.tally
		p50, p99, maxL, over := tl.percentiles(tl.bound())
		t.Logf("%s, memory -> redis: %d reads (%d hits), %d writes+invalidations; %d stale reads, %d 5xx, %d Remember errors",
			s.name, tl.reads.Load(), tl.hits.Load(), tl.puts.Load(), tl.stale.Load(), tl.server5xx.Load(), tl.rememberErrs.Load())
		t.Logf("  latency p50 %v, p99 %v, max %v; %d calls over %v", p50, p99, maxL, over, tl.bound().Round(time.Millisecond))
		t.Logf("  %d read-throughs (%d hits), %d backfills; secondary journal: %d replays delivering %d keys/patterns, %d overflows, %d pending",
			st.ReadThroughs, st.ReadThroughHits, st.Backfills, st.Journal.Replays, st.Journal.Replayed, st.Journal.Overflows, st.Journal.Keys+st.Journal.Patterns)
		t.Logf("  primary (memory): %d calls, hit rate %.2f, p99 %v; secondary (redis): %d calls, %d errors, %d refused, hit rate %.2f, p50 %v, p99 %v",
			st.Primary.Calls, st.Primary.HitRate(), st.Primary.Latency.Quantile(0.99),
			st.Secondary.Calls, st.Secondary.Errors, st.Secondary.Refused, st.Secondary.HitRate(),
			st.Secondary.Latency.Quantile(0.5), st.Secondary.Latency.Quantile(0.99))
		s.check(t)
		if st.ReadThroughHits == 0 || st.Journal.Replays < 2 {
			t.Errorf("%s: %d read-through hits, %d journal replays: the faults did not exercise the migration", s.name, st.ReadThroughHits, st.Journal.Replays)
		}
	}
}
