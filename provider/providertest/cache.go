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

// RunCacheBatch is RunCache for batches: it proves, through the aside.Cache,
// that the invalidation guarantee holds for aside.RememberMany key by key,
// with batch loads, single-key Remember calls and invalidations (Delete,
// InvalidateTags of a key's own tag, InvalidatePattern) racing over a few hot
// keys in two Caches sharing the store. Batch loaders are slow and leave out
// some versions of some keys (items that do not exist at that version),
// which are remembered as absent (AbsentTTL); stale-while-revalidate
// refreshes run too. It fails the first time a read returns, for any key, a
// value older than an invalidation that completed before the read began, or
// an absence older than every such invalidation. newProvider is as for
// RunCache.
func RunCacheBatch(t *testing.T, newProvider func(t *testing.T) provider.Provider, o CacheOptions) {
	t.Helper()
	t.Run("Invalidation never loses to a slow batch loader", func(t *testing.T) {
		runBatchInvalidationRace(t, newProvider, o)
	})
}

func runBatchInvalidationRace(t *testing.T, newProvider func(t *testing.T) provider.Provider, o CacheOptions) {
	rounds, readers, writers := o.Rounds, o.Readers, o.Writers
	if rounds == 0 {
		rounds = 300
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

	const nKeys = 6
	// db is the source of truth: a version per key, only ever increasing;
	// a version v with v%5 == 3 is an item that does not exist. floor[k] is
	// the highest version whose invalidation has returned; lastAbsent[k] the
	// highest absent version a loader has seen.
	var db, floor, lastAbsent [nKeys]atomic.Int64
	keyOf := func(k int) string { return fmt.Sprintf("item:%d", k) }
	tagOf := func(key string) []string { return []string{"item-tag:" + key[len("item:"):]} }
	raise := func(a *atomic.Int64, v int64) {
		for {
			cur := a.Load()
			if v <= cur || a.CompareAndSwap(cur, v) {
				return
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stop atomic.Bool
	var violations atomic.Int64
	var firstViolation atomic.Value
	var reads, batchReads, absences, invalidations atomic.Int64
	violate := func(format string, args ...any) {
		firstViolation.CompareAndSwap(nil, fmt.Sprintf(format, args...))
		violations.Add(1)
		stop.Store(true)
	}

	var wg sync.WaitGroup
	var readersWG sync.WaitGroup
	for ci, c := range caches {
		for r := range readers {
			readersWG.Add(1)
			wg.Go(func() {
				defer readersWG.Done()
				rng := mrand.New(mrand.NewPCG(uint64(200+ci), uint64(r)))
				for i := 0; i < rounds && !stop.Load() && ctx.Err() == nil; i++ {
					opts := []aside.Option{aside.Tags("items"), aside.TagsFor(tagOf), aside.TTL(time.Duration(5+rng.IntN(40)) * time.Millisecond)}
					if rng.IntN(3) == 0 {
						opts = append(opts, aside.StaleWhileRevalidate(50*time.Millisecond))
					}
					if rng.IntN(2) == 0 {
						opts = append(opts, aside.AbsentTTL(time.Duration(5+rng.IntN(40))*time.Millisecond))
					}
					slow := time.Duration(rng.IntN(3)) * time.Millisecond
					if r%3 == 0 {
						// A single-key Remember among the batches: it joins
						// their loads and they join its.
						k := rng.IntN(nKeys)
						min := floor[k].Load()
						got, err := aside.Remember(ctx, c, keyOf(k), func(context.Context) (int64, error) {
							v := db[k].Load()
							time.Sleep(slow)
							return v, nil
						}, opts...)
						reads.Add(1)
						if err != nil {
							if ctx.Err() == nil {
								violate("Remember(%s) failed: %v", keyOf(k), err)
							}
							return
						}
						if got < min {
							violate("Remember(%s) returned version %d after the invalidation of version %d had returned", keyOf(k), got, min)
						}
						continue
					}
					ks := rng.Perm(nKeys)[:2+rng.IntN(nKeys-1)]
					var min [nKeys]int64
					for _, k := range ks {
						min[k] = floor[k].Load()
					}
					got, err := aside.RememberMany(ctx, c, ks, func(k int) string { return keyOf(k) }, func(ctx context.Context, missing []int) (map[int]int64, error) {
						out := make(map[int]int64, len(missing))
						for _, k := range missing {
							v := db[k].Load()
							if v%5 == 3 {
								raise(&lastAbsent[k], v)
								continue
							}
							out[k] = v
						}
						time.Sleep(slow) // the slow loader: its data may change meanwhile
						return out, nil
					}, opts...)
					reads.Add(1)
					batchReads.Add(1)
					if err != nil {
						if ctx.Err() == nil {
							violate("RememberMany(%v) failed: %v", ks, err)
						}
						return
					}
					for _, k := range ks {
						v, ok := got[k]
						switch {
						case !ok:
							absences.Add(1)
							if last := lastAbsent[k].Load(); last < min[k] {
								violate("RememberMany answered %s absent, a version (%d at the latest) older than the invalidation of version %d that had returned", keyOf(k), last, min[k])
							}
						case v < min[k]:
							violate("RememberMany returned version %d of %s after the invalidation of version %d had returned", v, keyOf(k), min[k])
						}
					}
				}
			})
		}
	}
	for ci, c := range caches {
		for w := range writers {
			wg.Go(func() {
				rng := mrand.New(mrand.NewPCG(uint64(300+ci), uint64(w)))
				for !stop.Load() && ctx.Err() == nil {
					k := rng.IntN(nKeys)
					v := db[k].Add(1) // the data changes, then the writer invalidates
					var err error
					switch rng.IntN(4) {
					case 0, 1:
						err = c.InvalidateTags(ctx, tagOf(keyOf(k))...)
					case 2:
						err = c.Delete(ctx, keyOf(k))
					case 3:
						_, err = c.InvalidatePattern(ctx, keyOf(k))
					}
					if err != nil {
						if ctx.Err() == nil {
							violate("invalidating %s failed: %v", keyOf(k), err)
						}
						return
					}
					invalidations.Add(1)
					raise(&floor[k], v)
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
	if invalidations.Load() == 0 || batchReads.Load() < int64(rounds) || absences.Load() == 0 {
		t.Fatalf("the stress test did too little to prove anything: %d reads (%d batches, %d absences), %d invalidations",
			reads.Load(), batchReads.Load(), absences.Load(), invalidations.Load())
	}
	var s aside.Stats
	for _, c := range caches {
		cs := c.Stats()
		s.BatchHits += cs.BatchHits
		s.BatchMisses += cs.BatchMisses
		s.Loads += cs.Loads
	}
	t.Logf("%d reads (%d batches: %d keys hit, %d missed, %d answered absent) raced %d invalidations across 2 caches without a stale read; %d loader calls",
		reads.Load(), batchReads.Load(), s.BatchHits, s.BatchMisses, absences.Load(), invalidations.Load(), s.Loads)
}
