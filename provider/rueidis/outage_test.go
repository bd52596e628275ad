package rueidis_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/rueidis"
)

// outageTimeout is the provider timeout of the outage tests.
const outageTimeout = 200 * time.Millisecond

// failBound is how long a call may take to fail while Redis is down or hung:
// twice the timeout plus slack for goroutine wake-up delays on a loaded CI
// machine.
const failBound = 2*outageTimeout + 600*time.Millisecond

// outageProviders are the two ways a provider meets a client: built from a
// URL, and a caller's client with rueidis's defaults (retries, a 10 s
// ConnWriteTimeout, client tracking on).
var outageProviders = []struct {
	name string
	new  func(t *testing.T, addr string) *rueidis.Provider
}{
	{"a provider built from a URL", func(t *testing.T, addr string) *rueidis.Provider {
		p, err := rueidis.NewFromURL("redis://"+addr, rueidis.Options{Timeout: outageTimeout, ScanTimeout: outageTimeout})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}},
	{"a caller's client with rueidis defaults", func(t *testing.T, addr string) *rueidis.Provider {
		return newOver(t, callersClient(t, addr, 0), rueidis.Options{Timeout: outageTimeout, ScanTimeout: outageTimeout, CloseClient: true})
	}},
}

// everyCall returns each method of p, called with valid arguments.
func everyCall(p *rueidis.Provider) map[string]func(ctx context.Context) error {
	return map[string]func(context.Context) error{
		"Get":      func(ctx context.Context) error { _, err := p.Get(ctx, "k"); return err },
		"GetMulti": func(ctx context.Context) error { _, err := p.GetMulti(ctx, []string{"k", "t1", "t2"}); return err },
		"Set":      func(ctx context.Context) error { return p.Set(ctx, "k", []byte("v"), time.Minute) },
		"Add": func(ctx context.Context) error {
			_, _, err := p.Add(ctx, "lease", []byte("v"), time.Minute)
			return err
		},
		"AddMulti": func(ctx context.Context) error {
			_, err := p.AddMulti(ctx, []provider.Item{{Key: "lease2", Value: []byte("v")}, {Key: "lease3", Value: []byte("v")}})
			return err
		},
		"CompareAndSwap": func(ctx context.Context) error {
			_, err := p.CompareAndSwap(ctx, "lease", []byte("v"), []byte("w"), time.Minute)
			return err
		},
		"GetAddMulti": func(ctx context.Context) error {
			_, err := p.GetAddMulti(ctx, []provider.Fetch{{Key: "k", Add: []byte("lease"), TTL: time.Minute}, {Key: "t1"}})
			return err
		},
		"CompareAndSwapMulti": func(ctx context.Context) error {
			_, err := p.CompareAndSwapMulti(ctx, []provider.Swap{{Key: "k", Old: []byte("lease"), New: []byte("v")}, {Key: "t1", Old: []byte("1"), New: []byte("2")}})
			return err
		},
		"Delete": func(ctx context.Context) error { _, err := p.Delete(ctx, "k", "t1"); return err },
		"SetMulti": func(ctx context.Context) error {
			return p.SetMulti(ctx, []provider.Item{{Key: "t1", Value: []byte("1")}, {Key: "t2", Value: []byte("2")}})
		},
		"DeletePattern": func(ctx context.Context) error { _, err := p.DeletePattern(ctx, "t*"); return err },
		"Len":           func(ctx context.Context) error { _, err := p.Len(ctx); return err },
		"Ping":          func(ctx context.Context) error { return p.Ping(ctx) },
	}
}

// namedCall is one provider method called with valid arguments.
type namedCall struct {
	name string
	call func(context.Context) error
}

// cacheCalls are the calls the Cache makes on its own paths (everything but
// DeletePattern and Len, whose bounds are per batch or per node), in a fixed
// order.
func cacheCalls(p *rueidis.Provider) []namedCall {
	var calls []namedCall
	for name, call := range everyCall(p) {
		if name != "DeletePattern" && name != "Len" {
			calls = append(calls, namedCall{name, call})
		}
	}
	slices.SortFunc(calls, func(a, b namedCall) int { return strings.Compare(a.name, b.name) })
	return calls
}

// callResult is how one call of a burst ended.
type callResult struct {
	name string
	took time.Duration
	err  error
}

// burst starts n callers at once, caller i making calls[i%len(calls)]
// rounds times in a row with a background context, and returns how each
// call ended.
func burst(n, rounds int, calls []namedCall) []callResult {
	out := make([]callResult, n*rounds)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := calls[i%len(calls)]
			<-start
			for r := range rounds {
				t0 := time.Now()
				err := c.call(context.Background())
				out[i*rounds+r] = callResult{c.name, time.Since(t0), err}
			}
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// quantiles returns the median, the 99th percentile and the maximum of the
// durations of rs.
func quantiles(rs []callResult) (p50, p99, max time.Duration) {
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = r.took
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) time.Duration { return ds[int(q*float64(len(ds)-1))] }
	return at(0.5), at(0.99), ds[len(ds)-1]
}

// requireFailsFast calls every method a few times and checks that each
// fails, with a real error rather than a miss, within failBound.
func requireFailsFast(t *testing.T, p *rueidis.Provider, want func(error) bool) {
	t.Helper()
	for range 2 {
		for name, call := range everyCall(p) {
			start := time.Now()
			err := call(context.Background())
			took := time.Since(start)
			if err == nil {
				t.Fatalf("%s succeeded while Redis was unavailable", name)
			}
			if errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("%s reported a miss instead of an error: %v", name, err)
			}
			if want != nil && !want(err) {
				t.Fatalf("%s: got %v, want a timeout", name, err)
			}
			if took > failBound {
				t.Fatalf("%s took %v to fail with a %v timeout (bound %v)", name, took, outageTimeout, failBound)
			}
		}
	}
}

// setUp stores "v" under key before a test takes Redis down. The first
// call of a URL-built provider also connects (on a Cluster: CLUSTER SLOTS
// and a dial per node), which under -race on a loaded machine can take
// longer than the short Timeouts of these tests; it is retried for up to
// 10 s, since the connection goes on in the background.
func setUp(t *testing.T, p *rueidis.Provider, key string, ttl time.Duration) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := p.Set(context.Background(), key, []byte("v"), ttl)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Set(%q) before the outage: %v", key, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requireRecovers waits until p works again, without rebuilding it.
func requireRecovers(t *testing.T, p *rueidis.Provider) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := p.Set(context.Background(), "k", []byte("back"), time.Minute)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the provider did not recover within 15s after Redis came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for name, call := range everyCall(p) {
		if err := call(context.Background()); err != nil && !errors.Is(err, provider.ErrNotFound) {
			t.Fatalf("%s after recovery: %v", name, err)
		}
	}
	if err := p.Set(context.Background(), "t1", []byte("1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	v, err := p.Get(context.Background(), "t1")
	if err != nil || string(v) != "1" {
		t.Fatalf("Get after recovery = %q, %v; want \"1\"", v, err)
	}
}

// A stopped Redis refuses connections: each call fails at once (one refused
// dial, no retry), never after the timeout. Timing is judged by the median
// of many calls and a generous bound on each.
func TestStoppedRedisFailsEveryCallAtOnce(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := ownServer(t)
	p, err := rueidis.NewFromURL("redis://"+s.Addr(), rueidis.Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	setUp(t, p, "k", time.Minute)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	var rs []callResult
	for range 8 {
		for _, c := range cacheCalls(p) {
			t0 := time.Now()
			err := c.call(context.Background())
			rs = append(rs, callResult{c.name, time.Since(t0), err})
		}
	}
	for _, r := range rs {
		if r.err == nil || errors.Is(r.err, provider.ErrNotFound) {
			t.Fatalf("%s with Redis stopped = %v, want a connection error", r.name, r.err)
		}
		if errors.Is(r.err, context.DeadlineExceeded) {
			t.Fatalf("%s waited for the timeout on a refused connection: %v", r.name, r.err)
		}
		if r.took > timeout {
			t.Fatalf("%s took %v to fail on a refused connection (timeout %v)", r.name, r.took, timeout)
		}
	}
	p50, p99, max := quantiles(rs)
	t.Logf("stopped server, %d sequential calls: p50 %v, p99 %v, max %v", len(rs), p50, p99, max)
	if p50 > 10*time.Millisecond {
		t.Fatalf("calls on a refused connection took %v (median); they must fail at once", p50)
	}
}

// A Redis that is down when the provider is made costs nothing at start,
// fails calls at once, and is used as soon as it comes up.
func TestRedisDownAtStartFailsFastThenConnects(t *testing.T) {
	s := ownServer(t)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	p, err := rueidis.NewFromURL("redis://"+s.Addr(), rueidis.Options{Timeout: outageTimeout, ScanTimeout: outageTimeout})
	if err != nil {
		t.Fatalf("NewFromURL with Redis down = %v; the program must start", err)
	}
	defer p.Close()
	requireFailsFast(t, p, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	requireRecovers(t, p)
}

func TestRedisStoppedAndRestartedFailsFastThenRecovers(t *testing.T) {
	runOutage(t, (*redistest.Server).Stop, (*redistest.Server).Start, nil)
}

// runOutage takes a test-owned server down with down while every kind of
// provider in outageProviders holds connections to it, requires each call to
// fail fast (with wantErr when not nil), brings it back with up, and
// requires the same provider to recover.
func runOutage(t *testing.T, down, up func(*redistest.Server) error, wantErr func(error) bool) {
	t.Helper()
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	for _, tc := range outageProviders {
		t.Run(tc.name, func(t *testing.T) {
			s, err := redistest.StartServer()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			p := tc.new(t, s.Addr())
			setUp(t, p, "k", 0)
			if err := down(s); err != nil {
				t.Fatal(err)
			}
			requireFailsFast(t, p, wantErr)
			if err := up(s); err != nil {
				t.Fatal(err)
			}
			requireRecovers(t, p)
		})
	}
}
