package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
)

// CacheOptions tune RunCache. The zero value runs the full stress test.
type CacheOptions struct {
	// Rounds is how many Remember calls each reader makes; 0 means 400.
	Rounds int
	// Readers and Writers are the goroutines per Cache; 0 means 6 and 2.
	Readers, Writers int
}

// RunCache proves, through the aside.Cache, the invalidation guarantee on
// this provider: once InvalidateTags, Delete or InvalidatePattern returns, no
// Remember, in any Cache sharing the store, returns a value loaded before the
// invalidation began. Two Caches over providers from newProvider (sharing
// one store, as two processes would) race slow loaders, stale-while-revalidate
// refreshes and invalidations over a few hot keys. It fails the first time a
// read returns a value older than an invalidation that completed before the
// read began.
//
// newProvider is called twice; both providers must see the same store (for a
// network store: two clients of one server; for an in-process store: return
// the same provider twice, whose Close must then be idempotent).
func RunCache(t *testing.T, newProvider func(t *testing.T) provider.Provider, o CacheOptions) {
	t.Helper()
	t.Run("Invalidation never loses to a slow loader", func(t *testing.T) {
		runInvalidationRace(t, newProvider, o)
	})
}

func runInvalidationRace(t *testing.T, newProvider func(t *testing.T) provider.Provider, o CacheOptions) {
	rounds, readers, writers := o.Rounds, o.Readers, o.Writers
	if rounds == 0 {
		rounds = 400
	}
	if readers == 0 {
		readers = 6
	}
	if writers == 0 {
		writers = 2
	}
	var nsb [6]byte
	_, _ = rand.Read(nsb[:])
	ns := "providertest-" + hex.EncodeToString(nsb[:])
	caches := make([]*aside.Cache, 2)
	for i := range caches {
		c, err := aside.New(aside.Options{Provider: newProvider(t), Namespace: ns, LeaseTTL: 5 * time.Second})
		if err != nil {
			t.Fatalf("aside.New: %v", err)
		}
		caches[i] = c
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = caches[0].InvalidatePattern(ctx, "*")
		for _, c := range caches {
			_ = c.Close()
		}
	})

	const nKeys = 4
	// db is the source of truth: a version per key, only ever increasing.
	// floor[k] is the highest version whose invalidation has returned: a read
	// that begins afterwards must return at least that.
	var db, floor [nKeys]atomic.Int64
	key := func(k int) string { return fmt.Sprintf("item:%d", k) }
	tag := func(k int) string { return fmt.Sprintf("item-tag:%d", k) }

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stop atomic.Bool
	var violations atomic.Int64
	var firstViolation atomic.Value
	var reads, invalidations atomic.Int64

	var wg sync.WaitGroup
	var readersWG sync.WaitGroup
	for ci, c := range caches {
		for r := range readers {
			readersWG.Add(1)
			wg.Go(func() {
				defer readersWG.Done()
				rng := mrand.New(mrand.NewPCG(uint64(ci), uint64(r)))
				for i := 0; i < rounds && !stop.Load() && ctx.Err() == nil; i++ {
					k := rng.IntN(nKeys)
					min := floor[k].Load()
					opts := []aside.Option{aside.Tags(tag(k), "items"), aside.TTL(time.Duration(5+rng.IntN(40)) * time.Millisecond)}
					if rng.IntN(3) == 0 {
						opts = append(opts, aside.StaleWhileRevalidate(50*time.Millisecond))
					}
					slow := time.Duration(rng.IntN(3)) * time.Millisecond
					got, err := aside.Remember(ctx, c, key(k), func(context.Context) (int64, error) {
						v := db[k].Load()
						time.Sleep(slow) // the slow loader: its data may change meanwhile
						return v, nil
					}, opts...)
					reads.Add(1)
					if err != nil {
						if ctx.Err() == nil {
							firstViolation.CompareAndSwap(nil, fmt.Sprintf("Remember(%s) failed: %v", key(k), err))
							violations.Add(1)
						}
						return
					}
					if got < min {
						firstViolation.CompareAndSwap(nil, fmt.Sprintf("Remember(%s) returned version %d after the invalidation of version %d had returned", key(k), got, min))
						violations.Add(1)
						stop.Store(true)
					}
				}
			})
		}
	}
	for ci, c := range caches {
		for w := range writers {
			wg.Go(func() {
				rng := mrand.New(mrand.NewPCG(uint64(100+ci), uint64(w)))
				for !stop.Load() && ctx.Err() == nil {
					k := rng.IntN(nKeys)
					v := db[k].Add(1) // the data changes, then the writer invalidates
					var err error
					switch rng.IntN(4) {
					case 0, 1:
						err = c.InvalidateTags(ctx, tag(k))
					case 2:
						err = c.Delete(ctx, key(k))
					case 3:
						_, err = c.InvalidatePattern(ctx, key(k))
					}
					if err != nil {
						if ctx.Err() == nil {
							firstViolation.CompareAndSwap(nil, fmt.Sprintf("invalidating %s failed: %v", key(k), err))
							violations.Add(1)
						}
						return
					}
					invalidations.Add(1)
					for {
						cur := floor[k].Load()
						if v <= cur || floor[k].CompareAndSwap(cur, v) {
							break
						}
					}
					time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				}
			})
		}
	}
	readersWG.Wait()
	stop.Store(true)
	wg.Wait()
	if violations.Load() > 0 {
		t.Fatalf("%d violation(s); first: %v", violations.Load(), firstViolation.Load())
	}
	if ctx.Err() != nil {
		t.Fatalf("the stress test did not finish in time (%d reads, %d invalidations)", reads.Load(), invalidations.Load())
	}
	if invalidations.Load() == 0 || reads.Load() < int64(rounds) {
		t.Fatalf("the stress test did too little to prove anything: %d reads, %d invalidations", reads.Load(), invalidations.Load())
	}
	t.Logf("%d reads raced %d invalidations across 2 caches without a stale read", reads.Load(), invalidations.Load())
}
