package dual_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/dual"
	"github.com/aside-go/aside/provider/providertest"
)

// The batch read and store of the aside.Cache (GetAddMulti,
// CompareAndSwapMulti) keep its invalidation guarantee on either
// composite, across outages and reconciliations.
func TestBatchInvalidationRaceFallback(t *testing.T) {
	t.Run("memory primary going down and up", func(t *testing.T) {
		primary := newFaulty(newMemory(t, 0))
		f := fallback(t, primary, dual.FallbackOptions{Breaker: fastBreaker})
		downs := flap(t, primary)
		providertest.RunCacheBatch(t, same(f), providertest.CacheOptions{Rounds: 400})
		s := f.Stats()
		t.Logf("primary down %d times; %d outages, %d replays, %d calls served by the secondary", downs(), s.Outages, s.Journal.Replays, s.Served)
		if s.Outages < 3 || s.Journal.Replays == 0 {
			t.Fatalf("the race saw %d outages and %d replays: too few to prove anything", s.Outages, s.Journal.Replays)
		}
	})
	t.Run("Redis primary that stays up, two processes", func(t *testing.T) {
		providertest.RunCacheBatch(t, func(t *testing.T) provider.Provider {
			return fallback(t, newRedis(t), dual.FallbackOptions{})
		}, providertest.CacheOptions{})
	})
}

func TestBatchInvalidationRaceMigrate(t *testing.T) {
	t.Run("memory primary that evicts, memory secondary going down and up, reading through", func(t *testing.T) {
		secondary := newFaulty(newMemory(t, 0))
		m := migrator(t, newForgetful(t), secondary, dual.MigrateOptions{ReadThrough: true, Breaker: fastBreaker})
		dual.ForceBackfill(m)
		downs := flap(t, secondary)
		providertest.RunCacheBatch(t, same(m), providertest.CacheOptions{Rounds: 400})
		s := m.Stats()
		t.Logf("secondary down %d times; %d read-throughs (%d hits), %d backfills, %d journal replays",
			downs(), s.ReadThroughs, s.ReadThroughHits, s.Backfills, s.Journal.Replays)
		if s.ReadThroughHits == 0 || s.Journal.Replays == 0 {
			t.Fatalf("the race read through %d times and replayed %d journals: too few to prove anything", s.ReadThroughHits, s.Journal.Replays)
		}
	})
	t.Run("memory primary, memory secondary going down and up", func(t *testing.T) {
		secondary := newFaulty(newMemory(t, 0))
		m := migrator(t, newMemory(t, 0), secondary, dual.MigrateOptions{Breaker: fastBreaker})
		downs := flap(t, secondary)
		providertest.RunCacheBatch(t, same(m), providertest.CacheOptions{Rounds: 400})
		s := m.Stats()
		t.Logf("secondary down %d times; %d journal replays (%d records)", downs(), s.Journal.Replays, s.Journal.Replayed)
	})
	t.Run("Redis primary, memory secondaries, two processes", func(t *testing.T) {
		providertest.RunCacheBatch(t, func(t *testing.T) provider.Provider {
			return migrator(t, newRedis(t), newMemory(t, 0), dual.MigrateOptions{ShadowReads: 1})
		}, providertest.CacheOptions{})
	})
}

// The batch abilities are the composites' own, not the Cache's emulation:
// a GetAddMulti reaches the serving store as one GetAddMulti, and a
// Migrator sends the same fetches and swaps to its secondary.
func TestBatchAbilitiesReachTheStoresAsBatches(t *testing.T) {
	ctx := context.Background()
	fetches := []provider.Fetch{{Key: "a", Add: []byte("lease"), TTL: time.Minute}, {Key: "b"}, {Key: "a"}}
	swaps := []provider.Swap{{Key: "a", Old: []byte("lease"), New: []byte("v"), TTL: time.Minute}, {Key: "b", Old: []byte("x"), New: []byte("y")}}

	t.Run("Fallback, on the primary then on the secondary", func(t *testing.T) {
		primary := newFaulty(newMemory(t, 0))
		f := fallback(t, primary, dual.FallbackOptions{})
		res, err := f.GetAddMulti(ctx, fetches)
		require.NoError(t, err)
		require.Equal(t, []provider.AddResult{{Added: true}, {}, {Existing: []byte("lease")}}, res)
		ok, err := f.CompareAndSwapMulti(ctx, swaps)
		require.NoError(t, err)
		require.Equal(t, []bool{true, false}, ok)
		require.EqualValues(t, 2, primary.calls.Load(), "one call each")
		s := f.Stats()
		require.EqualValues(t, 3, s.Primary.Reads)
		require.EqualValues(t, 1, s.Primary.Hits)

		primary.down.Store(true)
		res, err = f.GetAddMulti(ctx, fetches)
		require.NoError(t, err, "the secondary answers the call that found the primary down")
		require.Equal(t, dual.Secondary, f.State())
		require.Equal(t, []provider.AddResult{{Added: true}, {}, {Existing: []byte("lease")}}, res, "the fresh secondary holds nothing of the primary's")
		ok, err = f.CompareAndSwapMulti(ctx, swaps)
		require.NoError(t, err)
		require.Equal(t, []bool{true, false}, ok)
		require.Zero(t, f.Stats().Journal.Keys, "leases and swaps are not journaled, as Add and CompareAndSwap are not")
	})

	t.Run("Migrator, on both stores", func(t *testing.T) {
		primary, secondary := newFaulty(newMemory(t, 0)), newFaulty(newMemory(t, 0))
		m := migrator(t, primary, secondary, dual.MigrateOptions{})
		res, err := m.GetAddMulti(ctx, fetches)
		require.NoError(t, err)
		require.Equal(t, []provider.AddResult{{Added: true}, {}, {Existing: []byte("lease")}}, res)
		ok, err := m.CompareAndSwapMulti(ctx, swaps)
		require.NoError(t, err)
		require.Equal(t, []bool{true, false}, ok)
		require.EqualValues(t, 2, primary.calls.Load())
		require.EqualValues(t, 2, secondary.calls.Load())
		for _, p := range []provider.Provider{primary, secondary} {
			v, err := p.Get(ctx, "a")
			require.NoError(t, err)
			require.Equal(t, "v", string(v), "both stores took the add and the swap")
		}
		s := m.Stats()
		require.EqualValues(t, 3, s.Secondary.Reads, "the secondary's reads count for the side-by-side hit rates")
	})

	t.Run("Migrator reading through answers from the secondary instead of leasing", func(t *testing.T) {
		primary, secondary := newMemory(t, 0), newFaulty(newMemory(t, 0))
		m := migrator(t, primary, secondary, dual.MigrateOptions{ReadThrough: true})
		require.NoError(t, secondary.Set(ctx, "a", []byte("from the secondary"), time.Minute))
		res, err := m.GetAddMulti(ctx, []provider.Fetch{{Key: "a", Add: []byte("lease")}, {Key: "c", Add: []byte("lease")}})
		require.NoError(t, err)
		require.Equal(t, []provider.AddResult{{Existing: []byte("from the secondary")}, {Added: true}}, res)
		v, err := primary.Get(ctx, "a")
		require.NoError(t, err)
		require.Equal(t, "from the secondary", string(v), "backfilled into the in-process primary")
		v, err = secondary.Get(ctx, "c")
		require.NoError(t, err)
		require.Equal(t, "lease", string(v), "the lease is mirrored, as Add is")
	})
}

// Each composite reports both stores to the Cache (provider.Composite),
// under its breaker: Stats.Providers lists them, primary first.
func TestCacheStatsListBothStores(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		p    func(t *testing.T) provider.Provider
	}{
		{"Fallback", func(t *testing.T) provider.Provider {
			return fallback(t, newRedis(t), dual.FallbackOptions{PrimaryName: "redis", SecondaryName: "memory"})
		}},
		{"Migrator", func(t *testing.T) provider.Provider {
			return migrator(t, newRedis(t), newMemory(t, 0), dual.MigrateOptions{PrimaryName: "redis", SecondaryName: "memory", ShadowReads: 1})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := aside.New(aside.Options{Provider: tc.p(t), Namespace: "members-" + strings.ToLower(tc.name)})
			require.NoError(t, err)
			defer c.Close()
			for range 3 {
				_, err := aside.Remember(ctx, c, "k", func(context.Context) (string, error) { return "v", nil })
				require.NoError(t, err)
			}
			ps := c.Stats().Providers
			require.Len(t, ps, 2)
			require.Equal(t, []string{"redis", "memory"}, []string{ps[0].Name, ps[1].Name})
			require.Equal(t, []string{"primary", "secondary"}, []string{ps[0].Role, ps[1].Role})
			require.NotNil(t, ps[0].Member)
			require.Positive(t, ps[0].Member.Hits, "the primary's hits")
			require.Positive(t, ps[0].Member.Calls)
			require.Positive(t, ps[0].Member.CallTime)
			require.NoError(t, c.Delete(ctx, "k"))
		})
	}
}

// A Cache over a Fallback whose primary, a redis-server of the test's own,
// is stopped: every call is still answered, by the secondary, and Health
// says degraded and why, and a "degraded" alert fires; once the server is
// back and reconciled, ok, and the alert resolves.
func TestHealthIsDegradedWhileTheFallbackServesFromItsSecondary(t *testing.T) {
	srv := ownServer(t)
	f := fallback(t, redisOn(t, srv), dual.FallbackOptions{PrimaryName: "redis", SecondaryName: "memory",
		Breaker: fastBreaker})
	alerts := make(chan aside.Alert, 16)
	c, err := aside.New(aside.Options{Provider: f, Namespace: "health",
		Health: aside.HealthOptions{Window: 30 * time.Second}, // the monitor looks every second
		OnAlert: func(a aside.Alert) {
			if a.Kind == aside.AlertDegraded {
				alerts <- a
			}
		}})
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	health := func() aside.Health {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return c.Health(ctx)
	}
	h := health()
	require.Equal(t, aside.HealthOK, h.Status, "%v", h.Reasons)

	require.NoError(t, srv.Stop())
	got, err := aside.Remember(ctx, c, "k", func(context.Context) (string, error) { return "loaded", nil })
	require.NoError(t, err)
	require.Equal(t, "loaded", got)
	require.Equal(t, dual.Secondary, f.State())
	h = health()
	require.Equal(t, aside.HealthDegraded, h.Status, "%v", h.Reasons)
	require.True(t, slices.ContainsFunc(h.Reasons, func(r string) bool {
		return containsAll(r, "fallback", "primary store (redis) is unavailable", "secondary store (memory)")
	}), "a reason names the fallback and its stores: %q", h.Reasons)
	t.Logf("while redis is down: %s %q", h.Status, h.Reasons)
	nextAlert := func() aside.Alert {
		select {
		case a := <-alerts:
			return a
		case <-time.After(10 * time.Second):
			t.Fatal("no degraded alert within 10 s")
			return aside.Alert{}
		}
	}
	a := nextAlert()
	require.True(t, a.Firing)
	require.True(t, containsAll(a.Message, "fallback", "primary store (redis) is unavailable"), a.Message)

	require.NoError(t, srv.Start())
	eventually(t, 10*time.Second, func() bool { return f.State() == dual.Primary }, "the primary never served again")
	h = health()
	require.Equal(t, aside.HealthOK, h.Status, "%v", h.Reasons)
	a = nextAlert()
	require.False(t, a.Firing, "the alert resolves: %s", a.Message)
}

// A Migrator whose secondary fails says so (provider.Degrader) until the
// secondary answers and has its journal replayed.
func TestMigratorIsDegradedWhileItsSecondaryFails(t *testing.T) {
	ctx := context.Background()
	secondary := newFaulty(newMemory(t, 0))
	m := migrator(t, newMemory(t, 0), secondary, dual.MigrateOptions{SecondaryName: "redis"})
	require.Empty(t, m.Degraded())
	secondary.down.Store(true)
	require.NoError(t, m.Set(ctx, "k", []byte("v"), 0))
	reasons := m.Degraded()
	require.Len(t, reasons, 1)
	require.Contains(t, reasons[0], "secondary store (redis) is failing; 1 write(s)")
	secondary.down.Store(false)
	eventually(t, 5*time.Second, func() bool { return len(m.Degraded()) == 0 }, "still degraded after the secondary came back")
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
