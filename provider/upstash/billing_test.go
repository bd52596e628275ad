package upstash_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

// billed runs op and returns the commands the emulator billed for it, by
// name.
func billed(t *testing.T, f *fixture, op func()) (int64, map[string]int64) {
	t.Helper()
	f.emu.ResetStats()
	op()
	s := f.emu.Stats()
	return s.Commands, s.CommandsByName
}

// What the README and doc.go promise each cache operation costs, read from
// the emulator's billing counters.
func TestBilledCommandsPerCacheOperation(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{})
	c, err := aside.New(aside.Options{Provider: p, Namespace: prefix(t)})
	require.NoError(t, err)
	defer c.Close()
	ctx := ctxFor(t)
	load := func(v string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return v, nil }
	}
	remember := func(key string, opts ...aside.Option) {
		t.Helper()
		_, err := aside.Remember(ctx, c, key, load("value of "+key), opts...)
		require.NoError(t, err)
	}
	tags := aside.Tags("product:1", "products", "shop")

	tests := []struct {
		name   string
		op     func()
		want   int64
		byName map[string]int64
	}{
		{"an untagged miss is one read and a fill of two (lease, then store)", func() { remember("a") }, 3,
			map[string]int64{"get": 1, "set": 1, "eval": 1}},
		{"an untagged hit is one GET", func() { remember("a") }, 1, map[string]int64{"get": 1}},
		{"a second untagged miss stores with EVALSHA", func() { remember("b") }, 3,
			map[string]int64{"get": 1, "set": 1, "evalsha": 1}},
		{"the first miss with three new tags also creates their records in one script call", func() { remember("t1", tags) }, 4,
			map[string]int64{"mget": 1, "set": 1, "eval": 1, "evalsha": 1}},
		{"a tagged hit is one MGET of the entry and its tags", func() { remember("t1", tags) }, 1, map[string]int64{"mget": 1}},
		{"a tagged miss whose tags exist is one read and a fill of two", func() { remember("t2", tags) }, 3,
			map[string]int64{"mget": 1, "set": 1, "evalsha": 1}},
		{"invalidating one tag is one SET", func() { require.NoError(t, c.InvalidateTags(ctx, "shop")) }, 1,
			map[string]int64{"set": 1}},
		{"invalidating three tags is one script call", func() {
			require.NoError(t, c.InvalidateTags(ctx, "product:1", "products", "shop"))
		}, 1, map[string]int64{"eval": 1}},
		{"and once the server knows the script, one EVALSHA", func() {
			require.NoError(t, c.InvalidateTags(ctx, "product:1", "products", "shop"))
		}, 1, map[string]int64{"evalsha": 1}},
		{"deleting an entry is one DEL", func() { require.NoError(t, c.Delete(ctx, "a")) }, 1, map[string]int64{"del": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, byName := billed(t, f, tt.op)
			require.Equal(t, tt.byName, byName)
			require.Equal(t, tt.want, n)
		})
	}
}

// Every billed command the provider counts is one the emulator bills, and
// the same for requests and body bytes, over a concurrent mix of every
// method. (The counts agree when every reply arrives: a call that times
// out may have run unbeknown to the provider, hence the long Timeout under
// -race on a busy machine.)
func TestUsageAgreesWithTheEmulator(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{Timeout: 20 * time.Second})
	ctx := ctxFor(t)
	pre := prefix(t)
	f.emu.ResetStats()
	before := p.Usage()

	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 40 {
				k := fmt.Sprintf("%sk%d", pre, (g*7+i)%11)
				switch i % 8 {
				case 0:
					_ = p.Set(ctx, k, []byte(fmt.Sprint("v", i)), time.Minute)
				case 1:
					_, _ = p.Get(ctx, k)
				case 2:
					_, _ = p.GetMulti(ctx, []string{k, pre + "x", pre + "k1"})
				case 3:
					_, _, _ = p.Add(ctx, k, []byte("added"), time.Minute)
				case 4:
					cur, err := p.Get(ctx, k)
					if err == nil {
						_, _ = p.CompareAndSwap(ctx, k, cur, []byte("swapped"), 0)
					}
				case 5:
					_ = p.SetMulti(ctx, []provider.Item{{Key: k, Value: []byte("m1")}, {Key: pre + "m", Value: []byte("m2"), TTL: time.Second}})
				case 6:
					_, _ = p.AddMulti(ctx, []provider.Item{{Key: k, Value: []byte("a1")}, {Key: pre + "n", Value: []byte("a2")}})
				case 7:
					_, _ = p.Delete(ctx, k)
				}
			}
		})
	}
	wg.Wait()
	_, err := p.DeletePattern(ctx, pre+"*")
	require.NoError(t, err)
	_, err = p.Len(ctx)
	require.NoError(t, err)
	require.NoError(t, p.Ping(ctx))

	u, s := p.Usage(), f.emu.Stats()
	got := provider.Usage{
		Commands: u.Commands - before.Commands, Requests: u.Requests - before.Requests,
		BytesSent: u.BytesSent - before.BytesSent, BytesReceived: u.BytesReceived - before.BytesReceived,
	}
	want := provider.Usage{Commands: s.Commands, Requests: s.Requests, BytesSent: s.RequestBytes, BytesReceived: s.ResponseBytes}
	require.Zero(t, p.Stats().Unconfirmed)
	require.Equal(t, want, got)
	require.Greater(t, s.Pipelines, int64(0), "16 goroutines should have shared requests")
	require.Less(t, s.Requests, s.Commands, "fewer requests than commands")
	t.Logf("%d billed commands in %d requests (%d pipelines); %d bytes sent, %d received",
		s.Commands, s.Requests, s.Pipelines, s.RequestBytes, s.ResponseBytes)
}

// pageProduct is a row of the batch page.
type pageProduct struct {
	ID   int
	Name string
}

// The README's batch case on Upstash: a 50-key page (each entry tagged with
// its own tag and the page's) of which 10 keys are missing, read with one
// RememberMany and with 50 Remember calls, counted by the emulator. The
// RememberMany's read step is what was billed before its loader ran, its
// write step what was billed after. "emulated" is the same call on a
// provider whose batch abilities are hidden (the Cache's circuit breaker
// then emulates them: GetMulti and AddMulti to read, one CompareAndSwap per
// loaded key to write), as before Upstash had them.
func TestBilledCommandsOfABatchPage(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	type hidden struct {
		provider.Provider
		provider.Batcher
		provider.MultiAdder
		provider.PatternDeleter
		provider.Meter
	}
	for _, way := range []struct {
		name  string
		batch bool
		wrap  func(*upstash.Provider) provider.Provider
	}{
		{"RememberMany", true, func(p *upstash.Provider) provider.Provider { return p }},
		{"RememberMany emulated", true, func(p *upstash.Provider) provider.Provider { return hidden{p, p, p, p, p} }},
		{"50 Remember", false, func(p *upstash.Provider) provider.Provider { return p }},
	} {
		t.Run(way.name, func(t *testing.T) {
			p := f.provider(t, upstash.Options{})
			c, err := aside.New(aside.Options{Provider: way.wrap(p), Namespace: prefix(t)})
			require.NoError(t, err)
			defer c.Close()
			ctx := ctxFor(t)
			ids := make([]int, 50)
			for i := range ids {
				ids[i] = i
			}
			key := func(id int) string { return fmt.Sprint("product:", id) }
			opts := []aside.Option{aside.TTL(time.Hour), aside.Tags("products"),
				aside.TagsFor(func(k string) []string { return []string{"tag:" + k} })}
			var atLoad emulator.Stats
			loads := 0
			loadMany := func(_ context.Context, ids []int) (map[int]pageProduct, error) {
				loads++
				atLoad = f.emu.Stats()
				out := make(map[int]pageProduct, len(ids))
				for _, id := range ids {
					out[id] = pageProduct{id, fmt.Sprint("product ", id)}
				}
				return out, nil
			}
			_, err = aside.RememberMany(ctx, c, ids, key, loadMany, opts...)
			require.NoError(t, err)
			missing := make([]string, 0, 10)
			for _, id := range ids[40:] {
				missing = append(missing, key(id))
			}
			require.NoError(t, c.Delete(ctx, missing...))
			loads = 0
			f.emu.ResetStats()
			if way.batch {
				got, err := aside.RememberMany(ctx, c, ids, key, loadMany, opts...)
				require.NoError(t, err)
				require.Len(t, got, 50)
				require.Equal(t, 1, loads)
			} else {
				for _, id := range ids {
					got, err := aside.Remember(ctx, c, key(id), func(context.Context) (pageProduct, error) {
						loads++
						return pageProduct{id, fmt.Sprint("product ", id)}, nil
					}, opts...)
					require.NoError(t, err)
					require.Equal(t, id, got.ID)
				}
				require.Equal(t, 10, loads)
			}
			end := f.emu.Stats()
			if !way.batch {
				t.Logf("%s: %d requests, %d billed commands %v", way.name, end.Requests, end.Commands, end.CommandsByName)
				require.Equal(t, end.Requests, end.Commands, "one command per request, calls one after the other")
				require.EqualValues(t, 40+10*3, end.Commands, "40 hits of one MGET, 10 misses of a read and a fill of two")
				return
			}
			readReq, readCmd := atLoad.Requests, atLoad.Commands
			writeReq, writeCmd := end.Requests-atLoad.Requests, end.Commands-atLoad.Commands
			t.Logf("%s: read step %d requests, %d billed commands; write step %d requests, %d billed commands; total %v",
				way.name, readReq, readCmd, writeReq, writeCmd, end.CommandsByName)
			if way.name == "RememberMany" {
				require.EqualValues(t, 1, readReq, "the read step is one request")
				require.EqualValues(t, 1, readCmd, "the read step is one script call")
				require.EqualValues(t, 1, writeReq, "the write step is one request")
				require.EqualValues(t, 1, writeCmd, "the write step is one script call")
			}
		})
	}
}
