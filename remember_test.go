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
)

func TestRememberLoadsOnceThenHits(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	var loads atomic.Int32
	load := func(context.Context) (User, error) { loads.Add(1); return ada, nil }

	got, err := aside.Remember(ctx, c, "user:42", load)
	require.NoError(t, err)
	require.Equal(t, ada, got)
	got, err = aside.Remember(ctx, c, "user:42", load)
	require.NoError(t, err)
	require.Equal(t, ada, got)
	require.EqualValues(t, 1, loads.Load())

	s := c.Stats()
	require.EqualValues(t, 1, s.Hits)
	require.EqualValues(t, 1, s.Misses)
	require.EqualValues(t, 1, s.Sets)
	require.EqualValues(t, 1, s.Loads)
	require.Greater(t, s.RawBytes, int64(0))
	require.Greater(t, s.StoredBytes, int64(0))
	require.Equal(t, 0.5, s.HitRate())
}

func TestConcurrentMissesRunTheLoaderOnce(t *testing.T) {
	c := newCache(t, aside.Options{})
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(context.Context) (User, error) {
		loads.Add(1)
		<-release
		return ada, nil
	}
	const n = 50
	var wg sync.WaitGroup
	results := make(chan User, n)
	for range n {
		wg.Go(func() {
			u, err := aside.Remember(context.Background(), c, "k", load)
			require.NoError(t, err)
			results <- u
		})
	}
	require.Eventually(t, func() bool { return loads.Load() == 1 }, 2*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // let the others queue on the flight
	close(release)
	wg.Wait()
	close(results)
	for u := range results {
		require.Equal(t, ada, u)
	}
	require.EqualValues(t, 1, loads.Load())
}

func TestALoaderPanicReachesEveryWaiterWithoutDeadlock(t *testing.T) {
	c := newCache(t, aside.Options{})
	release := make(chan struct{})
	load := func(context.Context) (User, error) {
		<-release
		panic("boom")
	}
	const n = 10
	var wg sync.WaitGroup
	var panics atomic.Int32
	for range n {
		wg.Go(func() {
			defer func() {
				r := recover()
				pe, ok := r.(*aside.PanicError)
				if ok && pe.Value == "boom" && len(pe.Stack) > 0 {
					panics.Add(1)
				}
			}()
			_, _ = aside.Remember(context.Background(), c, "k", load)
		})
	}
	time.Sleep(30 * time.Millisecond)
	close(release)
	wg.Wait()
	require.EqualValues(t, n, panics.Load())

	// The key is usable afterwards: the panic did not leave a flight or lease behind.
	u, err := aside.Remember(context.Background(), c, "k", func(context.Context) (User, error) { return ada, nil })
	require.NoError(t, err)
	require.Equal(t, ada, u)
}

func TestOneWaiterCancellingDoesNotFailTheOthers(t *testing.T) {
	c := newCache(t, aside.Options{})
	release := make(chan struct{})
	var loaderCtxErr atomic.Value
	load := func(ctx context.Context) (User, error) {
		select {
		case <-release:
		case <-ctx.Done():
			loaderCtxErr.Store(ctx.Err())
			return User{}, ctx.Err()
		}
		return ada, nil
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() { _, err := aside.Remember(ctx1, c, "k", load); errs <- err }()
	time.Sleep(20 * time.Millisecond)
	go func() {
		u, err := aside.Remember(context.Background(), c, "k", load)
		if err == nil && u.Name != ada.Name {
			err = fmt.Errorf("got %v", u)
		}
		errs <- err
	}()
	time.Sleep(20 * time.Millisecond)
	cancel1()
	require.ErrorIs(t, <-errs, context.Canceled)
	close(release)
	require.NoError(t, <-errs)
	require.Nil(t, loaderCtxErr.Load(), "the loader must keep running while a waiter remains")
}

func TestTheLoaderIsCancelledWhenEveryWaiterLeaves(t *testing.T) {
	c := newCache(t, aside.Options{})
	cancelled := make(chan struct{})
	load := func(ctx context.Context) (User, error) {
		<-ctx.Done()
		close(cancelled)
		return User{}, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := aside.Remember(ctx, c, "k", load)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	select {
	case <-cancelled:
	case <-time.After(2 * time.Second):
		t.Fatal("loader context was not cancelled after its only waiter left")
	}
	// A new caller starts afresh instead of joining the cancelled flight.
	u, err := aside.Remember(context.Background(), c, "k", func(context.Context) (User, error) { return ada, nil })
	require.NoError(t, err)
	require.Equal(t, ada, u)
}

func TestLoaderErrorsAreReturnedAndNotCached(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	boom := errors.New("db down")
	_, err := aside.Remember(ctx, c, "k", func(context.Context) (User, error) { return User{}, boom })
	require.ErrorIs(t, err, boom)
	var loads int
	u, err := aside.Remember(ctx, c, "k", func(context.Context) (User, error) { loads++; return ada, nil })
	require.NoError(t, err)
	require.Equal(t, ada, u)
	require.Equal(t, 1, loads)
	require.EqualValues(t, 1, c.Stats().LoadErrors)
}

func TestAMissReturnsWhatAHitWillDecode(t *testing.T) {
	type withNil struct {
		Tags  []string
		When  time.Time
		Inner *User
	}
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	when := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	load := func(context.Context) (withNil, error) { return withNil{Tags: []string{}, When: when, Inner: &ada}, nil }
	miss, err := aside.Remember(ctx, c, "k", load)
	require.NoError(t, err)
	hit, err := aside.Remember(ctx, c, "k", load)
	require.NoError(t, err)
	require.Equal(t, hit, miss)
}

func TestGetAndSet(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	_, found, err := aside.Get[User](ctx, c, "user:1")
	require.NoError(t, err)
	require.False(t, found)

	require.NoError(t, aside.Set(ctx, c, "user:1", ada, aside.TTL(time.Minute)))
	got, found, err := aside.Get[User](ctx, c, "user:1")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, ada, got)

	require.NoError(t, c.Delete(ctx, "user:1"))
	_, found, err = aside.Get[User](ctx, c, "user:1")
	require.NoError(t, err)
	require.False(t, found)
}

func TestEntriesExpireAfterTheirTTL(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	require.NoError(t, aside.Set(ctx, c, "k", "v", aside.TTL(50*time.Millisecond)))
	_, found, _ := aside.Get[string](ctx, c, "k")
	require.True(t, found)
	require.Eventually(t, func() bool {
		_, found, _ := aside.Get[string](ctx, c, "k")
		return !found
	}, 2*time.Second, 5*time.Millisecond)
}

func TestBadInputGetsAClearError(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	load := func(context.Context) (int, error) { return 1, nil }
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"an empty key is refused", func() error { _, err := aside.Remember(ctx, c, "", load); return err }, aside.ErrInvalidKey},
		{"a zero TTL is refused", func() error { _, err := aside.Remember(ctx, c, "k", load, aside.TTL(0)); return err }, aside.ErrInvalidOption},
		{"a negative stale window is refused", func() error {
			_, err := aside.Remember(ctx, c, "k", load, aside.StaleWhileRevalidate(-time.Second))
			return err
		}, aside.ErrInvalidOption},
		{"an empty tag is refused", func() error { return aside.Set(ctx, c, "k", 1, aside.Tags("")) }, aside.ErrInvalidKey},
		{"an empty tag is refused by InvalidateTags", func() error { return c.InvalidateTags(ctx, "") }, aside.ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, tt.call(), tt.want)
		})
	}
	_, err := aside.New(aside.Options{Jitter: 2})
	require.ErrorIs(t, err, aside.ErrInvalidOption)
	require.Contains(t, err.Error(), "Jitter")
}

func TestAClosedCacheSaysSo(t *testing.T) {
	c, err := aside.New(aside.Options{})
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	ctx := context.Background()
	_, err = aside.Remember(ctx, c, "k", func(context.Context) (int, error) { return 1, nil })
	require.ErrorIs(t, err, aside.ErrClosed)
	_, _, err = aside.Get[int](ctx, c, "k")
	require.ErrorIs(t, err, aside.ErrClosed)
	require.ErrorIs(t, aside.Set(ctx, c, "k", 1), aside.ErrClosed)
	require.ErrorIs(t, c.Delete(ctx, "k"), aside.ErrClosed)
	require.ErrorIs(t, c.Ping(ctx), aside.ErrClosed)
}

func TestStaleIfErrorAnswersALoaderErrorWithTheLastValue(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	boom := errors.New("db down")
	opts := []aside.Option{aside.TTL(20 * time.Millisecond), aside.StaleIfError(time.Minute), aside.Tags("t")}
	_, err := aside.Remember(ctx, c, "k", func(context.Context) (User, error) { return ada, nil }, opts...)
	require.NoError(t, err)
	time.Sleep(40 * time.Millisecond)
	for range 2 { // the second failure still finds the entry the first put back
		u, err := aside.Remember(ctx, c, "k", func(context.Context) (User, error) { return User{}, boom }, opts...)
		require.NoError(t, err)
		require.Equal(t, ada, u)
	}
	// Without the option the error is returned.
	_, err = aside.Remember(ctx, c, "other", func(context.Context) (User, error) { return ada, nil }, opts...)
	require.NoError(t, err)
	time.Sleep(40 * time.Millisecond)
	_, err = aside.Remember(ctx, c, "other", func(context.Context) (User, error) { return User{}, boom }, aside.Tags("t"))
	require.ErrorIs(t, err, boom)
	// An invalidated entry is never the answer.
	require.NoError(t, c.InvalidateTags(ctx, "t"))
	_, err = aside.Remember(ctx, c, "k", func(context.Context) (User, error) { return User{}, boom }, opts...)
	require.ErrorIs(t, err, boom)
}

func TestSecretsNeverReachTheStoreAndHitMatchesMiss(t *testing.T) {
	type Account struct {
		User     User
		Password string
		APIKey   string `json:"api_key"`
		Note     string `aside:"redact"`
	}
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f})
	ctx := context.Background()
	in := Account{User: ada, Password: "hunter2", APIKey: "sk-live-42", Note: "private note"}
	miss, err := aside.Remember(ctx, c, "acct", func(context.Context) (Account, error) { return in, nil })
	require.NoError(t, err)
	require.Equal(t, Account{User: ada}, miss, "the miss returns the redacted value")
	require.Equal(t, "hunter2", in.Password, "the caller's value is untouched")
	hit, err := aside.Remember(ctx, c, "acct", func(context.Context) (Account, error) { return in, nil })
	require.NoError(t, err)
	require.Equal(t, miss, hit)
	sk, err := (&keys.Builder{}).Entry("acct")
	require.NoError(t, err)
	stored, err := f.Provider.Get(ctx, sk)
	require.NoError(t, err)
	for _, secret := range []string{"hunter2", "sk-live-42", "private note"} {
		require.NotContains(t, string(stored), secret)
	}
	require.Contains(t, string(stored), "ada@example.com")

	masked := newCache(t, aside.Options{Redaction: &aside.Redaction{Mode: aside.RedactMask, Add: []string{"bio"}}})
	got, err := aside.Remember(ctx, masked, "acct", func(context.Context) (Account, error) { return in, nil })
	require.NoError(t, err)
	require.Equal(t, "[REDACTED]", got.Password)
	require.Equal(t, "[REDACTED]", got.User.Bio)

	off := newCache(t, aside.Options{Redaction: &aside.Redaction{Disabled: true}})
	got, err = aside.Remember(ctx, off, "acct", func(context.Context) (Account, error) { return in, nil })
	require.NoError(t, err)
	require.Equal(t, in, got)
}

func TestJitterSpreadsExpiry(t *testing.T) {
	ctx := context.Background()
	survivors := func(jitter float64) int {
		c := newCache(t, aside.Options{Jitter: jitter})
		for i := range 100 {
			require.NoError(t, aside.Set(ctx, c, fmt.Sprint(i), i, aside.TTL(400*time.Millisecond)))
		}
		time.Sleep(200 * time.Millisecond)
		n := 0
		for i := range 100 {
			if _, found, _ := aside.Get[int](ctx, c, fmt.Sprint(i)); found {
				n++
			}
		}
		return n
	}
	require.Equal(t, 100, survivors(0), "without jitter every entry outlives half its TTL")
	// With Jitter 1 each TTL loses a uniform fraction: about half the entries
	// are gone at half the TTL (all 100 surviving has probability 2^-100).
	n := survivors(1)
	require.Less(t, n, 90)
	require.Positive(t, n)
}

func TestStatsReportCompressionSavings(t *testing.T) {
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	big := strings.Repeat(`{"name":"product","price":10.99,"tags":["a","b"]},`, 200)
	require.NoError(t, aside.Set(ctx, c, "page", big, aside.Tags("products")))
	s := c.Stats()
	require.Greater(t, s.RawBytes, int64(len(big)))
	require.Less(t, s.EncodedBytes, s.RawBytes/4, "zstd shrinks repetitive JSON")
	require.Greater(t, s.StoredBytes, s.EncodedBytes, "the envelope and tag stamp cost bytes too")
	require.Greater(t, s.Savings(), 0.75)
}

func TestCallersLeavingWhileALoadStartsIsSafe(t *testing.T) {
	c := newCache(t, aside.Options{})
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			ctx := context.Background()
			if i%2 == 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Duration(i%7)*time.Microsecond)
				defer cancel()
			}
			_, _ = aside.Remember(ctx, c, fmt.Sprint("k", i%5), func(context.Context) (int, error) {
				time.Sleep(time.Millisecond)
				return i, nil
			})
		})
	}
	wg.Wait()
}

func TestAValueTheCodecWillNotDecodeIsStillReturned(t *testing.T) {
	// Thousands of one-entry maps cost Go far more memory than their bytes:
	// the codec's allocation bound refuses to decode them.
	type hostile struct{ M []map[string]int }
	big := hostile{M: make([]map[string]int, 20000)}
	for i := range big.M {
		big.M[i] = map[string]int{"a": i}
	}
	c := newCache(t, aside.Options{})
	ctx := context.Background()
	for range 2 {
		got, err := aside.Remember(ctx, c, "k", func(context.Context) (hostile, error) { return big, nil })
		require.NoError(t, err, "the caller never sees the codec refusing its own bytes")
		require.Len(t, got.M, len(big.M))
	}
	require.Positive(t, c.Stats().DecodeFailures, "the codec did refuse them")
	_, found, err := aside.Get[hostile](ctx, c, "k")
	require.NoError(t, err)
	require.False(t, found)
}

func TestAValueTheCodecWillNotDecodeIsStillReturnedByABatch(t *testing.T) {
	type hostile struct{ M []map[string]int }
	big := hostile{M: make([]map[string]int, 20000)}
	for i := range big.M {
		big.M[i] = map[string]int{"a": i}
	}
	c := newCache(t, aside.Options{})
	got, err := aside.RememberMany(context.Background(), c, []int{1, 2}, func(id int) string { return fmt.Sprint("k", id) },
		func(_ context.Context, ids []int) (map[int]hostile, error) {
			out := map[int]hostile{}
			for _, id := range ids {
				out[id] = big
			}
			return out, nil
		})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Len(t, got[1].M, len(big.M))
	require.Positive(t, c.Stats().DecodeFailures)
}
