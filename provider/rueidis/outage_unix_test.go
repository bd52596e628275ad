//go:build unix

package rueidis_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	rue "github.com/redis/rueidis"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/rueidis"
)

// A hung Redis (SIGSTOP: connections open, nothing answered).
func TestHungRedisTimesOutThenRecovers(t *testing.T) {
	runOutage(t, (*redistest.Server).Pause, (*redistest.Server).Resume, isTimeout)
}

// isTimeout reports whether err is the call's own timeout, or the read
// timeout with which rueidis drops a connection whose replies stopped
// (ConnWriteTimeout): calls that reach that dropped connection fail with its
// error at once.
func isTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)
}

// frozenTimeout is the provider timeout of the frozen-server bursts.
const frozenTimeout = 300 * time.Millisecond

// frozenBound is the most one call may take on a frozen server in these
// tests: 1.2 x Timeout plus 200 ms for goroutine wake-up when 128 callers
// run under -race on a loaded 2-core machine (the test log shows the
// figures of each run).
const frozenBound = frozenTimeout*12/10 + 200*time.Millisecond

// callers are the burst sizes of the frozen-server tests.
var callers = []int{1, 8, 32, 64, 128}

// requireBoundedBurst runs a burst of n callers making rounds calls each and
// requires every call to fail within frozenBound, with an error that is not
// a miss. It logs the latency figures.
func requireBoundedBurst(t *testing.T, n, rounds int, calls []namedCall, wantErr func(error) bool) {
	t.Helper()
	rs := burst(n, rounds, calls)
	p50, p99, max := quantiles(rs)
	t.Logf("%3d callers x %d calls: p50 %v, p99 %v, max %v", n, rounds, p50.Round(time.Millisecond), p99.Round(time.Millisecond), max.Round(time.Millisecond))
	for _, r := range rs {
		switch {
		case r.err == nil:
			t.Errorf("%s succeeded on a frozen server", r.name)
		case errors.Is(r.err, provider.ErrNotFound):
			t.Errorf("%s reported a miss instead of an error: %v", r.name, r.err)
		case wantErr != nil && !wantErr(r.err):
			t.Errorf("%s: %v, want a timeout", r.name, r.err)
		}
		if r.took > frozenBound {
			t.Errorf("%s took %v with %d callers and a %v timeout (bound %v)", r.name, r.took, n, frozenTimeout, frozenBound)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// A frozen Redis (SIGSTOP) answers nothing while the kernel still accepts
// connections: every call must end at its Timeout, whatever the number of
// callers, and whatever the client.
func TestFrozenRedisBoundsEveryCallAtAnyConcurrency(t *testing.T) {
	kinds := []struct {
		name string
		new  func(t *testing.T, addr string) *rueidis.Provider
	}{
		{"a provider built from a URL", func(t *testing.T, addr string) *rueidis.Provider {
			p, err := rueidis.NewFromURL("redis://"+addr, rueidis.Options{Timeout: frozenTimeout})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			return p
		}},
		{"a caller's client with rueidis defaults", func(t *testing.T, addr string) *rueidis.Provider {
			return newOver(t, callersClient(t, addr, 0), rueidis.Options{Timeout: frozenTimeout, CloseClient: true})
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			s := ownServer(t)
			p := k.new(t, s.Addr())
			setUp(t, p, "k", 0)
			if err := s.Pause(); err != nil {
				t.Fatal(err)
			}
			resumed := false
			defer func() {
				if !resumed {
					_ = s.Resume()
				}
			}()
			for _, n := range callers {
				requireBoundedBurst(t, n, 1, cacheCalls(p), isTimeout)
			}
			resumed = true
			if err := s.Resume(); err != nil {
				t.Fatal(err)
			}
			requireRecovers(t, p)
		})
	}
}

// rueidis queues the commands of a connection in a ring, counting those
// whose caller gave up, and a command that finds the ring full waits,
// ignoring its context, until the connection answers or is dropped
// (ConnWriteTimeout, 10 s by default). Here the ring holds 64 commands and
// 128 callers keep calling a frozen server, 512 calls in all: every call
// must still end at its Timeout, and what the frozen server piles up must
// stay within twice the provider's in-flight budget of 25. (With the
// provider always calling rueidis directly, calls of the same run waited
// for the ring 1.2 to 1.3 s, until rueidis dropped the connection.)
func TestFrozenRedisNeverFillsRueidissQueue(t *testing.T) {
	s := ownServer(t)
	c, err := rue.NewClient(rue.ClientOption{InitAddress: []string{s.Addr()}, RingScaleEachConn: 6})
	if err != nil {
		t.Fatal(err)
	}
	p := newOver(t, c, rueidis.Options{Timeout: frozenTimeout, MaxInFlight: 25, CloseClient: true})
	setUp(t, p, "k", 0)
	before := runtime.NumGoroutine()
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Resume() }()
	get := []namedCall{{"Get", func(ctx context.Context) error { _, err := p.Get(ctx, "k"); return err }}}
	requireBoundedBurst(t, 128, 4, get, isTimeout)
	// The callers are gone; what is left waiting on the frozen server is
	// the provider's goroutines and rueidis's, one per abandoned command.
	left := runtime.NumGoroutine() - before
	t.Logf("goroutines left waiting on the frozen server: %d (budget 25)", left)
	if left > 2*25+20 {
		t.Fatalf("%d goroutines wait on the frozen server; the budget is 25", left)
	}
}

// On a Cluster, a frozen master costs the calls that need it their Timeout
// and nothing more, at any concurrency; keys of the other masters keep
// answering.
func TestFrozenClusterNodeBoundsEveryCall(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	cl, err := redistest.StartCluster(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	p, err := rueidis.NewCluster("", cl.Addrs(), rueidis.Options{Timeout: frozenTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	raw, err := rue.NewClient(rue.ClientOption{InitAddress: cl.Addrs(), DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx := ctxFor(t)
	frozen := cl.Nodes[0]
	// The node serving each slot, from CLUSTER SHARDS-free means: ask each
	// master for the keys of its own slots with CLUSTER KEYSLOT and
	// CLUSTER SLOTS.
	owner := slotOwners(t, raw)
	var onFrozen, onOther string
	for i := 0; onFrozen == "" || onOther == ""; i++ {
		k := fmt.Sprintf("{frozen-test:%d}", i)
		slot, err := raw.Do(ctx, raw.B().ClusterKeyslot().Key(k).Build()).AsInt64()
		if err != nil {
			t.Fatal(err)
		}
		if owner(slot) == frozen.Addr() {
			onFrozen = cmp.Or(onFrozen, k)
		} else {
			onOther = cmp.Or(onOther, k)
		}
	}
	for _, k := range []string{onFrozen, onOther} {
		setUp(t, p, k, time.Minute)
	}
	if err := frozen.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = frozen.Resume()
		}
	}()
	if v, err := p.Get(ctx, onOther); err != nil || string(v) != "v" {
		t.Fatalf("Get of a key on a healthy master = %q, %v; want \"v\"", v, err)
	}
	lease := onFrozen + ":lease"
	calls := []namedCall{
		{"Get", func(ctx context.Context) error { _, err := p.Get(ctx, onFrozen); return err }},
		{"GetMulti", func(ctx context.Context) error { _, err := p.GetMulti(ctx, []string{onOther, onFrozen}); return err }},
		{"Set", func(ctx context.Context) error { return p.Set(ctx, onFrozen, []byte("w"), time.Minute) }},
		{"Add", func(ctx context.Context) error { _, _, err := p.Add(ctx, lease, []byte("v"), time.Minute); return err }},
		{"CompareAndSwap", func(ctx context.Context) error {
			_, err := p.CompareAndSwap(ctx, lease, []byte("v"), []byte("w"), time.Minute)
			return err
		}},
		{"Delete", func(ctx context.Context) error {
			_, err := p.Delete(ctx, onOther+":none", onFrozen+":none")
			return err
		}},
		{"SetMulti", func(ctx context.Context) error {
			return p.SetMulti(ctx, []provider.Item{{Key: onOther, Value: []byte("v")}, {Key: onFrozen, Value: []byte("v")}})
		}},
	}
	for _, n := range callers {
		requireBoundedBurst(t, n, 1, calls, nil)
	}
	resumed = true
	if err := frozen.Resume(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := p.Get(context.Background(), onFrozen)
		if err == nil && len(v) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the provider did not reach the resumed node within 30s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// slotOwners returns a function from a hash slot to the address of the
// master serving it, read from CLUSTER SLOTS.
func slotOwners(t *testing.T, c rue.Client) func(int64) string {
	t.Helper()
	ranges, err := c.Do(ctxFor(t), c.B().ClusterSlots().Build()).ToArray()
	if err != nil {
		t.Fatal(err)
	}
	type span struct {
		lo, hi int64
		addr   string
	}
	var spans []span
	for _, r := range ranges {
		f, err := r.ToArray()
		if err != nil || len(f) < 3 {
			t.Fatalf("CLUSTER SLOTS entry: %v", err)
		}
		lo, _ := f[0].AsInt64()
		hi, _ := f[1].AsInt64()
		node, _ := f[2].ToArray()
		host, _ := node[0].ToString()
		port, _ := node[1].AsInt64()
		spans = append(spans, span{lo, hi, fmt.Sprintf("%s:%d", host, port)})
	}
	return func(slot int64) string {
		for _, s := range spans {
			if slot >= s.lo && slot <= s.hi {
				return s.addr
			}
		}
		return ""
	}
}

// A frozen Redis at start delays NewFromURL's database check by its Timeout
// at most, and does not fail it.
func TestFrozenRedisAtStartDelaysTheDatabaseCheckByTheTimeoutOnly(t *testing.T) {
	s := ownServer(t)
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Resume() }()
	start := time.Now()
	p, err := rueidis.NewFromURL(s.URL(99), rueidis.Options{Timeout: frozenTimeout})
	if err != nil {
		t.Fatalf("NewFromURL with Redis frozen = %v; the program must start", err)
	}
	defer p.Close()
	if took := time.Since(start); took > frozenBound {
		t.Fatalf("NewFromURL took %v with a %v timeout (bound %v)", took, frozenTimeout, frozenBound)
	}
	_ = s.Resume()
}
