package aside_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
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
