package aside_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
)

// sharedStore is one store under several Caches (the processes of a fleet):
// a memory provider that the Caches cannot recognise as in-process, that
// counts reads and can run a hook after each one.
type sharedStore struct {
	*memory.Provider
	reads          atomic.Int64
	afterRead      atomic.Pointer[func(key string)]
	afterSwap      atomic.Pointer[func(key string)] // after each swap that succeeded
	afterSwapMulti atomic.Pointer[func(key string)] // after each batch swap
	failSet        atomic.Bool
}

func (s *sharedStore) CompareAndSwapMulti(ctx context.Context, swaps []provider.Swap) ([]bool, error) {
	ok, err := s.Provider.CompareAndSwapMulti(ctx, swaps)
	if h := s.afterSwapMulti.Load(); err == nil && h != nil {
		(*h)(swaps[0].Key)
	}
	return ok, err
}

func (s *sharedStore) CompareAndSwap(ctx context.Context, key string, old, v []byte, ttl time.Duration) (bool, error) {
	ok, err := s.Provider.CompareAndSwap(ctx, key, old, v, ttl)
	if h := s.afterSwap.Load(); ok && h != nil {
		(*h)(key)
	}
	return ok, err
}

func newSharedStore(t testing.TB) *sharedStore {
	m, err := memory.New(memory.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return &sharedStore{Provider: m}
}

func (s *sharedStore) Close() error { return nil } // the test owns it

func (s *sharedStore) read(key string) {
	s.reads.Add(1)
	if h := s.afterRead.Load(); h != nil {
		(*h)(key)
	}
}

func (s *sharedStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.Provider.Get(ctx, key)
	s.read(key)
	return v, err
}

func (s *sharedStore) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	v, err := s.Provider.GetMulti(ctx, keys)
	s.read(keys[0])
	return v, err
}

func (s *sharedStore) GetAddMulti(ctx context.Context, fetches []provider.Fetch) ([]provider.AddResult, error) {
	v, err := s.Provider.GetAddMulti(ctx, fetches)
	s.read(fetches[0].Key)
	return v, err
}

var errSetDown = errors.New("store refuses writes")

func (s *sharedStore) SetMulti(ctx context.Context, items []provider.Item) error {
	if s.failSet.Load() {
		return errSetDown
	}
	return s.Provider.SetMulti(ctx, items)
}

func (s *sharedStore) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if s.failSet.Load() {
		return errSetDown
	}
	return s.Provider.Set(ctx, key, v, ttl)
}

// fleet is n Caches over one store, their near tiers on one bus.
type fleet struct {
	store   *sharedStore
	bus     *aside.NearBus
	caches  []*aside.Cache
	members []*aside.NearMember
}

func newFleet(t *testing.T, n int, near aside.Near) *fleet {
	f := &fleet{store: newSharedStore(t), bus: &aside.NearBus{}}
	for range n {
		o, m := f.bus.Join(aside.Options{Provider: f.store, Near: near, Breaker: aside.Breaker{Disabled: true}})
		f.caches = append(f.caches, newCache(t, o))
		f.members = append(f.members, m)
	}
	return f
}

var nearOn = aside.Near{MaxBytes: 1 << 20}

// version loads the current version of a key from a fake database.
type database struct{ v atomic.Int64 }

func (d *database) load(context.Context) (int64, error) { return d.v.Load(), nil }

func TestNearHitCostsNoRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, 1, nearOn)
	c := f.caches[0]
	db := &database{}
	db.v.Store(7)
	_, err := aside.Remember(ctx, c, "k", db.load) // miss: loads, stores and fills the tier
	require.NoError(t, err)
	before := f.store.reads.Load()
	for range 10 {
		v, err := aside.Remember(ctx, c, "k", db.load)
		require.NoError(t, err)
		require.EqualValues(t, 7, v)
		v, ok, err := aside.Get[int64](ctx, c, "k")
		require.NoError(t, err)
		require.True(t, ok)
		require.EqualValues(t, 7, v)
	}
	require.Equal(t, before, f.store.reads.Load(), "near hits read the store")
	s := c.Stats()
	require.True(t, s.Near.On)
	require.True(t, s.Near.Serving)
	require.EqualValues(t, 20, s.Near.Hits)
	require.EqualValues(t, 1, s.Near.Entries)
}

// TestNearInvalidationPaths: a reader holds a key in its near tier; a
// writer in another process replaces or invalidates it; the reader's next
// read must see the change. Each case fails if its path does not call
// Invalidate after its store write.
func TestNearInvalidationPaths(t *testing.T) {
	for _, tc := range []struct {
		name string
		// change replaces the reader's entry through writer; want is what
		// the reader must read afterwards (found false: a miss).
		change func(ctx context.Context, t *testing.T, w *aside.Cache)
		want   int64
		found  bool
	}{
		{"a Set from another process replaces the value", func(ctx context.Context, t *testing.T, w *aside.Cache) {
			require.NoError(t, aside.Set(ctx, w, "k", int64(2), aside.Tags("t")))
		}, 2, true},
		{"a SetMany from another process replaces the value", func(ctx context.Context, t *testing.T, w *aside.Cache) {
			require.NoError(t, aside.SetMany(ctx, w, map[string]int64{"k": 3, "other": 4}, aside.Tags("t")))
		}, 3, true},
		{"a Delete from another process removes it", func(ctx context.Context, t *testing.T, w *aside.Cache) {
			require.NoError(t, w.Delete(ctx, "k"))
		}, 0, false},
		{"InvalidateTags from another process invalidates it", func(ctx context.Context, t *testing.T, w *aside.Cache) {
			require.NoError(t, w.InvalidateTags(ctx, "t"))
		}, 0, false},
		{"InvalidateTagsEventually that succeeds at once invalidates it", func(ctx context.Context, t *testing.T, w *aside.Cache) {
			require.NoError(t, w.InvalidateTagsEventually(ctx, "t"))
		}, 0, false},
		{"InvalidatePattern from another process deletes it", func(ctx context.Context, t *testing.T, w *aside.Cache) {
			n, err := w.InvalidatePattern(ctx, "k*")
			require.NoError(t, err)
			require.Equal(t, 1, n)
		}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFleet(t, 2, nearOn)
			w, r := f.caches[0], f.caches[1]
			require.NoError(t, aside.Set(ctx, w, "k", int64(1), aside.Tags("t")))
			for range 2 { // the first read fills the tier, the second is served by it
				v, ok, err := aside.Get[int64](ctx, r, "k")
				require.NoError(t, err)
				require.True(t, ok)
				require.EqualValues(t, 1, v)
			}
			require.EqualValues(t, 1, r.Stats().Near.Hits, "the reader holds the key")

			tc.change(ctx, t, w)

			v, ok, err := aside.Get[int64](ctx, r, "k")
			require.NoError(t, err)
			require.Equal(t, tc.found, ok)
			require.Equal(t, tc.want, v)
			require.EqualValues(t, 1, r.Stats().Near.Hits, "served a replaced entry from the near tier")
		})
	}
}

// TestNearEventuallyDropsLocallyWhileStoreIsDown: when the tags' store write
// fails, this process stops serving the entry from its tier at once, and
// the retry that lands tells the others.
func TestNearEventuallyDropsLocallyWhileStoreIsDown(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, 2, nearOn)
	w, r := f.caches[0], f.caches[1]
	require.NoError(t, aside.Set(ctx, w, "k", int64(1), aside.Tags("t")))
	for _, c := range []*aside.Cache{w, r} {
		for range 2 {
			_, ok, err := aside.Get[int64](ctx, c, "k", aside.Tags("t"))
			require.NoError(t, err)
			require.True(t, ok)
		}
	}
	f.store.failSet.Store(true)
	err := w.InvalidateTagsEventually(ctx, "t")
	require.ErrorIs(t, err, aside.ErrInvalidationPending)
	_, ok, err := aside.Get[int64](ctx, w, "k", aside.Tags("t"))
	require.NoError(t, err)
	require.False(t, ok, "the invalidating process served a pending tag's entry from its tier")

	f.store.failSet.Store(false)
	require.Eventually(t, func() bool {
		_, ok, err := aside.Get[int64](ctx, r, "k", aside.Tags("t"))
		return err == nil && !ok
	}, 5*time.Second, 10*time.Millisecond, "the retry did not reach the other process's tier")
	require.Eventually(t, func() bool { return w.Stats().InvalidationsPending == 0 }, 5*time.Second, 10*time.Millisecond)
}

// TestNearFillRacingAnInvalidationIsRefused is the generation guard: a read
// that got the old value from the store before another process replaced it
// must not put that value in the tier after the invalidation was applied.
func TestNearFillRacingAnInvalidationIsRefused(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, 2, nearOn)
	w, r := f.caches[0], f.caches[1]
	require.NoError(t, aside.Set(ctx, w, "k", int64(1)))
	once := atomic.Bool{}
	hook := func(string) {
		if once.CompareAndSwap(false, true) {
			// The reader has the old bytes in hand; the writer replaces
			// them and its invalidation is applied everywhere.
			require.NoError(t, aside.Set(ctx, w, "k", int64(2)))
		}
	}
	f.store.afterRead.Store(&hook)
	v, ok, err := aside.Get[int64](ctx, r, "k")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 1, v, "the read itself was concurrent with the write: the old value is fine")
	f.store.afterRead.Store(nil)

	v, ok, err = aside.Get[int64](ctx, r, "k")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 2, v, "a fill older than an applied invalidation was kept")
	require.EqualValues(t, 1, r.Stats().Near.Rejected)
}

// TestNearEpochGuard: entries are served only while the lease is held and
// only in the epoch they were filled in, including a fill whose store read
// straddled the change of epoch.
func TestNearEpochGuard(t *testing.T) {
	ctx := context.Background()
	fill := func(t *testing.T, f *fleet) {
		for range 2 {
			_, ok, err := aside.Get[int64](ctx, f.caches[0], "k")
			require.NoError(t, err)
			require.True(t, ok)
		}
		require.EqualValues(t, 1, f.caches[0].Stats().Near.Hits)
	}
	servedFromTier := func(t *testing.T, f *fleet) bool {
		before := f.caches[0].Stats().Near.Hits
		v, ok, err := aside.Get[int64](ctx, f.caches[0], "k")
		require.NoError(t, err)
		require.True(t, ok)
		require.EqualValues(t, 1, v)
		return f.caches[0].Stats().Near.Hits > before
	}
	setup := func(t *testing.T) *fleet {
		f := newFleet(t, 1, nearOn)
		require.NoError(t, aside.Set(ctx, f.caches[0], "k", int64(1)))
		return f
	}

	t.Run("a lease that ran out stops the tier before the stream notices", func(t *testing.T) {
		f := setup(t)
		fill(t, f)
		f.members[0].SetLease(1, false)
		require.False(t, servedFromTier(t, f))
		require.False(t, f.caches[0].Stats().Near.Serving)
	})
	t.Run("an entry filled in an earlier epoch is not served in a new one", func(t *testing.T) {
		f := setup(t)
		fill(t, f)
		f.members[0].SetLease(2, true) // resubscribed; no Lapse call seen
		require.False(t, servedFromTier(t, f))
		require.True(t, servedFromTier(t, f), "refilled in the new epoch")
	})
	t.Run("a lapse forgets everything", func(t *testing.T) {
		f := setup(t)
		fill(t, f)
		f.members[0].Lapse()
		require.Zero(t, f.caches[0].Stats().Near.Entries)
		require.False(t, servedFromTier(t, f))
	})
	t.Run("a fill whose read straddled a new epoch is not kept", func(t *testing.T) {
		f := setup(t)
		once := atomic.Bool{}
		hook := func(string) {
			if once.CompareAndSwap(false, true) {
				f.members[0].SetLease(2, true)
			}
		}
		f.store.afterRead.Store(&hook)
		_, ok, err := aside.Get[int64](ctx, f.caches[0], "k")
		require.NoError(t, err)
		require.True(t, ok)
		f.store.afterRead.Store(nil)
		require.Zero(t, f.caches[0].Stats().Near.Entries)
		require.EqualValues(t, 1, f.caches[0].Stats().Near.Rejected)
	})
}

// TestNearTagDropsEntriesReadWithoutTheirTags: a reader that does not name
// an entry's tags still drops it when one of them is invalidated.
func TestNearTagDropsEntriesReadWithoutTheirTags(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, 2, nearOn)
	w, r := f.caches[0], f.caches[1]
	require.NoError(t, aside.SetMany(ctx, w, map[string]int64{"a": 1, "b": 2, "c": 3}, aside.TagsFor(func(k string) []string {
		return map[string][]string{"a": {"x"}, "b": {"x", "y"}, "c": {"y"}}[k]
	})))
	for range 2 {
		for _, k := range []string{"a", "b", "c"} {
			_, ok, err := aside.Get[int64](ctx, r, k)
			require.NoError(t, err)
			require.True(t, ok)
		}
	}
	require.EqualValues(t, 3, r.Stats().Near.Entries)
	require.NoError(t, w.InvalidateTags(ctx, "x"))
	s := r.Stats().Near
	require.EqualValues(t, 1, s.Entries, "only c, which does not carry x, stays")
	require.EqualValues(t, 2, s.Drops)
}

func TestNearFailsOpen(t *testing.T) {
	ctx := context.Background()

	t.Run("a failed publish fails the write and drops the entry here", func(t *testing.T) {
		f := newFleet(t, 1, nearOn)
		c := f.caches[0]
		require.NoError(t, aside.Set(ctx, c, "k", int64(1)))
		for range 2 {
			_, _, err := aside.Get[int64](ctx, c, "k")
			require.NoError(t, err)
		}
		require.EqualValues(t, 1, c.Stats().Near.Entries)
		f.bus.Fail.Store(true)
		err := aside.Set(ctx, c, "k", int64(2))
		require.Error(t, err, "the other processes may still serve the old value: the caller must know")
		require.Zero(t, c.Stats().Near.Entries)
		v, ok, err := aside.Get[int64](ctx, c, "k")
		require.NoError(t, err)
		require.True(t, ok)
		require.EqualValues(t, 2, v)
	})
	t.Run("a stream that is down sends every read to the store, without errors", func(t *testing.T) {
		f := newFleet(t, 1, nearOn)
		c := f.caches[0]
		f.members[0].SetLease(1, false)
		db := &database{}
		db.v.Store(5)
		for range 5 {
			v, err := aside.Remember(ctx, c, "k", db.load)
			require.NoError(t, err)
			require.EqualValues(t, 5, v)
		}
		s := c.Stats()
		require.Zero(t, s.Near.Hits)
		require.Zero(t, s.Near.Entries, "no fill without a lease")
		require.EqualValues(t, 4, s.Hits)
	})
}

type doc struct {
	Title string
	Tags  []string
}

func TestNearModes(t *testing.T) {
	ctx := context.Background()
	load := func(context.Context) (doc, error) { return doc{Title: "a", Tags: []string{"x"}}, nil }

	t.Run("safe mode gives every caller its own copy", func(t *testing.T) {
		f := newFleet(t, 1, aside.Near{MaxBytes: 1 << 20})
		c := f.caches[0]
		for range 2 {
			_, err := aside.Remember(ctx, c, "d", load)
			require.NoError(t, err)
		}
		a, err := aside.Remember(ctx, c, "d", load)
		require.NoError(t, err)
		a.Tags[0] = "mutated"
		b, err := aside.Remember(ctx, c, "d", load)
		require.NoError(t, err)
		require.Equal(t, "x", b.Tags[0])
		require.EqualValues(t, 3, c.Stats().Near.Hits, "the load filled the tier: every later call is a near hit")
	})
	t.Run("shared mode hands out the one decoded value", func(t *testing.T) {
		f := newFleet(t, 1, aside.Near{MaxBytes: 1 << 20, Mode: aside.NearShared})
		c := f.caches[0]
		for range 2 {
			_, err := aside.Remember(ctx, c, "d", load)
			require.NoError(t, err)
		}
		a, err := aside.Remember(ctx, c, "d", load)
		require.NoError(t, err)
		b, err := aside.Remember(ctx, c, "d", load)
		require.NoError(t, err)
		require.Same(t, &a.Tags[0], &b.Tags[0], "shared mode shares")
	})
	t.Run("shared mode decodes for a caller of another type", func(t *testing.T) {
		f := newFleet(t, 1, aside.Near{MaxBytes: 1 << 20, Mode: aside.NearShared})
		c := f.caches[0]
		for range 2 {
			_, err := aside.Remember(ctx, c, "d", load)
			require.NoError(t, err)
		}
		m, ok, err := aside.Get[map[string]any](ctx, c, "d")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "a", m["Title"])
		a, ok, err := aside.Get[any](ctx, c, "d")
		require.NoError(t, err)
		require.True(t, ok)
		require.IsType(t, map[string]any{}, a, "an interface the value satisfies gets what the store would give, not the shared value")
	})
}

func TestNearOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    aside.Options
		want string
	}{
		{"the memory provider is refused: it is in-process already", aside.Options{Near: nearOn}, "memory provider"},
		{"a provider without pub/sub needs a TTL cap", aside.Options{Near: nearOn, Provider: &faulty{}}, "Near.TTL"},
		{"TTLOnly needs a TTL cap", aside.Options{Near: aside.Near{MaxBytes: 1, TTLOnly: true}, Provider: &faulty{}}, "Near.TTL"},
		{"a mode without MaxBytes is a mistake", aside.Options{Near: aside.Near{Mode: aside.NearShared}}, "MaxBytes"},
		{"a negative bound is refused", aside.Options{Near: aside.Near{MaxBytes: -1}}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := aside.New(tc.o)
			require.ErrorIs(t, err, aside.ErrInvalidOption)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestNearOverTheRealStream runs two Caches over one store whose
// Broadcaster is the memory provider's in-process fan-out, with the real
// coherence stream between them.
func TestNearOverTheRealStream(t *testing.T) {
	ctx := context.Background()
	store := newSharedStore(t)
	near := aside.Near{MaxBytes: 1 << 20, Lease: 50 * time.Millisecond}
	w := newCache(t, aside.Options{Provider: store, Near: near})
	r := newCache(t, aside.Options{Provider: store, Near: near})
	require.Eventually(t, func() bool { return w.Stats().Near.Serving && r.Stats().Near.Serving }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, aside.Set(ctx, w, "k", int64(1), aside.Tags("t")))
	for range 2 {
		v, _, err := aside.Get[int64](ctx, r, "k")
		require.NoError(t, err)
		require.EqualValues(t, 1, v)
	}
	require.EqualValues(t, 1, r.Stats().Near.Hits)
	require.NoError(t, aside.Set(ctx, w, "k", int64(2), aside.Tags("t")))
	v, _, err := aside.Get[int64](ctx, r, "k")
	require.NoError(t, err)
	require.EqualValues(t, 2, v)
	_, _, err = aside.Get[int64](ctx, r, "k")
	require.NoError(t, err)
	require.NoError(t, w.InvalidateTags(ctx, "t"))
	_, ok, err := aside.Get[int64](ctx, r, "k")
	require.NoError(t, err)
	require.False(t, ok)
}

// TestNearTTLMode: without a Broadcaster, entries are served for at most the
// TTL cap, and this process's own writes drop them at once.
func TestNearTTLMode(t *testing.T) {
	ctx := context.Background()
	store := newFaulty(t) // a provider without pub/sub
	w := newCache(t, aside.Options{Provider: store})
	r := newCache(t, aside.Options{Provider: store, Near: aside.Near{MaxBytes: 1 << 20, TTL: 200 * time.Millisecond}})
	require.NoError(t, aside.Set(ctx, w, "k", int64(1)))
	for range 2 {
		_, _, err := aside.Get[int64](ctx, r, "k")
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, r.Stats().Near.Hits)
	require.NoError(t, aside.Set(ctx, w, "k", int64(2))) // unheard: stale for at most the cap
	v, _, _ := aside.Get[int64](ctx, r, "k")
	require.EqualValues(t, 1, v, "TTL mode is stale until the cap")
	require.Eventually(t, func() bool {
		v, _, _ := aside.Get[int64](ctx, r, "k")
		return v == 2
	}, 2*time.Second, 10*time.Millisecond)

	require.NoError(t, aside.Set(ctx, r, "k", int64(3))) // its own write: dropped at once
	v, _, _ = aside.Get[int64](ctx, r, "k")
	require.EqualValues(t, 3, v)
}

// TestNearServesBatches: GetMany and RememberMany read the near tier first,
// ask the store only for the keys it lacks (the loader gets only those that
// miss both), fill it with the fresh entries they read, and never serve
// what another process replaced or invalidated.
func TestNearServesBatches(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, 2, nearOn)
	w, r := f.caches[0], f.caches[1]
	require.NoError(t, aside.SetMany(ctx, w, map[string]int64{"a": 1, "b": 2, "c": 3}, aside.Tags("t")))
	abc := []string{"a", "b", "c"}
	want := map[string]int64{"a": 1, "b": 2, "c": 3}

	got, err := aside.GetMany[int64](ctx, r, abc)
	require.NoError(t, err)
	require.Equal(t, want, got)
	before := f.store.reads.Load()
	got, err = aside.GetMany[int64](ctx, r, abc)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Equal(t, before, f.store.reads.Load(), "a batch the tier holds read the store")
	require.EqualValues(t, 3, r.Stats().Near.Hits)

	var asked [][]string
	load := func(_ context.Context, missing []string) (map[string]int64, error) {
		asked = append(asked, missing)
		out := map[string]int64{}
		for _, id := range missing {
			out[id] = int64(10 + len(id))
		}
		return out, nil
	}
	id := func(s string) string { return s }
	remember := func() map[string]int64 {
		t.Helper()
		got, err := aside.RememberMany(ctx, r, []string{"a", "b", "c", "dd"}, id, load, aside.Tags("t"))
		require.NoError(t, err)
		return got
	}
	want["dd"] = 12
	require.Equal(t, want, remember()) // a, b, c from the tier; dd loaded, stored and filled into it
	require.Equal(t, [][]string{{"dd"}}, asked)
	before = f.store.reads.Load()
	require.Equal(t, want, remember())
	require.Equal(t, before, f.store.reads.Load(), "a batch the tier holds (what it loaded included) read the store")
	require.Len(t, asked, 1, "the loader ran for keys the cache holds")
	s := r.Stats()
	require.EqualValues(t, 3+3+4, s.Near.Hits)
	require.EqualValues(t, 3+3+3+4, s.BatchHits, "near hits count as batch hits")

	// Another process replaces one key and invalidates the tag.
	require.NoError(t, aside.Set(ctx, w, "b", int64(20)))
	got, err = aside.GetMany[int64](ctx, r, abc)
	require.NoError(t, err)
	require.Equal(t, int64(20), got["b"], "a replaced key was served from the tier")
	require.NoError(t, w.InvalidateTags(ctx, "t"))
	got, err = aside.GetMany[int64](ctx, r, []string{"a", "c", "dd"})
	require.NoError(t, err)
	require.Empty(t, got, "invalidated keys were served from the tier")
}

// TestNearBatchFillRacingAnInvalidationIsRefused: a batch whose store read
// an invalidation overtook does not fill the tier with what it read.
func TestNearBatchFillRacingAnInvalidationIsRefused(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, 2, nearOn)
	w, r := f.caches[0], f.caches[1]
	require.NoError(t, aside.SetMany(ctx, w, map[string]int64{"a": 1, "b": 1}))
	once := atomic.Bool{}
	hook := func(string) {
		if once.CompareAndSwap(false, true) {
			require.NoError(t, aside.SetMany(ctx, w, map[string]int64{"a": 2, "b": 2}))
		}
	}
	f.store.afterRead.Store(&hook)
	got, err := aside.GetMany[int64](ctx, r, []string{"a", "b"})
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"a": 1, "b": 1}, got, "the read itself was concurrent with the write: the old values are fine")
	f.store.afterRead.Store(nil)

	got, err = aside.GetMany[int64](ctx, r, []string{"a", "b"})
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"a": 2, "b": 2}, got, "a fill older than an applied invalidation was kept")
	require.EqualValues(t, 2, r.Stats().Near.Rejected)
	require.Zero(t, r.Stats().Near.Hits)
}

// TestNearLoadFill: what a Remember loads and stores fills its near tier
// (the next call costs no round trip), unless an invalidation was applied
// between its read and the fill, or nothing was stored.
func TestNearLoadFill(t *testing.T) {
	ctx := context.Background()
	t.Run("a stored load fills the tier", func(t *testing.T) {
		f := newFleet(t, 1, nearOn)
		c := f.caches[0]
		db := &database{}
		db.v.Store(1)
		_, err := aside.Remember(ctx, c, "k", db.load)
		require.NoError(t, err)
		before := f.store.reads.Load()
		v, err := aside.Remember(ctx, c, "k", db.load)
		require.NoError(t, err)
		require.EqualValues(t, 1, v)
		require.Equal(t, before, f.store.reads.Load(), "the call after the load read the store")
		require.EqualValues(t, 1, c.Stats().Near.Hits)
	})
	t.Run("an invalidation between the store write and the fill refuses it", func(t *testing.T) {
		f := newFleet(t, 2, nearOn)
		w, r := f.caches[0], f.caches[1]
		db := &database{}
		db.v.Store(1)
		once := atomic.Bool{}
		hook := func(string) {
			if once.CompareAndSwap(false, true) {
				// The reader stored what it loaded; before it fills its
				// tier, the writer replaces the value everywhere.
				db.v.Store(2)
				require.NoError(t, aside.Set(ctx, w, "k", int64(2)))
			}
		}
		f.store.afterSwap.Store(&hook)
		v, err := aside.Remember(ctx, r, "k", db.load)
		require.NoError(t, err)
		require.EqualValues(t, 1, v, "the load itself was concurrent with the write: the old value is fine")
		f.store.afterSwap.Store(nil)
		require.True(t, once.Load())
		v, err = aside.Remember(ctx, r, "k", db.load)
		require.NoError(t, err)
		require.EqualValues(t, 2, v, "a load fill older than an applied invalidation was kept")
		require.EqualValues(t, 1, r.Stats().Near.Rejected)
	})
	t.Run("a load that is not stored does not fill", func(t *testing.T) {
		f := newFleet(t, 1, nearOn)
		c := f.caches[0]
		var loads atomic.Int64
		load := func(ctx context.Context) (int64, error) {
			loads.Add(1)
			return 7, aside.DontStore(ctx)
		}
		for range 2 {
			v, err := aside.Remember(ctx, c, "k", load)
			require.NoError(t, err)
			require.EqualValues(t, 7, v)
		}
		require.EqualValues(t, 2, loads.Load(), "an unstored value was served from the tier")
		require.Zero(t, c.Stats().Near.Hits)
	})
}

// TestNearBatchLoadFill: what RememberMany loads and stores fills the tier,
// except a key another process replaced between the store write and the
// fill.
func TestNearBatchLoadFill(t *testing.T) {
	ctx := context.Background()
	f := newFleet(t, 2, nearOn)
	w, r := f.caches[0], f.caches[1]
	var version atomic.Int64
	version.Store(1)
	load := func(_ context.Context, missing []string) (map[string]int64, error) {
		out := map[string]int64{}
		for _, k := range missing {
			out[k] = version.Load()
		}
		return out, nil
	}
	id := func(s string) string { return s }
	once := atomic.Bool{}
	hook := func(string) {
		if once.CompareAndSwap(false, true) {
			// The reader stored both keys; before it fills its tier, the
			// writer replaces one of them everywhere.
			version.Store(2)
			require.NoError(t, aside.Set(ctx, w, "b", int64(2)))
		}
	}
	f.store.afterSwapMulti.Store(&hook)
	got, err := aside.RememberMany(ctx, r, []string{"a", "b"}, id, load)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"a": 1, "b": 1}, got, "the load itself was concurrent with the write: the old values are fine")
	f.store.afterSwapMulti.Store(nil)
	require.True(t, once.Load())
	require.EqualValues(t, 2, r.Stats().Near.Rejected, "both fills came after the applied invalidation")

	before := f.store.reads.Load()
	got, err = aside.RememberMany(ctx, r, []string{"a", "b"}, id, load)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"a": 1, "b": 2}, got, "a fill older than an applied invalidation was kept")
	require.Greater(t, f.store.reads.Load(), before)
	got, err = aside.RememberMany(ctx, r, []string{"a", "b"}, id, load)
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"a": 1, "b": 2}, got)
	require.EqualValues(t, 2, r.Stats().Near.Hits, "the store reads of the second call filled the tier")
}
