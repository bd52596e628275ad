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
