package dual_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/dual"
	"github.com/aside-go/aside/provider/providertest"
)

// flap takes s down and brings it back at random intervals of 2 to 40 ms
// until the test ends, and returns how many times it went down so far.
func flap(t *testing.T, s *faulty) func() int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	downs := 0
	wg.Go(func() {
		r := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-ctx.Done():
				s.down.Store(false)
				return
			case <-time.After(time.Duration(2+r.IntN(38)) * time.Millisecond):
			}
			if !s.down.Swap(!s.down.Load()) {
				mu.Lock()
				downs++
				mu.Unlock()
			}
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return downs
	}
}

// same returns p for both of RunCache's Caches: one process.
func same(p provider.Provider) func(*testing.T) provider.Provider {
	return func(*testing.T) provider.Provider { return p }
}

func TestInvalidationRaceFallback(t *testing.T) {
	t.Run("memory primary going down and up", func(t *testing.T) {
		primary := newFaulty(newMemory(t, 0))
		f := fallback(t, primary, dual.FallbackOptions{Breaker: fastBreaker})
		downs := flap(t, primary)
		providertest.RunCache(t, same(f), providertest.CacheOptions{Rounds: 1000})
		s := f.Stats()
		t.Logf("primary down %d times; %d outages, %d reconciled (%d records replayed), %d calls served by the secondary",
			downs(), s.Outages, s.Journal.Replays, s.Journal.Replayed, s.Served)
		if s.Outages < 3 || s.Journal.Replays == 0 {
			t.Fatalf("the race saw %d outages and %d replays: too few to prove anything", s.Outages, s.Journal.Replays)
		}
	})
	t.Run("Redis primary going down and up", func(t *testing.T) {
		primary := newFaulty(newRedis(t))
		f := fallback(t, primary, dual.FallbackOptions{Breaker: fastBreaker})
		downs := flap(t, primary)
		providertest.RunCache(t, same(f), providertest.CacheOptions{Rounds: 1000})
		s := f.Stats()
		t.Logf("primary down %d times; %d outages, %d replays, %d calls served by the secondary", downs(), s.Outages, s.Journal.Replays, s.Served)
		if s.Outages < 3 || s.Journal.Replays == 0 {
			t.Fatalf("the race saw %d outages and %d replays: too few to prove anything", s.Outages, s.Journal.Replays)
		}
	})
	t.Run("Redis primary that stays up, two processes", func(t *testing.T) {
		providertest.RunCache(t, func(t *testing.T) provider.Provider {
			return fallback(t, newRedis(t), dual.FallbackOptions{})
		}, providertest.CacheOptions{})
	})
}

func TestInvalidationRaceMigrate(t *testing.T) {
	t.Run("memory primary that evicts, memory secondary going down and up, reading through", func(t *testing.T) {
		secondary := newFaulty(newMemory(t, 0))
		m := migrator(t, newForgetful(t), secondary, dual.MigrateOptions{ReadThrough: true, Breaker: fastBreaker})
		dual.ForceBackfill(m)
		downs := flap(t, secondary)
		providertest.RunCache(t, same(m), providertest.CacheOptions{Rounds: 1000})
		s := m.Stats()
		t.Logf("secondary down %d times; %d read-throughs (%d hits), %d backfills, %d journal replays (%d records)",
			downs(), s.ReadThroughs, s.ReadThroughHits, s.Backfills, s.Journal.Replays, s.Journal.Replayed)
		if s.ReadThroughHits == 0 || s.Backfills == 0 || s.Journal.Replays < 3 {
			t.Fatalf("the race read through %d times, backfilled %d times, replayed %d journals: too few to prove anything",
				s.ReadThroughHits, s.Backfills, s.Journal.Replays)
		}
	})
	t.Run("memory primary that evicts, Redis secondary going down and up, reading through", func(t *testing.T) {
		secondary := newFaulty(newRedis(t))
		m := migrator(t, newForgetful(t), secondary, dual.MigrateOptions{ReadThrough: true, Breaker: fastBreaker})
		dual.ForceBackfill(m)
		downs := flap(t, secondary)
		providertest.RunCache(t, same(m), providertest.CacheOptions{Rounds: 1000})
		s := m.Stats()
		t.Logf("secondary down %d times; %d read-throughs (%d hits), %d backfills, %d journal replays (%d records)",
			downs(), s.ReadThroughs, s.ReadThroughHits, s.Backfills, s.Journal.Replays, s.Journal.Replayed)
		if s.ReadThroughHits == 0 || s.Journal.Replays < 3 {
			t.Fatalf("the race read through %d times and replayed %d journals: too few to prove anything",
				s.ReadThroughHits, s.Journal.Replays)
		}
	})
	t.Run("Redis primary, memory secondaries, two processes", func(t *testing.T) {
		providertest.RunCache(t, func(t *testing.T) provider.Provider {
			return migrator(t, newRedis(t), newMemory(t, 0), dual.MigrateOptions{ShadowReads: 1})
		}, providertest.CacheOptions{})
	})
}
