package aside_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/keys"
	"github.com/aside-go/aside/provider"
)

func TestAProviderThatIsDownIsAMissNotAnError(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f})
	ctx := context.Background()
	f.fail.Store(true)
	loads := 0
	for range 3 {
		u, err := aside.Remember(ctx, c, "user:42", func(context.Context) (User, error) { loads++; return ada, nil }, aside.Tags("users"))
		require.NoError(t, err)
		require.Equal(t, ada, u)
	}
	require.Equal(t, 3, loads)
	_, found, err := aside.Get[User](ctx, c, "user:42")
	require.NoError(t, err)
	require.False(t, found)
	s := c.Stats()
	require.Positive(t, s.Errors)
	require.EqualValues(t, 4, s.Misses)

	// It recovers when the provider does.
	f.fail.Store(false)
	_, err = aside.Remember(ctx, c, "user:42", func(context.Context) (User, error) { loads++; return ada, nil })
	require.NoError(t, err)
	_, found, err = aside.Get[User](ctx, c, "user:42")
	require.NoError(t, err)
	require.True(t, found)
}

func TestGarbageFromTheProviderIsCountedDeletedAndLoadedAgain(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f})
	ctx := context.Background()
	require.NoError(t, aside.Set(ctx, c, "k", ada))
	f.garbage.Store(true)
	loads := 0
	u, err := aside.Remember(ctx, c, "k", func(context.Context) (User, error) { loads++; return ada, nil })
	f.garbage.Store(false)
	require.NoError(t, err)
	require.Equal(t, ada, u)
	require.Equal(t, 1, loads)
	require.EqualValues(t, 1, c.Stats().DecodeFailures)
	_, found, err := aside.Get[User](ctx, c, "k")
	require.NoError(t, err)
	require.True(t, found, "the reload replaced the bad entry")
}

func TestAStoredValueThatDoesNotDecodeAsTheAskedTypeIsAMiss(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	require.NoError(t, aside.Set(ctx, c, "k", "a string"))
	got, err := aside.Remember(ctx, c, "k", func(context.Context) (User, error) { return ada, nil })
	require.NoError(t, err)
	require.Equal(t, ada, got)
	require.EqualValues(t, 1, c.Stats().DecodeFailures)
}

func TestASlowProviderIsBoundedByTheCallersContext(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f})
	f.stall.Store(int64(time.Hour))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := aside.Remember(ctx, c, "k", func(context.Context) (User, error) { return ada, nil })
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestAFailedReadEndsTheCachesPartOfTheOperation(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f})
	ctx := context.Background()
	f.fail.Store(true)
	before := f.calls.Load()
	u, err := aside.Remember(ctx, c, "user:42", func(context.Context) (User, error) { return ada, nil }, aside.Tags("users", "org:7"))
	require.NoError(t, err)
	require.Equal(t, ada, u)
	require.EqualValues(t, 1, f.calls.Load()-before, "one read failed: no lease, no tag records, no write after it")
	require.EqualValues(t, 1, c.Stats().Errors)
}

func TestAFailureWhileStampingTagsGivesTheLeaseBack(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f})
	ctx := context.Background()
	var once atomic.Bool
	f.failWhen(func(op, key string) bool {
		return op == "Add" && strings.Contains(key, ":t:") && once.CompareAndSwap(false, true)
	})
	loads := 0
	load := func(context.Context) (User, error) { loads++; return ada, nil }
	u, err := aside.Remember(ctx, c, "k", load, aside.Tags("users"))
	require.NoError(t, err, "the failure never reaches the caller")
	require.Equal(t, ada, u)
	require.True(t, once.Load(), "the tag record write failed")
	// Without the lease given back, the key could not be stored for
	// LeaseTTL (30 s) and every call would run the loader.
	require.Eventually(t, func() bool {
		_, err := aside.Remember(ctx, c, "k", load, aside.Tags("users"))
		require.NoError(t, err)
		_, found, err := aside.Get[User](ctx, c, "k", aside.Tags("users"))
		require.NoError(t, err)
		return found
	}, 2*time.Second, 5*time.Millisecond)
}

func TestLoadTagsNeverHandsAStoreFailureToTheLoader(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f})
	ctx := context.Background()
	f.failWhen(func(op, key string) bool { return op == "Add" && strings.Contains(key, ":t:") })
	var tagErr error
	u, err := aside.Remember(ctx, c, "k", func(ctx context.Context) (User, error) {
		tagErr = aside.LoadTags(ctx, "user:42")
		return ada, nil
	})
	require.NoError(t, err)
	require.NoError(t, tagErr, "the loader (a handler calling middleware.Tag) never sees the store's error")
	require.Equal(t, ada, u)
	_, found, err := aside.Get[User](ctx, c, "k")
	require.NoError(t, err)
	require.False(t, found, "an entry whose tags could not be stamped is not stored")
	require.Positive(t, c.Stats().Errors)
}

func TestMoreThan64TagsInAllAreRejectedAtTheCall(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	static := make([]string, 40)
	for i := range static {
		static[i] = fmt.Sprintf("s%d", i)
	}
	var tagErr error
	_, err := aside.Remember(ctx, c, "k", func(ctx context.Context) (User, error) {
		dynamic := make([]string, 30)
		for i := range dynamic {
			dynamic[i] = fmt.Sprintf("d%d", i)
		}
		tagErr = aside.LoadTags(ctx, dynamic...)
		return ada, nil
	}, aside.Tags(static...))
	require.NoError(t, err)
	require.ErrorIs(t, tagErr, aside.ErrInvalidOption)
	require.Contains(t, tagErr.Error(), "70 tags")
	_, found, err := aside.Get[User](ctx, c, "k", aside.Tags(static...))
	require.NoError(t, err)
	require.False(t, found)
	require.Zero(t, c.Stats().DecodeFailures, "nothing unreadable was stored")
}

func TestAGarbledTagRecordIsReplaced(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	kb, err := keys.New(keys.Options{})
	require.NoError(t, err)
	tk, err := kb.Tag("users")
	require.NoError(t, err)
	require.NoError(t, c.Provider().Set(ctx, tk, []byte{1, 2, 3, 4, 5}, 0))

	require.NoError(t, aside.Set(ctx, c, "a", ada, aside.Tags("users")), "a tagged Set repairs the record")
	_, err = aside.Remember(ctx, c, "b", func(context.Context) (User, error) { return ada, nil }, aside.Tags("users"))
	require.NoError(t, err)
	for _, k := range []string{"a", "b"} {
		_, found, err := aside.Get[User](ctx, c, k, aside.Tags("users"))
		require.NoError(t, err)
		require.True(t, found, "%s is cached under the repaired record", k)
	}
	require.EqualValues(t, 1, c.Stats().Repairs)
	require.NoError(t, c.InvalidateTags(ctx, "users"))
	_, found, err := aside.Get[User](ctx, c, "a", aside.Tags("users"))
	require.NoError(t, err)
	require.False(t, found)
}

func TestAValueOfAnotherTypeUnderAKeyIsDeletedAndReloaded(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f})
	ctx := context.Background()
	f.wrongType.Store(true)
	_, err := aside.Remember(ctx, c, "k", func(context.Context) (User, error) { return ada, nil })
	require.NoError(t, err)
	require.Positive(t, f.count("Delete"), "the foreign value was deleted")
	require.EqualValues(t, 1, c.Stats().DecodeFailures)
	f.wrongType.Store(false)
	_, found, err := aside.Get[User](ctx, c, "k")
	require.NoError(t, err)
	require.True(t, found, "the reload stored the value")
}

func TestTagRecordsLiveAboutAsLongAsTheirEntries(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	kb, err := keys.New(keys.Options{})
	require.NoError(t, err)
	tk, err := kb.Tag("q:1")
	require.NoError(t, err)
	_, err = aside.Remember(ctx, c, "short", func(context.Context) (int, error) { return 1, nil },
		aside.TTL(50*time.Millisecond), aside.Tags("q:1"))
	require.NoError(t, err)
	_, err = c.Provider().Get(ctx, tk)
	require.NoError(t, err, "the record exists while its entry lives")
	require.Eventually(t, func() bool {
		_, err := c.Provider().Get(ctx, tk)
		return errors.Is(err, provider.ErrNotFound)
	}, 2*time.Second, 10*time.Millisecond, "the record of a 50 ms entry is gone soon after it, not a day later")
}

func TestARecordIsKeptForTheLongestEntryStampedWithIt(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	_, err := aside.Remember(ctx, c, "short", func(context.Context) (int, error) { return 1, nil },
		aside.TTL(30*time.Millisecond), aside.Tags("t"))
	require.NoError(t, err)
	require.NoError(t, aside.Set(ctx, c, "long", 2, aside.TTL(time.Hour), aside.Tags("t")))
	_, err = aside.Remember(ctx, c, "long2", func(context.Context) (int, error) { return 3, nil },
		aside.TTL(time.Hour), aside.Tags("t"))
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // the record was created for 60 ms
	for _, k := range []string{"long", "long2"} {
		v, found, err := aside.Get[int](ctx, c, k, aside.Tags("t"))
		require.NoError(t, err)
		require.True(t, found, "%s outlives the entry its record was created for", k)
		require.NotZero(t, v)
	}
}

func TestInvalidateTagsEventuallyRetriesUntilItLands(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f})
	ctx := context.Background()
	require.NoError(t, aside.Set(ctx, c, "k", ada, aside.Tags("users")))
	f.failWhen(func(op, key string) bool { return op == "Set" && strings.Contains(key, ":t:") })

	err := c.InvalidateTagsEventually(ctx, "users")
	require.ErrorIs(t, err, aside.ErrInvalidationPending)
	require.EqualValues(t, 1, c.Stats().InvalidationsPending)
	_, found, err := aside.Get[User](ctx, c, "k", aside.Tags("users"))
	require.NoError(t, err)
	require.False(t, found, "this process serves nothing the pending invalidation covers")

	f.failWhen(nil)
	require.Eventually(t, func() bool { return c.Stats().InvalidationsPending == 0 }, 3*time.Second, 10*time.Millisecond)
	s := c.Stats()
	require.Positive(t, s.InvalidationRetries)
	require.EqualValues(t, 1, s.Invalidations)
	// The record really changed: another Cache over the store agrees.
	other := newCache(t, aside.Options{Provider: f.Provider})
	_, found, err = aside.Get[User](ctx, other, "k", aside.Tags("users"))
	require.NoError(t, err)
	require.False(t, found)
}

func TestClosingAbandonsPendingInvalidationsPromptly(t *testing.T) {
	f := newFaulty(t)
	c, err := aside.New(aside.Options{Provider: f})
	require.NoError(t, err)
	f.fail.Store(true)
	require.ErrorIs(t, c.InvalidateTagsEventually(context.Background(), "users"), aside.ErrInvalidationPending)
	start := time.Now()
	require.NoError(t, c.Close())
	require.Less(t, time.Since(start), 2*time.Second)
}

func TestCloseWhileStaleEntriesRefreshIsSafe(t *testing.T) {
	ctx := context.Background()
	for range 30 {
		c, err := aside.New(aside.Options{})
		require.NoError(t, err)
		opts := []aside.Option{aside.TTL(time.Millisecond), aside.StaleWhileRevalidate(time.Minute)}
		_, err = aside.Remember(ctx, c, "k", func(context.Context) (int, error) { return 1, nil }, opts...)
		require.NoError(t, err)
		time.Sleep(2 * time.Millisecond)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					_, _ = aside.Remember(ctx, c, "k", func(context.Context) (int, error) {
						time.Sleep(time.Millisecond)
						return 2, nil
					}, opts...)
				}
			}()
		}
		require.NoError(t, c.Close())
		wg.Wait()
	}
}

func TestTheCircuitOpensOnAnOutageAndClosesWhenTheStoreReturns(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f, Breaker: aside.Breaker{Failures: 3, CoolDown: 50 * time.Millisecond}})
	ctx := context.Background()
	load := func(context.Context) (User, error) { return ada, nil }
	require.Equal(t, "closed", c.Stats().Circuit)

	f.fail.Store(true)
	for range 3 {
		_, err := aside.Remember(ctx, c, "k", load)
		require.NoError(t, err)
	}
	require.Equal(t, "open", c.Stats().Circuit)
	reached := f.calls.Load()
	for range 20 {
		u, err := aside.Remember(ctx, c, "k", load)
		require.NoError(t, err)
		require.Equal(t, ada, u)
	}
	require.Equal(t, reached, f.calls.Load(), "an open circuit keeps calls off the store")
	s := c.Stats()
	require.EqualValues(t, 20, s.Rejected)
	require.EqualValues(t, 1, s.CircuitOpens)
	require.EqualValues(t, 3, s.Errors, "refused calls are not provider failures")

	f.fail.Store(false)
	require.Eventually(t, func() bool {
		_, err := aside.Remember(ctx, c, "k", load)
		require.NoError(t, err)
		_, found, err := aside.Get[User](ctx, c, "k")
		require.NoError(t, err)
		return found
	}, 2*time.Second, 10*time.Millisecond, "the first calls after the cool-down probe and close the circuit")
	require.Equal(t, "closed", c.Stats().Circuit)
}

func TestAPendingInvalidationLandsAsSoonAsTheCircuitCloses(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f, Breaker: aside.Breaker{Failures: 1, CoolDown: 30 * time.Millisecond}})
	ctx := context.Background()
	require.NoError(t, aside.Set(ctx, c, "k", ada, aside.Tags("users")))
	f.fail.Store(true)
	require.ErrorIs(t, c.InvalidateTagsEventually(ctx, "users"), aside.ErrInvalidationPending)
	time.Sleep(300 * time.Millisecond) // retries back off while the circuit refuses them
	f.fail.Store(false)
	start := time.Now()
	require.Eventually(t, func() bool { return c.Stats().InvalidationsPending == 0 }, 5*time.Second, 5*time.Millisecond)
	require.Less(t, time.Since(start), 2*time.Second)
	_, found, err := aside.Get[User](ctx, newCache(t, aside.Options{Provider: f.Provider}), "k", aside.Tags("users"))
	require.NoError(t, err)
	require.False(t, found)
}

func TestTheMemoryProviderHasNoBreaker(t *testing.T) {
	c := newCache(t, aside.Options{})
	require.Empty(t, c.Stats().Circuit)
	_, err := aside.New(aside.Options{Provider: newFaulty(t), Breaker: aside.Breaker{Failures: -1}})
	require.ErrorIs(t, err, aside.ErrInvalidOption)
}

func TestCallsSharingABudgetPayForOneFailure(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f, Breaker: aside.Breaker{Disabled: true}})
	ctx := context.Background()
	f.fail.Store(true)
	var b aside.FailureBudget
	before := f.calls.Load()
	for _, k := range []string{"a", "b", "c"} {
		u, err := aside.Remember(ctx, c, k, func(context.Context) (User, error) { return ada, nil }, aside.SharedBudget(&b), aside.Tags("users"))
		require.NoError(t, err)
		require.Equal(t, ada, u)
		_, found, err := aside.Get[User](ctx, c, k, aside.SharedBudget(&b))
		require.NoError(t, err)
		require.False(t, found)
	}
	require.True(t, b.Spent())
	require.EqualValues(t, 1, f.calls.Load()-before, "six calls, one provider failure")
	f.fail.Store(false)
	_, err := aside.Remember(ctx, c, "a", func(context.Context) (User, error) { return ada, nil })
	require.NoError(t, err, "a call without the spent budget reaches the store again")
	require.Greater(t, f.calls.Load()-before, int64(1))
}
