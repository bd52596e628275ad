package aside_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
)

func TestInvalidateTagsMakesEveryTaggedEntryAMiss(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	require.NoError(t, aside.Set(ctx, c, "user:1", "one", aside.Tags("users", "user:1")))
	require.NoError(t, aside.Set(ctx, c, "user:2", "two", aside.Tags("users", "user:2")))
	require.NoError(t, aside.Set(ctx, c, "org:7", "seven", aside.Tags("orgs")))

	require.NoError(t, c.InvalidateTags(ctx, "user:1"))
	_, found, _ := aside.Get[string](ctx, c, "user:1")
	require.False(t, found, "the invalidated tag's entry")
	_, found, _ = aside.Get[string](ctx, c, "user:2")
	require.True(t, found, "an entry without the tag")

	require.NoError(t, c.InvalidateTags(ctx, "users"))
	_, found, _ = aside.Get[string](ctx, c, "user:2", aside.Tags("users")) // the one-round-trip read
	require.False(t, found)
	_, found, _ = aside.Get[string](ctx, c, "org:7")
	require.True(t, found)
	require.EqualValues(t, 2, c.Stats().Invalidations)
}

// The classic stale-set race: a slow loader reads old data, the data changes
// and is invalidated, then the loader finishes. Its value must never be
// served once the invalidation has returned.
func TestASlowLoaderNeverUndoesAnInvalidation(t *testing.T) {
	for _, how := range []string{"InvalidateTags", "Delete", "InvalidatePattern"} {
		t.Run("after "+how, func(t *testing.T) {
			c := newCache(t, aside.Options{})
			ctx := context.Background()
			var version atomic.Int32
			version.Store(1)
			loaded := make(chan struct{})
			release := make(chan struct{})
			slow := func(context.Context) (int32, error) {
				v := version.Load()
				close(loaded)
				<-release
				return v, nil
			}
			done := make(chan int32)
			go func() {
				v, err := aside.Remember(ctx, c, "item:1", slow, aside.Tags("items"))
				require.NoError(t, err)
				done <- v
			}()
			<-loaded
			version.Store(2)
			switch how {
			case "InvalidateTags":
				require.NoError(t, c.InvalidateTags(ctx, "items"))
			case "Delete":
				require.NoError(t, c.Delete(ctx, "item:1"))
			case "InvalidatePattern":
				_, err := c.InvalidatePattern(ctx, "item:*")
				require.NoError(t, err)
			}
			close(release)
			require.EqualValues(t, 1, <-done, "the caller that started before the invalidation gets its value")

			fresh := func(context.Context) (int32, error) { return version.Load(), nil }
			v, err := aside.Remember(ctx, c, "item:1", fresh, aside.Tags("items"))
			require.NoError(t, err)
			require.EqualValues(t, 2, v)
			_, found, _ := aside.Get[int32](ctx, c, "item:1")
			require.True(t, found)
		})
	}
}

// A caller that starts after an invalidation returned must not take the
// result of a flight that began before it, even in the same process.
func TestACallerAfterAnInvalidationDoesNotJoinAnOlderLoad(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	var version atomic.Int32
	version.Store(1)
	loaded := make(chan struct{})
	release := make(chan struct{})
	var calls atomic.Int32
	load := func(context.Context) (int32, error) {
		v := version.Load()
		if calls.Add(1) == 1 {
			close(loaded)
			<-release
		}
		return v, nil
	}
	first := make(chan int32)
	go func() {
		v, _ := aside.Remember(ctx, c, "k", load, aside.Tags("t"))
		first <- v
	}()
	<-loaded
	version.Store(2)
	require.NoError(t, c.InvalidateTags(ctx, "t"))
	second := make(chan int32)
	go func() {
		v, _ := aside.Remember(ctx, c, "k", load, aside.Tags("t"))
		second <- v
	}()
	select {
	case v := <-second:
		require.EqualValues(t, 2, v)
	case <-time.After(3 * time.Second):
		close(release)
		t.Fatal("the later caller waited on the older flight")
	}
	close(release)
	require.EqualValues(t, 1, <-first)
}

func TestInvalidatePatternRemovesMatchingEntriesOnly(t *testing.T) {
	c := newCache(t, aside.Options{Namespace: "app"})
	other := newCache(t, aside.Options{Namespace: "other", Provider: nil})
	ctx := context.Background()
	for _, k := range []string{"temp:1", "temp:2", "temp:x:y", "session:1", "tempo"} {
		require.NoError(t, aside.Set(ctx, c, k, k))
	}
	require.NoError(t, aside.Set(ctx, other, "temp:1", "x"))
	n, err := c.InvalidatePattern(ctx, "temp:*")
	require.NoError(t, err)
	require.Equal(t, 3, n)
	for k, want := range map[string]bool{"temp:1": false, "temp:2": false, "temp:x:y": false, "session:1": true, "tempo": true} {
		_, found, _ := aside.Get[string](ctx, c, k)
		require.Equal(t, want, found, k)
	}
	_, found, _ := aside.Get[string](ctx, other, "temp:1")
	require.True(t, found)
	require.EqualValues(t, 3, c.Stats().PatternDeletes)
}

func TestStaleWhileRevalidateServesStaleAndRefreshesOnce(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	var loads atomic.Int32
	release := make(chan struct{}, 10)
	load := func(context.Context) (int32, error) {
		n := loads.Add(1)
		if n > 1 {
			<-release
		}
		return n, nil
	}
	opts := []aside.Option{aside.TTL(30 * time.Millisecond), aside.StaleWhileRevalidate(time.Minute)}
	v, err := aside.Remember(ctx, c, "k", load, opts...)
	require.NoError(t, err)
	require.EqualValues(t, 1, v)
	time.Sleep(50 * time.Millisecond)
	for range 5 {
		v, err = aside.Remember(ctx, c, "k", load, opts...)
		require.NoError(t, err)
		require.EqualValues(t, 1, v, "stale value served at once")
	}
	release <- struct{}{}
	require.Eventually(t, func() bool {
		v, _ := aside.Remember(ctx, c, "k", load, opts...)
		return v == 2
	}, 2*time.Second, 5*time.Millisecond)
	require.EqualValues(t, 2, loads.Load(), "one background refresh")
	require.Positive(t, c.Stats().StaleHits)
}

func TestAStaleEntryIsNotServedAfterItsTagIsInvalidated(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	var loads atomic.Int32
	load := func(context.Context) (int32, error) { return loads.Add(1), nil }
	opts := []aside.Option{aside.TTL(20 * time.Millisecond), aside.StaleWhileRevalidate(time.Minute), aside.Tags("t")}
	_, err := aside.Remember(ctx, c, "k", load, opts...)
	require.NoError(t, err)
	time.Sleep(40 * time.Millisecond)
	require.NoError(t, c.InvalidateTags(ctx, "t"))
	v, err := aside.Remember(ctx, c, "k", load, opts...)
	require.NoError(t, err)
	require.EqualValues(t, 2, v)
}

func TestTagsNamedDuringALoadInvalidateItsEntry(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	var loads atomic.Int32
	load := func(ctx context.Context) (int32, error) {
		require.NoError(t, aside.LoadTags(ctx, "product:9"))
		return loads.Add(1), nil
	}
	v, err := aside.Remember(ctx, c, "page", load)
	require.NoError(t, err)
	require.EqualValues(t, 1, v)
	v, _ = aside.Remember(ctx, c, "page", load)
	require.EqualValues(t, 1, v)
	require.NoError(t, c.InvalidateTags(ctx, "product:9"))
	v, _ = aside.Remember(ctx, c, "page", load)
	require.EqualValues(t, 2, v)
	require.ErrorIs(t, aside.LoadTags(ctx, "x"), aside.ErrNotLoading)
}

func TestDontStoreAndLoadTTL(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	_, err := aside.Remember(ctx, c, "private", func(ctx context.Context) (int, error) {
		return 1, aside.DontStore(ctx)
	})
	require.NoError(t, err)
	_, found, _ := aside.Get[int](ctx, c, "private")
	require.False(t, found)

	_, err = aside.Remember(ctx, c, "short", func(ctx context.Context) (int, error) {
		return 1, aside.LoadTTL(ctx, 30*time.Millisecond)
	})
	require.NoError(t, err)
	_, found, _ = aside.Get[int](ctx, c, "short")
	require.True(t, found)
	require.Eventually(t, func() bool { _, found, _ := aside.Get[int](ctx, c, "short"); return !found }, 2*time.Second, 5*time.Millisecond)
}

func TestTagsFromSeveralOptionsAllCount(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	mine := []string{"a", "a"}
	require.NoError(t, aside.Set(ctx, c, "k", 1, aside.Tags(mine...), aside.Tags("b")))
	require.Equal(t, []string{"a", "a"}, mine, "the caller's slice is never written")
	_, found, _ := aside.Get[int](ctx, c, "k", aside.Tags("a", "b"))
	require.True(t, found)
	require.NoError(t, c.InvalidateTags(ctx, "b"))
	_, found, _ = aside.Get[int](ctx, c, "k", aside.Tags("a"))
	require.False(t, found)
}

func TestATaggedHitIsOneRoundTripOnceItsTagsAreKnown(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f})
	ctx := context.Background()
	require.NoError(t, aside.Set(ctx, c, "page", "v", aside.Tags("product:1", "products")))
	calls := func(read func()) int64 {
		before := f.calls.Load()
		read()
		return f.calls.Load() - before
	}
	get := func() {
		_, found, err := aside.Get[string](ctx, c, "page")
		require.NoError(t, err)
		require.True(t, found)
	}
	require.EqualValues(t, 2, calls(get), "the first read learns the tags: entry, then their records")
	require.EqualValues(t, 1, calls(get), "later reads fetch the records with the entry")
	require.EqualValues(t, 1, calls(func() {
		_, _, err := aside.Get[string](ctx, c, "page", aside.Tags("products"))
		require.NoError(t, err)
	}), "named tags and hinted ones in one read")

	require.NoError(t, c.InvalidateTags(ctx, "product:1"))
	_, found, err := aside.Get[string](ctx, c, "page")
	require.NoError(t, err)
	require.False(t, found, "the hint only saves a trip: stamps are still checked")
}

func TestRefreshingTellsABackgroundLoaderApart(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	seen := make(chan bool, 4)
	load := func(ctx context.Context) (int, error) {
		seen <- aside.Refreshing(ctx)
		return 1, nil
	}
	opts := []aside.Option{aside.TTL(20 * time.Millisecond), aside.StaleWhileRevalidate(time.Minute)}
	_, err := aside.Remember(ctx, c, "k", load, opts...)
	require.NoError(t, err)
	require.False(t, <-seen, "a miss's loader runs for its caller")
	time.Sleep(40 * time.Millisecond)
	_, err = aside.Remember(ctx, c, "k", load, opts...)
	require.NoError(t, err)
	require.True(t, <-seen, "a stale hit's refresh runs in the background")
	require.False(t, aside.Refreshing(ctx))
}

func TestDuringAnOutageACallerAfterAWriteDoesNotJoinAnOlderLoad(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f, Breaker: aside.Breaker{Disabled: true}})
	ctx := context.Background()
	f.fail.Store(true)
	var version atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	load := func(context.Context) (int64, error) {
		v := version.Load()
		if first.CompareAndSwap(false, true) { // the first load is slow
			close(started)
			<-release
		}
		return v, nil
	}
	old := make(chan int64)
	go func() {
		v, err := aside.Remember(ctx, c, "k", load, aside.Tags("t"))
		require.NoError(t, err)
		old <- v
	}()
	<-started
	version.Store(1) // a write, then its invalidation, which the store refuses
	require.ErrorIs(t, c.InvalidateTagsEventually(ctx, "t"), aside.ErrInvalidationPending)
	after, cancel := context.WithTimeout(ctx, 2*time.Second) // joining the stuck load would time out
	defer cancel()
	v, err := aside.Remember(after, c, "k", load, aside.Tags("t"))
	require.NoError(t, err)
	require.EqualValues(t, 1, v, "a caller that came after the write did not get the load that began before it")
	close(release)
	require.EqualValues(t, 0, <-old)
}

// The batch path keeps the same rule: found by internal/faults, where a
// RememberMany during a frozen store returned a product's version from
// before a write whose invalidation was pending.
func TestDuringAnOutageABatchAfterAWriteDoesNotJoinAnOlderLoad(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f, Breaker: aside.Breaker{Disabled: true}})
	ctx := context.Background()
	f.fail.Store(true)
	var version atomic.Int64
	started, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	load := func(_ context.Context, ids []int) (map[int]int64, error) {
		v := version.Load()
		if first.CompareAndSwap(false, true) { // the first load is slow
			close(started)
			<-release
		}
		out := make(map[int]int64, len(ids))
		for _, id := range ids {
			out[id] = v
		}
		return out, nil
	}
	keyOf := func(id int) string { return "item:" + strconv.Itoa(id) }
	tags := aside.TagsFor(func(string) []string { return []string{"t"} })
	old := make(chan int64)
	go func() {
		got, err := aside.RememberMany(ctx, c, []int{1}, keyOf, load, tags)
		require.NoError(t, err)
		old <- got[1]
	}()
	<-started
	version.Store(1) // a write, then its invalidation, which the store refuses
	require.ErrorIs(t, c.InvalidateTagsEventually(ctx, "t"), aside.ErrInvalidationPending)
	after, cancel := context.WithTimeout(ctx, 2*time.Second) // joining the stuck load would time out
	defer cancel()
	got, err := aside.RememberMany(after, c, []int{1}, keyOf, load, tags)
	require.NoError(t, err)
	require.EqualValues(t, 1, got[1], "a batch that came after the write did not get the load that began before it")
	close(release)
	require.EqualValues(t, 0, <-old)
}
