package redis_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/redis"
)

// trips counts what a go-redis client sends: round trips (one per command
// outside a pipeline, one per pipeline) and commands. Hooked on a Cluster
// client it counts the provider's calls; hooked on each node's client
// (OnNewNode), the round trips to each node. The client's own traffic
// (connection set-up, slot map) is not counted.
type trips struct {
	rt, cmds atomic.Int64
}

func (h *trips) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h *trips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if !internal(cmd) {
			h.rt.Add(1)
			h.cmds.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *trips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		n := 0
		for _, c := range cmds {
			if !internal(c) {
				n++
			}
		}
		if n > 0 {
			h.rt.Add(1)
			h.cmds.Add(int64(n))
		}
		return next(ctx, cmds)
	}
}

func internal(cmd goredis.Cmder) bool {
	switch strings.ToLower(cmd.Name()) {
	case "hello", "client", "cluster", "auth", "select", "ping", "readonly":
		return true
	}
	return false
}

func (h *trips) take() (rt, cmds int64) { return h.rt.Swap(0), h.cmds.Swap(0) }

// countedStore is a provider whose client calls (calls) and node round
// trips (nodes) are counted; on a standalone server they are the same.
type countedStore struct {
	p            *redis.Provider
	calls, nodes *trips
}

func standaloneCounted(t testing.TB) countedStore {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: testServer(t).Addr(), DB: 11, ContextTimeoutEnabled: true})
	h := &trips{}
	c.AddHook(h)
	p, err := redis.New(c, redis.Options{Timeout: 5 * time.Second, CloseClient: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return countedStore{p, h, h}
}

// slowLinkCounted is standaloneCounted through a proxy that delays every
// byte by oneWay in each direction: a network round trip of 2*oneWay.
func slowLinkCounted(oneWay time.Duration) func(testing.TB) countedStore {
	return func(t testing.TB) countedStore {
		t.Helper()
		addr := delayProxy(t, testServer(t).Addr(), oneWay)
		c := goredis.NewClient(&goredis.Options{Addr: addr, DB: 11, ContextTimeoutEnabled: true})
		h := &trips{}
		c.AddHook(h)
		p, err := redis.New(c, redis.Options{Timeout: 5 * time.Second, CloseClient: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return countedStore{p, h, h}
	}
}

// delayProxy forwards connections to target, each chunk of bytes delivered
// d after it was read (latency without a bandwidth limit). It stops with
// the test.
func delayProxy(t testing.TB, target string, d time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	pipe := func(dst, src net.Conn) {
		type chunk struct {
			b  []byte
			at time.Time
		}
		ch := make(chan chunk, 1024)
		wg.Go(func() {
			defer close(ch)
			for {
				buf := make([]byte, 16<<10)
				n, err := src.Read(buf)
				if n > 0 {
					ch <- chunk{buf[:n], time.Now().Add(d)}
				}
				if err != nil {
					return
				}
			}
		})
		wg.Go(func() {
			defer func() { _ = dst.Close() }()
			for c := range ch {
				time.Sleep(time.Until(c.at))
				if _, err := dst.Write(c.b); err != nil {
					return
				}
			}
		})
	}
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			track(in)
			track(out)
			pipe(out, in)
			pipe(in, out)
		}
	})
	return ln.Addr().String()
}

func clusterCounted(t testing.TB) countedStore {
	t.Helper()
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: testCluster(t).Addrs(), ContextTimeoutEnabled: true})
	calls, nodes := &trips{}, &trips{}
	c.AddHook(calls)
	c.OnNewNode(func(n *goredis.Client) { n.AddHook(nodes) })
	p, err := redis.New(c, redis.Options{Timeout: 5 * time.Second, CloseClient: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return countedStore{p, calls, nodes}
}

type product struct {
	ID    int
	Name  string
	Price int64
	Tags  []string
	Blurb string
}

func productOf(id int) product {
	return product{ID: id, Name: fmt.Sprintf("product %d", id), Price: int64(100 * id), Tags: []string{"shop", "page"},
		Blurb: "A product of the page, with enough text to look like a row of a real table."}
}

func productKey(id int) string { return fmt.Sprintf("product:%d", id) }

// page is the case: a 50-key page of which the last 10 keys are
// missing, each entry tagged with its own tag and the page's.
type page struct {
	c     *aside.Cache
	ids   []int
	opts  []aside.Option
	loads atomic.Int64
}

func newPage(t testing.TB, p provider.Provider) *page {
	return newPageWith(t, aside.Options{Provider: p})
}

// withoutGetAdd hides the provider's MultiGetAdder: a batch then reads with
// GetMulti and leases its missing keys with AddMulti, one more round trip
// (the design GetAddMulti replaced). Without the breaker, which would
// emulate it.
func withoutGetAdd(p *redis.Provider) aside.Options {
	return aside.Options{Provider: struct {
		provider.Provider
		provider.Batcher
		provider.MultiAdder
		provider.MultiSwapper
		provider.PatternDeleter
	}{p, p, p, p, p}, Breaker: aside.Breaker{Disabled: true}}
}

func newPageWith(t testing.TB, o aside.Options) *page {
	t.Helper()
	o.Namespace = "page-" + keyPrefix(t)[5:17]
	c, err := aside.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = c.InvalidatePattern(context.Background(), "*")
		_ = c.Close()
	})
	pg := &page{c: c, opts: []aside.Option{aside.TTL(time.Hour), aside.Tags("products"), aside.TagsFor(func(k string) []string { return []string{"tag:" + k} })}}
	for i := range 50 {
		pg.ids = append(pg.ids, i)
	}
	return pg
}

func (pg *page) loadMany(ctx context.Context, ids []int) (map[int]product, error) {
	pg.loads.Add(1)
	out := make(map[int]product, len(ids))
	for _, id := range ids {
		out[id] = productOf(id)
	}
	return out, nil
}

// prepare caches the whole page, then deletes its last 10 keys.
func (pg *page) prepare(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	if _, err := aside.RememberMany(ctx, pg.c, pg.ids, productKey, pg.loadMany, pg.opts...); err != nil {
		t.Fatal(err)
	}
	missing := make([]string, 0, 10)
	for _, id := range pg.ids[40:] {
		missing = append(missing, productKey(id))
	}
	if err := pg.c.Delete(ctx, missing...); err != nil {
		t.Fatal(err)
	}
	pg.loads.Store(0)
}

// batch reads the page with one RememberMany.
func (pg *page) batch(t testing.TB) {
	got, err := aside.RememberMany(context.Background(), pg.c, pg.ids, productKey, pg.loadMany, pg.opts...)
	if err != nil || len(got) != 50 || got[45].Name != "product 45" {
		t.Fatalf("RememberMany: %d values, %v", len(got), err)
	}
}

// loop reads the page with 50 Remember calls, one after the other.
func (pg *page) loop(t testing.TB) {
	ctx := context.Background()
	for _, id := range pg.ids {
		got, err := aside.Remember(ctx, pg.c, productKey(id), func(context.Context) (product, error) {
			pg.loads.Add(1)
			return productOf(id), nil
		}, pg.opts...)
		if err != nil || got.ID != id {
			t.Fatalf("Remember(%d) = %+v, %v", id, got, err)
		}
	}
}

// TestBatchPageCostOnRedis measures the case on a test-owned server
// and on the test-owned 3-master Cluster: a 50-key page with 10 keys
// missing, read with one RememberMany and with 50 Remember calls. Round
// trips and commands are counted with go-redis hooks, loader calls by the
// loaders; the counts of RememberMany are asserted, the times only logged
// (BenchmarkPage measures them).
func TestBatchPageCostOnRedis(t *testing.T) {
	for _, st := range []struct {
		name  string
		store func(testing.TB) countedStore
	}{{"standalone", standaloneCounted}, {"cluster", clusterCounted}} {
		t.Run(st.name, func(t *testing.T) {
			cs := st.store(t)
			pg := newPage(t, cs.p)
			for _, way := range []struct {
				name string
				read func(testing.TB)
			}{{"RememberMany", pg.batch}, {"50 Remember", pg.loop}} {
				const runs = 15
				var took []time.Duration
				var calls, nodes, cmds, loads int64
				for range runs {
					pg.prepare(t)
					cs.calls.take()
					cs.nodes.take()
					start := time.Now()
					way.read(t)
					took = append(took, time.Since(start))
					calls, cmds = cs.calls.take()
					nodes = calls
					if cs.nodes != cs.calls {
						nodes, cmds = cs.nodes.take()
					}
					loads = pg.loads.Load()
				}
				slices.Sort(took)
				t.Logf("%-12s %s: %d sequential round trips (%d to nodes), %d commands, %d loader calls, median %v",
					way.name, st.name, calls, nodes, cmds, loads, took[runs/2].Round(time.Microsecond))
				if way.name == "RememberMany" {
					if calls != 2 || loads != 1 {
						t.Errorf("RememberMany of a 50-key page with 10 missing: %d round trips and %d loader calls, want 2 and 1", calls, loads)
					}
					if st.name == "standalone" && cmds != 2 {
						t.Errorf("RememberMany on a standalone server sent %d commands, want 2 (one script to read, one to write)", cmds)
					}
				}
			}
		})
	}
}

// BenchmarkPage times the same page on the standalone server, on it through
// a link that adds latency (ping-µs reports the link's round trip), and,
// when the selection starts it (not with -run '^$'), on the Cluster; with
// RememberMany on a provider without MultiGetAdder (read, lease, write: one
// round trip more) for comparison:
//
//	go test -run TestBatchPageCostOnRedis -bench BenchmarkPage ./provider/redis/
func BenchmarkPage(b *testing.B) {
	stores := []struct {
		name  string
		store func(testing.TB) countedStore
	}{{"standalone", standaloneCounted}, {"standalone-slowlink", slowLinkCounted(500 * time.Microsecond)}}
	if cluster != nil {
		stores = append(stores, struct {
			name  string
			store func(testing.TB) countedStore
		}{"cluster", clusterCounted})
	}
	for _, st := range stores {
		for _, way := range []string{"RememberMany", "RememberMany-GetMulti+AddMulti", "50xRemember"} {
			b.Run(st.name+"/"+way, func(b *testing.B) {
				cs := st.store(b)
				pg := newPage(b, cs.p)
				read := pg.batch
				switch way {
				case "50xRemember":
					read = pg.loop
				case "RememberMany-GetMulti+AddMulti":
					pg = newPageWith(b, withoutGetAdd(cs.p))
					read = pg.batch
				}
				var rt, loads int64
				// The link's own round trip, for reading the times: the
				// median of 21 PINGs.
				pings := make([]time.Duration, 21)
				for i := range pings {
					start := time.Now()
					if err := cs.p.Ping(context.Background()); err != nil {
						b.Fatal(err)
					}
					pings[i] = time.Since(start)
				}
				slices.Sort(pings)
				b.ReportAllocs()
				for b.Loop() {
					b.StopTimer()
					pg.prepare(b)
					cs.calls.take()
					b.StartTimer()
					read(b)
					b.StopTimer()
					n, _ := cs.calls.take()
					rt += n
					loads += pg.loads.Load()
					b.StartTimer()
				}
				b.ReportMetric(float64(rt)/float64(b.N), "roundtrips/op")
				b.ReportMetric(float64(loads)/float64(b.N), "loads/op")
				b.ReportMetric(float64(pings[len(pings)/2].Microseconds()), "ping-µs")
			})
		}
	}
}

// A server that lost its scripts (a restart, SCRIPT FLUSH) answers the
// batch scripts' EVALSHA with NOSCRIPT; the provider sends them again with
// EVAL, in the same call.
func TestBatchScriptsSurviveAScriptFlush(t *testing.T) {
	for _, st := range []struct {
		name  string
		setup func(t *testing.T) (*redis.Provider, func())
	}{
		{"standalone", func(t *testing.T) (*redis.Provider, func()) {
			s := ownServer(t)
			p, err := redis.NewFromURL(s.URL(0), redis.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = p.Close() })
			raw := s.Client(t, 0)
			return p, func() {
				if err := raw.ScriptFlush(context.Background()).Err(); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"cluster", func(t *testing.T) (*redis.Provider, func()) {
			raw := clusterClient(t)
			return newClustered(t, redis.Options{}), func() {
				err := raw.ForEachMaster(context.Background(), func(ctx context.Context, m *goredis.Client) error {
					return m.ScriptFlush(ctx).Err()
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(st.name, func(t *testing.T) {
			p, flush := st.setup(t)
			ctx := ctxFor(t)
			prefix := keyPrefix(t)
			keys := []string{prefix + "a", prefix + "b", prefix + "c"}
			t.Cleanup(func() { _, _ = p.Delete(context.Background(), keys...) })
			for round := range 2 {
				flush()
				var fetches []provider.Fetch
				for _, k := range keys {
					fetches = append(fetches, provider.Fetch{Key: k, Add: []byte(fmt.Sprint(round)), TTL: time.Minute})
				}
				res, err := p.GetAddMulti(ctx, fetches)
				if err != nil {
					t.Fatalf("round %d: GetAddMulti after SCRIPT FLUSH: %v", round, err)
				}
				flush()
				var swaps []provider.Swap
				for i, k := range keys {
					old := fetches[i].Add
					if !res[i].Added {
						old = res[i].Existing
					}
					swaps = append(swaps, provider.Swap{Key: k, Old: old, New: []byte("swapped"), TTL: time.Minute})
				}
				ok, err := p.CompareAndSwapMulti(ctx, swaps)
				if err != nil || !slices.Equal(ok, []bool{true, true, true}) {
					t.Fatalf("round %d: CompareAndSwapMulti after SCRIPT FLUSH = %v, %v", round, ok, err)
				}
			}
		})
	}
}

// On a Cluster, the batch abilities span every master without CROSSSLOT.
func TestClusterBatchAbilitiesSpanEveryMaster(t *testing.T) {
	p := newClustered(t, redis.Options{Timeout: 2 * time.Second})
	raw := clusterClient(t)
	ctx := ctxFor(t)
	keys := spreadKeys(t, raw, keyPrefix(t)+"batch:", 12)
	t.Cleanup(func() { _, _ = p.Delete(context.Background(), keys...) })
	if err := p.Set(ctx, keys[0], []byte("there"), time.Minute); err != nil {
		t.Fatal(err)
	}
	fetches := make([]provider.Fetch, len(keys))
	for i, k := range keys {
		fetches[i] = provider.Fetch{Key: k, Add: []byte(fmt.Sprint("lease", i)), TTL: time.Minute}
	}
	fetches[1].Add = nil // read only
	res, err := p.GetAddMulti(ctx, fetches)
	if err != nil {
		t.Fatalf("GetAddMulti across slots: %v", err)
	}
	if res[0].Added || string(res[0].Existing) != "there" || res[1].Added || res[1].Existing != nil {
		t.Fatalf("GetAddMulti = %+v", res[:2])
	}
	swaps := make([]provider.Swap, 0, len(keys))
	for i, k := range keys[2:] {
		if !res[i+2].Added {
			t.Fatalf("GetAddMulti did not add %q", k)
		}
		swaps = append(swaps, provider.Swap{Key: k, Old: fetches[i+2].Add, New: []byte("value"), TTL: time.Minute})
	}
	swaps = append(swaps, provider.Swap{Key: keys[0], Old: []byte("not there"), New: []byte("x")})
	ok, err := p.CompareAndSwapMulti(ctx, swaps)
	if err != nil {
		t.Fatalf("CompareAndSwapMulti across slots: %v", err)
	}
	for i, k := range keys[2:] {
		if !ok[i] {
			t.Fatalf("CompareAndSwapMulti did not swap %q", k)
		}
		if v, err := raw.Get(ctx, k).Result(); err != nil || v != "value" {
			t.Fatalf("%q = %q, %v", k, v, err)
		}
	}
	if ok[len(ok)-1] {
		t.Fatal("a swap from the wrong value swapped")
	}
}
