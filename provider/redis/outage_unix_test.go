//go:build unix

package redis_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/redis"
)

// A hung Redis (SIGSTOP: connections open, nothing answered) is where
// ContextTimeoutEnabled matters: without the provider's bound, go-redis would
// wait for its 5 s ReadTimeout.
func TestHungRedisTimesOutThenRecovers(t *testing.T) {
	runOutage(t, (*redistest.Server).Pause, (*redistest.Server).Resume, context.DeadlineExceeded)
}

func TestACallerDeadlineShorterThanTheTimeoutWins(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	s, err := redistest.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := redis.NewFromURL("redis://"+s.Addr(), redis.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Resume() }()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Get(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Get took %v with a 100ms caller deadline and a 5s provider timeout", took)
	}
}

// frozenTimeout is the provider timeout of the frozen-server bursts: large
// enough that the wake-up delays of a loaded 2-core machine are small next to
// it.
const frozenTimeout = 300 * time.Millisecond

// frozenBound is the most one call may take on a frozen server in these
// tests: the 1.2 x Timeout the provider promises, plus 200 ms for goroutine
// wake-up when 128 callers run under -race on a loaded 2-core machine (at a
// load of 11 the worst call measured 1.14 x Timeout; the test log shows the
// figures of each run). Before each call had a cancellable context, waits for
// a pooled connection and retry backoffs outlived the call's deadline: the
// worst calls of these bursts took 500 to 700 ms.
const frozenBound = frozenTimeout*12/10 + 200*time.Millisecond

// callers are the burst sizes of the frozen-server tests.
var callers = []int{1, 8, 32, 64, 128}

// requireBoundedBurst runs a burst of n callers and requires every call to
// fail within frozenBound, with an error that is not a miss. It logs the
// latency figures.
func requireBoundedBurst(t *testing.T, n int, calls []namedCall, wantErr error) {
	t.Helper()
	rs := burst(n, calls)
	p50, p99, max := quantiles(rs)
	t.Logf("%3d callers: p50 %v, p99 %v, max %v", n, p50.Round(time.Millisecond), p99.Round(time.Millisecond), max.Round(time.Millisecond))
	for _, r := range rs {
		switch {
		case r.err == nil:
			t.Errorf("%s succeeded on a frozen server", r.name)
		case errors.Is(r.err, provider.ErrNotFound):
			t.Errorf("%s reported a miss instead of an error: %v", r.name, r.err)
		case wantErr != nil && !errors.Is(r.err, wantErr):
			t.Errorf("%s: %v, want an error matching %v", r.name, r.err, wantErr)
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
// callers competing for the client's pooled connections, and whatever the
// client.
func TestFrozenRedisBoundsEveryCallAtAnyConcurrency(t *testing.T) {
	kinds := []struct {
		name string
		new  func(t *testing.T, addr string) *redis.Provider
	}{
		{"a provider built from a URL", func(t *testing.T, addr string) *redis.Provider {
			p, err := redis.NewFromURL("redis://"+addr, redis.Options{Timeout: frozenTimeout})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"a caller's client with ContextTimeoutEnabled and go-redis's other defaults", func(t *testing.T, addr string) *redis.Provider {
			c := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true})
			p, err := redis.New(c, redis.Options{Timeout: frozenTimeout, CloseClient: true})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"a caller's client without ContextTimeoutEnabled", func(t *testing.T, addr string) *redis.Provider {
			c := goredis.NewClient(&goredis.Options{Addr: addr})
			p, err := redis.New(c, redis.Options{Timeout: frozenTimeout, CloseClient: true})
			if err != nil {
				t.Fatal(err)
			}
			return p
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			s := ownServer(t)
			p := k.new(t, s.Addr())
			defer p.Close()
			if err := p.Set(context.Background(), "k", []byte("v"), 0); err != nil {
				t.Fatal(err)
			}
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
				requireBoundedBurst(t, n, cacheCalls(p), context.DeadlineExceeded)
			}
			resumed = true
			if err := s.Resume(); err != nil {
				t.Fatal(err)
			}
			requireRecovers(t, p)
		})
	}
}

// On a Cluster, a frozen master costs the calls that need it their Timeout
// and nothing more, at any concurrency; keys of the other masters keep
// answering.
func TestFrozenClusterNodeBoundsEveryCall(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	// A cluster of its own: freezing a node makes the others mark it failed
	// after the cluster's node timeout, which the shared cluster must not see.
	cl, err := redistest.StartCluster(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	p, err := redis.NewCluster("", cl.Addrs(), redis.Options{Timeout: frozenTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	raw := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs(), ContextTimeoutEnabled: true})
	defer raw.Close()
	ctx := ctxFor(t)
	frozen := cl.Nodes[0]
	var onFrozen, onOther string
	for i := 0; onFrozen == "" || onOther == ""; i++ {
		// A hash tag keeps the keys derived below on the same master.
		k := fmt.Sprintf("{frozen-test:%d}", i)
		m, err := raw.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if m.Options().Addr == frozen.Addr() {
			onFrozen = cmp.Or(onFrozen, k)
		} else {
			onOther = cmp.Or(onOther, k)
		}
	}
	for _, k := range []string{onFrozen, onOther} {
		if err := p.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
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
	// Before the cluster's node timeout (2 s) makes the other masters refuse
	// work, a key of a healthy master is served.
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
		// Multi-node calls may fail with CLUSTERDOWN from a healthy node once
		// it considers the frozen one failed; any error is right, in time.
		requireBoundedBurst(t, n, calls, nil)
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

// A frozen Redis at start delays NewFromURL's database check by its Timeout
// at most, and does not fail it.
func TestFrozenRedisAtStartDelaysTheDatabaseCheckByTheTimeoutOnly(t *testing.T) {
	s := ownServer(t)
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Resume() }()
	start := time.Now()
	p, err := redis.NewFromURL(s.URL(99), redis.Options{Timeout: frozenTimeout})
	if err != nil {
		t.Fatalf("NewFromURL with Redis frozen = %v; the program must start", err)
	}
	defer p.Close()
	if took := time.Since(start); took > frozenBound {
		t.Fatalf("NewFromURL took %v with a %v timeout (bound %v)", took, frozenTimeout, frozenBound)
	}
}
