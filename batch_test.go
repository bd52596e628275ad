package aside_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
)

// counted is a memory provider that counts its calls by method, optional
// abilities included: each call is one round trip of a network store.
type counted struct {
	*memory.Provider
	mu    sync.Mutex
	calls map[string]int
}

func newCounted(t testing.TB) *counted {
	m, err := memory.New(memory.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return &counted{Provider: m, calls: map[string]int{}}
}

func (p *counted) count(op string) {
	p.mu.Lock()
	p.calls[op]++
	p.mu.Unlock()
}

// take returns the calls counted since the last take, and resets them.
func (p *counted) take() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.calls
	p.calls = map[string]int{}
	return c
}

func (p *counted) Get(ctx context.Context, k string) ([]byte, error) {
	p.count("Get")
	return p.Provider.Get(ctx, k)
}

func (p *counted) GetMulti(ctx context.Context, ks []string) ([][]byte, error) {
	p.count("GetMulti")
	return p.Provider.GetMulti(ctx, ks)
}

func (p *counted) Set(ctx context.Context, k string, v []byte, ttl time.Duration) error {
	p.count("Set")
	return p.Provider.Set(ctx, k, v, ttl)
}

func (p *counted) Add(ctx context.Context, k string, v []byte, ttl time.Duration) ([]byte, bool, error) {
	p.count("Add")
	return p.Provider.Add(ctx, k, v, ttl)
}

func (p *counted) CompareAndSwap(ctx context.Context, k string, old, v []byte, ttl time.Duration) (bool, error) {
	p.count("CompareAndSwap")
	return p.Provider.CompareAndSwap(ctx, k, old, v, ttl)
}

func (p *counted) Delete(ctx context.Context, ks ...string) (int, error) {
	p.count("Delete")
	return p.Provider.Delete(ctx, ks...)
}

func (p *counted) SetMulti(ctx context.Context, items []provider.Item) error {
	p.count("SetMulti")
	return p.Provider.SetMulti(ctx, items)
}

func (p *counted) AddMulti(ctx context.Context, items []provider.Item) ([]provider.AddResult, error) {
	p.count("AddMulti")
	return p.Provider.AddMulti(ctx, items)
}

func (p *counted) GetAddMulti(ctx context.Context, fs []provider.Fetch) ([]provider.AddResult, error) {
	p.count("GetAddMulti")
	return p.Provider.GetAddMulti(ctx, fs)
}

func (p *counted) CompareAndSwapMulti(ctx context.Context, sw []provider.Swap) ([]bool, error) {
	p.count("CompareAndSwapMulti")
	return p.Provider.CompareAndSwapMulti(ctx, sw)
}

// items is a table of rows for loaders, with a version per ID and a count
// of the IDs each loader call asked for.
type items struct {
	mu      sync.Mutex
	version map[int]int
	missing map[int]bool
	asked   [][]int
	block   chan struct{} // when set, loads wait for it to close
	started chan struct{} // when set, closed when the first load starts
	fail    error
}

func newItems(n int) *items {
	it := &items{version: map[int]int{}, missing: map[int]bool{}}
	for i := range n {
		it.version[i] = 1
	}
	return it
}

func (it *items) load(ctx context.Context, ids []int) (map[int]string, error) {
	it.mu.Lock()
	it.asked = append(it.asked, slices.Sorted(slices.Values(ids)))
	found := map[int]string{}
	for _, id := range ids {
		if v, ok := it.version[id]; ok && !it.missing[id] {
			found[id] = fmt.Sprintf("item %d v%d", id, v)
		}
	}
	block, started, fail := it.block, it.started, it.fail
	if started != nil {
		it.started = nil
	}
	it.mu.Unlock()
	if started != nil {
		close(started)
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return nil, fail
	}
	return found, nil
}

// release lets the loads waiting on block go, and later ones run at once.
func (it *items) release() {
	it.mu.Lock()
	defer it.mu.Unlock()
	close(it.block)
	it.block = nil
}

func (it *items) calls() [][]int {
	it.mu.Lock()
	defer it.mu.Unlock()
	return slices.Clone(it.asked)
}

func (it *items) bump(id int) {
	it.mu.Lock()
	it.version[id]++
	it.mu.Unlock()
}

func itemKey(id int) string { return "item:" + strconv.Itoa(id) }

func itemTag(key string) []string { return []string{"tag:" + key} }

func ids(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestRememberManyLoadsOnlyTheMissingIDsInOneCall(t *testing.T) {
	p := newCounted(t)
	c := newCache(t, aside.Options{Provider: p})
	ctx := context.Background()
	it := newItems(50)

	// 40 of the page are cached.
	got, err := aside.RememberMany(ctx, c, ids(0, 40), itemKey, it.load, aside.TagsFor(itemTag))
	require.NoError(t, err)
	require.Len(t, got, 40)
	p.take()

	got, err = aside.RememberMany(ctx, c, ids(0, 50), itemKey, it.load, aside.TagsFor(itemTag))
	require.NoError(t, err)
	require.Len(t, got, 50)
	for id := range 50 {
		require.Equal(t, fmt.Sprintf("item %d v1", id), got[id])
	}
	require.Equal(t, [][]int{ids(0, 40), ids(40, 50)}, it.calls(), "one loader call, with only the missing IDs")
	require.Equal(t, map[string]int{"GetAddMulti": 1, "CompareAndSwapMulti": 1}, p.take(),
		"one read that also leases the missing keys, one write through the leases")

	// Now a hit for every key: one round trip.
	_, err = aside.RememberMany(ctx, c, ids(0, 50), itemKey, it.load, aside.TagsFor(itemTag))
	require.NoError(t, err)
	require.Equal(t, map[string]int{"GetAddMulti": 1}, p.take())
	require.Len(t, it.calls(), 2)

	s := c.Stats()
	require.EqualValues(t, 50, s.BatchMisses)
	require.EqualValues(t, 90, s.BatchHits)
	require.EqualValues(t, s.BatchMisses, s.Misses)
	require.EqualValues(t, s.BatchHits, s.Hits)
	require.EqualValues(t, 2, s.Loads)
	require.EqualValues(t, 50, s.Sets)
}

func TestAHitFromRememberManyIsWhatTheMissReturned(t *testing.T) {
	type Account struct {
		Name     string
		Password string
	}
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	load := func(ctx context.Context, ids []int) (map[int]Account, error) {
		out := map[int]Account{}
		for _, id := range ids {
			out[id] = Account{Name: "user " + strconv.Itoa(id), Password: "hunter2"}
		}
		return out, nil
	}
	miss, err := aside.RememberMany(ctx, c, []int{1, 2}, itemKey, load)
	require.NoError(t, err)
	require.Equal(t, Account{Name: "user 1"}, miss[1], "redacted on the miss too")
	hit, err := aside.RememberMany(ctx, c, []int{1, 2}, itemKey, load)
	require.NoError(t, err)
	require.Equal(t, miss, hit)
	one, err := aside.Remember(ctx, c, itemKey(2), func(context.Context) (Account, error) { panic("a hit") })
	require.NoError(t, err)
	require.Equal(t, miss[2], one, "Remember reads what RememberMany stored")
}

func TestRememberManyHandlesRepeatedIDsAndALoaderThatSortsItsSlice(t *testing.T) {
	c := newCache(t, aside.Options{})
	it := newItems(10)
	got, err := aside.RememberMany(context.Background(), c, []int{7, 3, 7, 9, 3}, itemKey, it.load)
	require.NoError(t, err)
	require.Equal(t, map[int]string{3: "item 3 v1", 7: "item 7 v1", 9: "item 9 v1"}, got)
	require.Equal(t, [][]int{{3, 7, 9}}, it.calls(), "each key is loaded once")

	// Two IDs that share a key share its value.
	parity := func(id int) string { return "parity:" + strconv.Itoa(id%2) }
	got, err = aside.RememberMany(context.Background(), c, []int{2, 4, 5}, parity, it.load)
	require.NoError(t, err)
	require.Equal(t, map[int]string{2: "item 2 v1", 4: "item 2 v1", 5: "item 5 v1"}, got)
}

func TestRememberManyRejectsBadInput(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	it := newItems(3)
	_, err := aside.RememberMany(ctx, c, []int{1, 2}, func(int) string { return "" }, it.load)
	require.ErrorIs(t, err, aside.ErrInvalidKey)
	_, err = aside.RememberMany(ctx, c, []int{1}, itemKey, it.load, aside.TagsFor(func(string) []string { return []string{""} }))
	require.ErrorIs(t, err, aside.ErrInvalidKey)
	_, err = aside.RememberMany(ctx, c, []int{1}, itemKey, it.load, aside.AbsentTTL(-time.Second))
	require.ErrorIs(t, err, aside.ErrInvalidOption)
	got, err := aside.RememberMany(ctx, c, nil, itemKey, it.load)
	require.NoError(t, err)
	require.Empty(t, got)
	require.Empty(t, it.calls())
	require.NoError(t, c.Close())
	_, err = aside.RememberMany(ctx, c, []int{1}, itemKey, it.load)
	require.ErrorIs(t, err, aside.ErrClosed)
	_, err = aside.GetMany[string](ctx, c, []string{"a"})
	require.ErrorIs(t, err, aside.ErrClosed)
	require.ErrorIs(t, aside.SetMany(ctx, c, map[string]int{"a": 1}), aside.ErrClosed)
}

func TestIDsTheLoaderDoesNotReturnAreMissesOrRememberedAsAbsent(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	it := newItems(3)
	it.missing[2] = true

	for range 2 {
		got, err := aside.RememberMany(ctx, c, []int{0, 1, 2}, itemKey, it.load)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.NotContains(t, got, 2)
	}
	require.Equal(t, [][]int{{0, 1, 2}, {2}}, it.calls(), "without AbsentTTL the missing ID is asked for again")
	// A lease given back stays for a millisecond (as Remember's): a call
	// within it loads the key without storing it.
	time.Sleep(5 * time.Millisecond)

	opts := []aside.Option{aside.AbsentTTL(time.Minute), aside.TagsFor(itemTag)}
	for range 2 {
		got, err := aside.RememberMany(ctx, c, []int{0, 1, 2}, itemKey, it.load, opts...)
		require.NoError(t, err)
		require.Len(t, got, 2)
	}
	require.Len(t, it.calls(), 3, "with AbsentTTL the second call loads nothing")

	// Any other read of the marker is a miss.
	_, found, err := aside.Get[string](ctx, c, itemKey(2))
	require.NoError(t, err)
	require.False(t, found)
	many, err := aside.GetMany[string](ctx, c, []string{itemKey(1), itemKey(2)})
	require.NoError(t, err)
	require.Equal(t, map[string]string{itemKey(1): "item 1 v1"}, many)

	// Invalidating its tag ends the marker: the ID is loaded again.
	it.missing[2] = false
	require.NoError(t, c.InvalidateTags(ctx, "tag:"+itemKey(2)))
	got, err := aside.RememberMany(ctx, c, []int{0, 1, 2}, itemKey, it.load, opts...)
	require.NoError(t, err)
	require.Equal(t, "item 2 v1", got[2])

	// Remember replaces a marker with what its loader returns.
	it.missing[1] = true
	require.NoError(t, c.Delete(ctx, itemKey(1)))
	_, err = aside.RememberMany(ctx, c, []int{1}, itemKey, it.load, opts...)
	require.NoError(t, err)
	v, err := aside.Remember(ctx, c, itemKey(1), func(context.Context) (string, error) { return "made by Remember", nil })
	require.NoError(t, err)
	require.Equal(t, "made by Remember", v)
	got, err = aside.RememberMany(ctx, c, []int{1}, itemKey, it.load, opts...)
	require.NoError(t, err)
	require.Equal(t, "made by Remember", got[1])
}

func TestRememberManyIsPaidOnceForConcurrentCallers(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	it := newItems(20)
	it.block = make(chan struct{})
	it.started = make(chan struct{})
	started := it.started

	var wg sync.WaitGroup
	results := make([]map[int]string, 6)
	wg.Go(func() {
		var err error
		results[0], err = aside.RememberMany(ctx, c, ids(0, 10), itemKey, it.load)
		require.NoError(t, err)
	})
	<-started
	// Overlapping batches and single Remembers of keys being loaded join
	// the load; only the keys nobody loads yet are loaded again.
	for i := 1; i < 4; i++ {
		wg.Go(func() {
			var err error
			results[i], err = aside.RememberMany(ctx, c, ids(5, 15), itemKey, it.load)
			require.NoError(t, err)
		})
	}
	remembered := make([]string, 5)
	for i := range remembered {
		wg.Go(func() {
			v, err := aside.Remember(ctx, c, itemKey(i), func(context.Context) (string, error) {
				return "", errors.New("the batch's load should have been joined")
			})
			require.NoError(t, err)
			remembered[i] = v
		})
	}
	require.Eventually(t, func() bool { return len(it.calls()) >= 2 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // let the late callers join
	it.release()
	wg.Wait()

	var loaded []int
	for _, ask := range it.calls() {
		loaded = append(loaded, ask...)
	}
	slices.Sort(loaded)
	require.Equal(t, ids(0, 15), loaded, "every key loaded exactly once")
	for i := 1; i < 4; i++ {
		require.Len(t, results[i], 10)
		require.Equal(t, "item 12 v1", results[i][12])
	}
	for i, v := range remembered {
		require.Equal(t, fmt.Sprintf("item %d v1", i), v)
	}
}

func TestARememberThatJoinedABatchLoadsAKeyTheBatchDidNotReturn(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	it := newItems(3)
	it.missing[1] = true
	it.block = make(chan struct{})
	it.started = make(chan struct{})
	started := it.started
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := aside.RememberMany(ctx, c, []int{0, 1, 2}, itemKey, it.load)
		require.NoError(t, err)
	}()
	<-started
	var ran atomic.Bool
	got := make(chan string)
	go func() {
		v, err := aside.Remember(ctx, c, itemKey(1), func(context.Context) (string, error) {
			ran.Store(true)
			return "from Remember", nil
		})
		require.NoError(t, err)
		got <- v
	}()
	time.Sleep(20 * time.Millisecond)
	require.False(t, ran.Load(), "the Remember waits for the batch")
	it.release()
	require.Equal(t, "from Remember", <-got)
	<-done
}

// The stale-set race, batch by batch: a Delete, InvalidateTags or
// InvalidatePattern that returns while the batch loader runs keeps its key's
// old value from being stored and served.
func TestABatchLoadNeverUndoesAnInvalidation(t *testing.T) {
	for _, how := range []string{"InvalidateTags", "Delete", "InvalidatePattern"} {
		t.Run("after "+how, func(t *testing.T) {
			c := newCache(t, aside.Options{})
			ctx := context.Background()
			it := newItems(4)
			it.block = make(chan struct{})
			it.started = make(chan struct{})
			started := it.started
			done := make(chan map[int]string)
			go func() {
				got, err := aside.RememberMany(ctx, c, ids(0, 4), itemKey, it.load, aside.TagsFor(itemTag))
				require.NoError(t, err)
				done <- got
			}()
			<-started // the loader has read version 1 of everything
			it.bump(2)
			switch how {
			case "InvalidateTags":
				require.NoError(t, c.InvalidateTags(ctx, "tag:"+itemKey(2)))
			case "Delete":
				require.NoError(t, c.Delete(ctx, itemKey(2)))
			case "InvalidatePattern":
				_, err := c.InvalidatePattern(ctx, itemKey(2))
				require.NoError(t, err)
			}
			it.release()
			got := <-done
			require.Equal(t, "item 2 v1", got[2], "the caller that began before the invalidation gets the load")

			got, err := aside.RememberMany(ctx, c, ids(0, 4), itemKey, it.load, aside.TagsFor(itemTag))
			require.NoError(t, err)
			require.Equal(t, "item 2 v2", got[2], "the invalidated key was not stored")
			require.Equal(t, "item 1 v1", got[1])
			require.Equal(t, [][]int{ids(0, 4), {2}}, it.calls(), "the other keys were stored")
		})
	}
}

func TestRememberManyServesStaleEntriesAndRefreshesThemInOneBackgroundLoad(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	it := newItems(6)
	opts := []aside.Option{aside.TTL(20 * time.Millisecond), aside.StaleWhileRevalidate(time.Minute)}
	_, err := aside.RememberMany(ctx, c, ids(0, 6), itemKey, it.load, opts...)
	require.NoError(t, err)
	time.Sleep(40 * time.Millisecond)
	for id := range 6 {
		it.bump(id)
	}
	refreshed := make(chan bool, 1)
	load := func(ctx context.Context, ids []int) (map[int]string, error) {
		refreshed <- aside.Refreshing(ctx)
		return it.load(ctx, ids)
	}
	got, err := aside.RememberMany(ctx, c, ids(0, 6), itemKey, load, opts...)
	require.NoError(t, err)
	require.Equal(t, "item 3 v1", got[3], "stale, at once")
	require.True(t, <-refreshed, "one background refresh")
	require.Eventually(t, func() bool {
		got, err := aside.GetMany[string](ctx, c, []string{itemKey(0), itemKey(5)})
		return err == nil && got[itemKey(0)] == "item 0 v2" && got[itemKey(5)] == "item 5 v2"
	}, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, [][]int{ids(0, 6), ids(0, 6)}, it.calls())
	require.EqualValues(t, 6, c.Stats().StaleHits)
}

func TestRememberManyAnswersALoaderErrorWithStaleValuesKeyByKey(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	it := newItems(4)
	opts := []aside.Option{aside.TTL(20 * time.Millisecond), aside.StaleIfError(time.Minute)}
	_, err := aside.RememberMany(ctx, c, ids(0, 3), itemKey, it.load, opts...)
	require.NoError(t, err)
	time.Sleep(40 * time.Millisecond)
	it.fail = errors.New("database down")

	got, err := aside.RememberMany(ctx, c, ids(0, 3), itemKey, it.load, opts...)
	require.NoError(t, err, "every missing key had a stale value")
	require.Equal(t, map[int]string{0: "item 0 v1", 1: "item 1 v1", 2: "item 2 v1"}, got)

	_, err = aside.RememberMany(ctx, c, ids(0, 4), itemKey, it.load, opts...)
	require.ErrorIs(t, err, it.fail, "item 3 has no stale value")

	it.fail = nil
	got, err = aside.RememberMany(ctx, c, ids(0, 4), itemKey, it.load, opts...)
	require.NoError(t, err)
	require.Len(t, got, 4)
}

func TestAProviderThatIsDownIsAMissForEveryKeyOfABatch(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f})
	ctx := context.Background()
	it := newItems(10)
	f.fail.Store(true)
	for range 2 {
		got, err := aside.RememberMany(ctx, c, ids(0, 10), itemKey, it.load, aside.TagsFor(itemTag))
		require.NoError(t, err)
		require.Len(t, got, 10)
	}
	require.Equal(t, [][]int{ids(0, 10), ids(0, 10)}, it.calls(), "one load per call, all keys")
	many, err := aside.GetMany[string](ctx, c, []string{itemKey(1)})
	require.NoError(t, err)
	require.Empty(t, many)
	require.Error(t, aside.SetMany(ctx, c, map[string]string{"a": "b"}), "a write the caller asked for reports the failure")

	f.fail.Store(false)
	_, err = aside.RememberMany(ctx, c, ids(0, 10), itemKey, it.load, aside.TagsFor(itemTag))
	require.NoError(t, err)
	got, err := aside.GetMany[string](ctx, c, []string{itemKey(1), itemKey(9)})
	require.NoError(t, err)
	require.Len(t, got, 2, "it recovers when the provider does")
}

func TestABatchSpendsOneFailureOnAStoreThatHangs(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f, Breaker: aside.Breaker{Disabled: true}})
	it := newItems(10)
	f.stall.Store(int64(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := aside.RememberMany(ctx, c, ids(0, 10), itemKey, it.load)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the caller's own context ended")
	require.Less(t, time.Since(start), 2*time.Second)

	// With a budget already spent, a batch does not touch the store.
	var b aside.FailureBudget
	f.stall.Store(0)
	f.fail.Store(true)
	before := f.calls.Load()
	_, err = aside.RememberMany(context.Background(), c, ids(0, 10), itemKey, it.load, aside.SharedBudget(&b))
	require.NoError(t, err)
	require.True(t, b.Spent())
	afterFirst := f.calls.Load()
	require.Equal(t, int64(1), afterFirst-before, "one failed read, then nothing more is sent")
	_, err = aside.RememberMany(context.Background(), c, ids(0, 10), itemKey, it.load, aside.SharedBudget(&b))
	require.NoError(t, err)
	require.Equal(t, afterFirst, f.calls.Load())
}

func TestAPanicInABatchLoaderReachesEveryWaiter(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	started := make(chan struct{})
	release := make(chan struct{})
	load := func(ctx context.Context, ids []int) (map[int]string, error) {
		close(started)
		<-release
		panic("boom")
	}
	var wg sync.WaitGroup
	panics := make(chan any, 2)
	call := func(f func()) {
		wg.Go(func() {
			defer func() { panics <- recover() }()
			f()
		})
	}
	call(func() { _, _ = aside.RememberMany(ctx, c, []int{1, 2}, itemKey, load) })
	<-started
	call(func() {
		_, _ = aside.Remember(ctx, c, itemKey(2), func(context.Context) (string, error) { return "", nil })
	})
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	for range 2 {
		var pe *aside.PanicError
		p := <-panics
		require.IsType(t, pe, p)
		require.Equal(t, "boom", p.(*aside.PanicError).Value)
	}
	// The leases were given back (in the background): the keys load and
	// store again, long before the leases (30 s) would have expired.
	it := newItems(3)
	require.Eventually(t, func() bool {
		_, err := aside.RememberMany(ctx, c, []int{1, 2}, itemKey, it.load)
		got, _ := aside.GetMany[string](ctx, c, []string{itemKey(1), itemKey(2)})
		return err == nil && len(got) == 2
	}, 5*time.Second, 10*time.Millisecond)
}

func TestABatchCallerLeavesOnItsContextAndTheLastOneCancelsTheLoader(t *testing.T) {
	c := newCache(t, aside.Options{})
	started := make(chan struct{})
	cancelled := make(chan struct{})
	load := func(ctx context.Context, ids []int) (map[int]string, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := aside.RememberMany(ctx, c, []int{1, 2}, itemKey, load)
		errc <- err
	}()
	<-started
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the loader's context was not cancelled when its only caller left")
	}
}

func TestALoaderInsideABatchNamesTagsForEveryEntry(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	it := newItems(3)
	load := func(ctx context.Context, ids []int) (map[int]string, error) {
		require.NoError(t, aside.LoadTags(ctx, "catalog"))
		require.NoError(t, aside.LoadTTL(ctx, time.Hour))
		return it.load(ctx, ids)
	}
	_, err := aside.RememberMany(ctx, c, ids(0, 3), itemKey, load)
	require.NoError(t, err)
	got, err := aside.GetMany[string](ctx, c, []string{itemKey(0), itemKey(2)})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.NoError(t, c.InvalidateTags(ctx, "catalog"))
	got, err = aside.GetMany[string](ctx, c, []string{itemKey(0), itemKey(2)})
	require.NoError(t, err)
	require.Empty(t, got, "the tag named during the load is on every entry")
}

func TestGetManyAndSetMany(t *testing.T) {
	p := newCounted(t)
	c := newCache(t, aside.Options{Provider: p})
	ctx := context.Background()
	values := map[string]User{"user:1": {ID: 1, Name: "Ada"}, "user:2": {ID: 2, Name: "Grace"}}
	require.NoError(t, aside.SetMany(ctx, c, values, aside.Tags("users"), aside.TagsFor(func(k string) []string { return []string{k} })))
	require.Equal(t, map[string]int{"AddMulti": 1, "SetMulti": 1}, p.take(), "the tag records, then the entries")

	got, err := aside.GetMany[User](ctx, c, []string{"user:1", "user:2", "user:3"}, aside.Tags("users"), aside.TagsFor(func(k string) []string { return []string{k} }))
	require.NoError(t, err)
	require.Equal(t, values, got)
	require.Equal(t, map[string]int{"GetMulti": 1}, p.take(), "entries and tags in one read")

	// Read without naming the tags: one more read for the batch, then the
	// hints make it one.
	for _, want := range []map[string]int{{"GetMulti": 2}, {"GetMulti": 1}} {
		got, err = aside.GetMany[User](ctx, c, []string{"user:1", "user:2"})
		require.NoError(t, err)
		require.Equal(t, values, got)
		require.Equal(t, want, p.take())
	}

	require.NoError(t, c.InvalidateTags(ctx, "user:2"))
	got, err = aside.GetMany[User](ctx, c, []string{"user:1", "user:2"})
	require.NoError(t, err)
	require.Equal(t, map[string]User{"user:1": values["user:1"]}, got)
	require.NoError(t, c.InvalidateTags(ctx, "users"))
	got, err = aside.GetMany[User](ctx, c, []string{"user:1", "user:2"})
	require.NoError(t, err)
	require.Empty(t, got)

	// A value stored as another type is a miss, like Get's.
	require.NoError(t, aside.Set(ctx, c, "user:1", "a string"))
	got, err = aside.GetMany[User](ctx, c, []string{"user:1"})
	require.NoError(t, err)
	require.Empty(t, got)
	require.EqualValues(t, 1, c.Stats().DecodeFailures)
}

func TestTagsForAppliesToSingleKeyCallsToo(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	opt := aside.TagsFor(itemTag)
	v, err := aside.Remember(ctx, c, itemKey(1), func(context.Context) (string, error) { return "one", nil }, opt)
	require.NoError(t, err)
	require.Equal(t, "one", v)
	require.NoError(t, aside.Set(ctx, c, itemKey(2), "two", opt))
	require.NoError(t, c.InvalidateTags(ctx, "tag:"+itemKey(1), "tag:"+itemKey(2)))
	for _, k := range []string{itemKey(1), itemKey(2)} {
		_, found, err := aside.Get[string](ctx, c, k, opt)
		require.NoError(t, err)
		require.False(t, found, k)
	}
}

// A call whose budget is already spent reads nothing, tags included; when
// it joins a load of its key that stamped tags, the flight's acceptability
// check must not look for tag versions the call never read.
func TestACallWithASpentBudgetJoinsATaggedLoad(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	started := make(chan struct{})
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := aside.Remember(ctx, c, "k", func(context.Context) (string, error) {
			close(started)
			<-release
			return "v", nil
		}, aside.Tags("t"))
		require.NoError(t, err)
	}()
	<-started
	var b aside.FailureBudget
	f := newFaulty(t)
	spend := newCache(t, aside.Options{Provider: f})
	f.fail.Store(true)
	_, _, _ = aside.Get[string](ctx, spend, "x", aside.SharedBudget(&b))
	require.True(t, b.Spent())
	go func() { time.Sleep(20 * time.Millisecond); close(release) }()
	v, err := aside.Remember(ctx, c, "k", func(context.Context) (string, error) { return "own", nil }, aside.Tags("t"), aside.SharedBudget(&b))
	require.NoError(t, err)
	require.Contains(t, []string{"v", "own"}, v)
	got, err := aside.RememberMany(ctx, c, []int{1}, func(int) string { return "k" }, func(context.Context, []int) (map[int]string, error) {
		return map[int]string{1: "own"}, nil
	}, aside.Tags("t"), aside.SharedBudget(&b))
	require.NoError(t, err)
	require.Len(t, got, 1)
	<-done
}
