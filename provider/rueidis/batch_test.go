package rueidis_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	rue "github.com/redis/rueidis"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/providertest"
	"github.com/aside-go/aside/provider/rueidis"
)

func TestBatchInvalidationRaceOnStandaloneRedis(t *testing.T) {
	testServer(t)
	providertest.RunCacheBatch(t, func(t *testing.T) provider.Provider {
		return newLocal(t, conformance)
	}, providertest.CacheOptions{})
}

func TestBatchInvalidationRaceOnRedisCluster(t *testing.T) {
	testCluster(t)
	providertest.RunCacheBatch(t, func(t *testing.T) provider.Provider {
		return newClustered(t, conformance)
	}, providertest.CacheOptions{})
}

// counting is a rueidis client that counts the calls the provider makes on
// it: one Do or DoMulti is one pipelined write to each node concerned, so
// one round trip.
type counting struct {
	rue.Client
	do, doMulti atomic.Int64
}

func (c *counting) Do(ctx context.Context, cmd rue.Completed) rue.RedisResult {
	c.do.Add(1)
	return c.Client.Do(ctx, cmd)
}

func (c *counting) DoMulti(ctx context.Context, cmds ...rue.Completed) []rue.RedisResult {
	c.doMulti.Add(1)
	return c.Client.DoMulti(ctx, cmds...)
}

func (c *counting) take() (do, doMulti int64) { return c.do.Swap(0), c.doMulti.Swap(0) }

// commandCalls returns how many times raw's server ran each command
// since its stats were last reset (INFO commandstats), and resets them.
// Background PINGs are left out; the commands a script runs are counted
// too (GET, SET, MGET), so a test checks EVALSHA and EVAL, the commands a
// client sent.
func commandCalls(t *testing.T, raw rue.Client) map[string]int64 {
	t.Helper()
	ctx := ctxFor(t)
	info, err := raw.Do(ctx, raw.B().Info().Section("commandstats").Build()).ToString()
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Do(ctx, raw.B().ConfigResetstat().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for line := range strings.Lines(info) {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || name == "info" || name == "config|resetstat" || name == "ping" {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		out[name], _ = strconv.ParseInt(n, 10, 64)
	}
	return out
}

// A 50-key batch read that adds leases to the 10 missing keys, and the
// batch store that follows, are each one DoMulti (one round trip) and, on
// one server, one command.
func TestBatchAbilitiesAreOneRoundTripAndOneCommand(t *testing.T) {
	srv := ownServer(t)
	c := &counting{Client: callersClient(t, srv.Addr(), 0)}
	p := newOver(t, c, rueidis.Options{Timeout: 2 * time.Second, CloseClient: true})
	raw := callersClient(t, srv.Addr(), 0)
	t.Cleanup(raw.Close)
	ctx := ctxFor(t)
	prefix := keyPrefix(t)
	items := make([]provider.Item, 40)
	for i := range items {
		items[i] = provider.Item{Key: fmt.Sprint(prefix, i), Value: []byte("v"), TTL: time.Minute}
	}
	if err := p.SetMulti(ctx, items); err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the first round loads the scripts with EVAL
		c.take()
		commandCalls(t, raw)
		fetches := make([]provider.Fetch, 50)
		for i := range fetches {
			fetches[i] = provider.Fetch{Key: fmt.Sprint(prefix, i), Add: []byte(fmt.Sprint("lease", round)), TTL: time.Minute}
		}
		res, err := p.GetAddMulti(ctx, fetches)
		if err != nil {
			t.Fatal(err)
		}
		do, doMulti := c.take()
		cmds := commandCalls(t, raw)
		var swaps []provider.Swap
		for i, r := range res {
			switch {
			case i < 40 && (r.Added || string(r.Existing) != "v"):
				t.Fatalf("round %d: fetch %d of a present key = %+v", round, i, r)
			case i >= 40 && round == 0 && !r.Added:
				t.Fatalf("round %d: fetch %d of a missing key = %+v", round, i, r)
			case i >= 40 && round == 0:
				swaps = append(swaps, provider.Swap{Key: fetches[i].Key, Old: fetches[i].Add, New: []byte("loaded"), TTL: time.Minute})
			}
		}
		if round == 0 {
			if do != 0 || doMulti != 2 || cmds["evalsha"] != 1 || cmds["eval"] != 1 {
				t.Fatalf("first batch read: %d Do, %d DoMulti, commands %v; want one EVALSHA answered NOSCRIPT, then one EVAL", do, doMulti, cmds)
			}
		} else if do != 0 || doMulti != 1 || cmds["evalsha"] != 1 || cmds["eval"] != 0 {
			t.Fatalf("batch read: %d Do, %d DoMulti, commands %v; want one DoMulti of one EVALSHA", do, doMulti, cmds)
		}
		if round == 1 {
			break
		}
		ok, err := p.CompareAndSwapMulti(ctx, swaps)
		if err != nil || !slices.Equal(ok, []bool{true, true, true, true, true, true, true, true, true, true}) {
			t.Fatalf("CompareAndSwapMulti = %v, %v", ok, err)
		}
		c.take()
		commandCalls(t, raw)
		for i := range swaps {
			swaps[i].Old, swaps[i].New = swaps[i].New, []byte("again")
		}
		if ok, err := p.CompareAndSwapMulti(ctx, swaps); err != nil || !ok[0] {
			t.Fatalf("CompareAndSwapMulti = %v, %v", ok, err)
		}
		do, doMulti = c.take()
		if cmds := commandCalls(t, raw); do != 0 || doMulti != 1 || cmds["evalsha"] != 1 || cmds["eval"] != 0 {
			t.Fatalf("batch store: %d Do, %d DoMulti, commands %v; want one DoMulti of one EVALSHA", do, doMulti, cmds)
		}
	}
}

// A script the server has forgotten (SCRIPT FLUSH, a restart) is sent
// again with EVAL, in the same call.
func TestBatchScriptsSurviveAScriptFlush(t *testing.T) {
	for _, st := range []struct {
		name  string
		setup func(t *testing.T) (*rueidis.Provider, func())
	}{
		{"standalone", func(t *testing.T) (*rueidis.Provider, func()) {
			raw := callersClient(t, testServer(t).Addr(), testDB)
			t.Cleanup(raw.Close)
			return newLocal(t, rueidis.Options{Timeout: 2 * time.Second}), func() {
				if err := raw.Do(context.Background(), raw.B().ScriptFlush().Build()).Error(); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"cluster", func(t *testing.T) (*rueidis.Provider, func()) {
			return newClustered(t, rueidis.Options{Timeout: 2 * time.Second}), func() {
				for _, n := range testCluster(t).Nodes {
					if err := n.Client(t, 0).ScriptFlush(context.Background()).Err(); err != nil {
						t.Fatal(err)
					}
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

// On a Cluster, the batch abilities span every master in one DoMulti,
// without CROSSSLOT: each command is single-key.
func TestClusterBatchAbilitiesSpanEveryMaster(t *testing.T) {
	cl := testCluster(t)
	raw, err := rue.NewClient(rue.ClientOption{InitAddress: cl.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{Client: raw}
	p := newOver(t, c, rueidis.Options{Timeout: 2 * time.Second, CloseClient: true})
	ctx := ctxFor(t)
	prefix := keyPrefix(t)
	keys := make([]string, 24)
	for i := range keys {
		keys[i] = fmt.Sprint(prefix, "batch:", i)
	}
	t.Cleanup(func() { _, _ = p.Delete(context.Background(), keys...) })
	if err := p.Set(ctx, keys[0], []byte("there"), time.Minute); err != nil {
		t.Fatal(err)
	}
	fetches := make([]provider.Fetch, len(keys))
	for i, k := range keys {
		fetches[i] = provider.Fetch{Key: k, Add: []byte(fmt.Sprint("lease", i)), TTL: time.Minute}
	}
	fetches[1].Add = nil // read only
	c.take()
	res, err := p.GetAddMulti(ctx, fetches)
	if err != nil {
		t.Fatalf("GetAddMulti across slots: %v", err)
	}
	if do, doMulti := c.take(); do != 0 || doMulti != 1 {
		t.Fatalf("GetAddMulti made %d Do and %d DoMulti calls; want one DoMulti", do, doMulti)
	}
	if res[0].Added || string(res[0].Existing) != "there" || res[1].Added || res[1].Existing != nil {
		t.Fatalf("GetAddMulti = %+v", res[:2])
	}
	nodes := make([]*goredis.Client, len(cl.Nodes))
	for i, n := range cl.Nodes {
		nodes[i] = n.Client(t, 0)
	}
	masters := map[int]bool{}
	for _, k := range keys[2:] {
		for i, n := range nodes {
			if got, err := n.Exists(ctx, k).Result(); err == nil && got == 1 {
				masters[i] = true
			}
		}
	}
	if len(masters) != len(cl.Nodes) {
		t.Fatalf("the added keys landed on %d of %d masters; the test needs every master", len(masters), len(cl.Nodes))
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
		if v, err := p.Get(ctx, k); err != nil || string(v) != "value" {
			t.Fatalf("%q = %q, %v", k, v, err)
		}
	}
	if ok[len(ok)-1] {
		t.Fatal("a swap from the wrong value swapped")
	}
}

// The README's page on rueidis: a 50-key page (each entry tagged with its
// own tag and the page's) of which 10 keys are missing, read with one
// RememberMany and with 50 Remember calls, one after the other. Calls into
// rueidis (each Do or DoMulti is one round trip here) are counted by the
// client, loader calls by the loaders.
func TestBatchPageCostOnRueidis(t *testing.T) {
	srv := ownServer(t)
	c := &counting{Client: callersClient(t, srv.Addr(), 0)}
	p := newOver(t, c, rueidis.Options{Timeout: 2 * time.Second, CloseClient: true})
	cache, err := aside.New(aside.Options{Provider: p, Namespace: "page"})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	ctx := ctxFor(t)
	ids := make([]int, 50)
	for i := range ids {
		ids[i] = i
	}
	key := func(id int) string { return fmt.Sprint("product:", id) }
	opts := []aside.Option{aside.TTL(time.Hour), aside.Tags("products"),
		aside.TagsFor(func(k string) []string { return []string{"tag:" + k} })}
	loads := 0
	loadMany := func(_ context.Context, ids []int) (map[int]string, error) {
		loads++
		out := make(map[int]string, len(ids))
		for _, id := range ids {
			out[id] = fmt.Sprint("product ", id)
		}
		return out, nil
	}
	prepare := func() {
		if _, err := aside.RememberMany(ctx, cache, ids, key, loadMany, opts...); err != nil {
			t.Fatal(err)
		}
		missing := make([]string, 0, 10)
		for _, id := range ids[40:] {
			missing = append(missing, key(id))
		}
		if err := cache.Delete(ctx, missing...); err != nil {
			t.Fatal(err)
		}
		loads = 0
		c.take()
	}
	for round := range 2 { // the first round loads the scripts
		prepare()
		got, err := aside.RememberMany(ctx, cache, ids, key, loadMany, opts...)
		if err != nil || len(got) != 50 {
			t.Fatalf("RememberMany: %d values, %v", len(got), err)
		}
		do, doMulti := c.take()
		if round == 1 {
			t.Logf("RememberMany: %d Do and %d DoMulti calls (round trips), %d loader call(s)", do, doMulti, loads)
			if do+doMulti != 2 || loads != 1 {
				t.Fatalf("RememberMany of a 50-key page with 10 missing: %d round trips and %d loader calls, want 2 and 1", do+doMulti, loads)
			}
		}
	}
	prepare()
	for _, id := range ids {
		if _, err := aside.Remember(ctx, cache, key(id), func(context.Context) (string, error) {
			loads++
			return fmt.Sprint("product ", id), nil
		}, opts...); err != nil {
			t.Fatal(err)
		}
	}
	do, doMulti := c.take()
	// The single-key swap script's first run here is answered NOSCRIPT and
	// sent again with EVAL: one round trip more, once per server.
	t.Logf("50 Remember: %d Do and %d DoMulti calls (round trips), %d loader calls", do, doMulti, loads)
	if loads != 10 {
		t.Fatalf("50 Remember calls loaded %d times, want 10", loads)
	}
}
