package circuit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The state-machine tests run in a synctest bubble: the cool-down passes in
// fake time, exactly, and instantly.

func TestWrapRejectsInvalidOptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		inner provider.Provider
		o     circuit.Options
	}{
		{"a nil provider is refused", nil, circuit.Options{}},
		{"negative Failures are refused", &fake{}, circuit.Options{Failures: -1}},
		{"Failures beyond uint32 are refused", &fake{}, circuit.Options{Failures: math.MaxUint32 + 1}},
		{"negative Probes are refused", &fake{}, circuit.Options{Probes: -1}},
		{"a negative CoolDown is refused", &fake{}, circuit.Options{CoolDown: -time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, b, err := circuit.Wrap(tc.inner, tc.o)
			require.ErrorIs(t, err, circuit.ErrInvalidOptions)
			require.Nil(t, p)
			require.Nil(t, b)
		})
	}
}

func TestTheCircuitOpensAfterConsecutiveFailuresAndRefusesWithoutCallingTheStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		p, b, rec := wrap(t, f, circuit.Options{Failures: 3})
		ctx := t.Context()

		f.answer(errDown)
		for range 2 {
			_, err := p.Get(ctx, "k")
			require.ErrorIs(t, err, errDown)
		}
		require.Equal(t, circuit.Closed, b.State())
		f.answer(nil)
		_, err := p.Get(ctx, "k")
		require.NoError(t, err, "a success ends the run of failures")
		f.answer(errDown)
		for range 2 {
			_, err := p.Get(ctx, "k")
			require.ErrorIs(t, err, errDown)
		}
		require.Equal(t, circuit.Closed, b.State(), "two failures after a success do not open it")
		_, err = p.Get(ctx, "k")
		require.ErrorIs(t, err, errDown, "the failure that opens the circuit returns the store's error")
		require.Equal(t, circuit.Open, b.State())

		reached := f.calls.Load()
		refusals := 0
		for name, call := range calls(p, ctx) {
			err := call()
			require.ErrorIs(t, err, provider.ErrUnavailable, name)
			require.NotErrorIs(t, err, errDown, name)
			refusals++
		}
		require.Equal(t, 15, refusals, "the core methods and the eight optional ones")
		require.Equal(t, reached, f.calls.Load(), "an open circuit does not touch the store")
		require.Equal(t, []string{"closed -> open"}, rec.list())
		require.Equal(t, circuit.Stats{State: circuit.Open, Opens: 1, Rejected: 15}, b.Stats())
	})
}

func TestAProbeThatSucceedsClosesTheCircuit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		p, b, rec := wrap(t, f, circuit.Options{Failures: 1}) // the default 1 s cool-down
		ctx := t.Context()
		f.answer(errDown)
		_, _ = p.Get(ctx, "k")
		require.Equal(t, circuit.Open, b.State())
		f.answer(nil) // the store is back, but the circuit does not know yet

		time.Sleep(circuit.DefaultCoolDown - time.Millisecond)
		_, err := p.Get(ctx, "k")
		require.ErrorIs(t, err, provider.ErrUnavailable, "still cooling down")
		require.Equal(t, int64(1), f.calls.Load())

		time.Sleep(2 * time.Millisecond)
		var atProbe []string
		f.do(func(context.Context) error { atProbe = rec.list(); return nil })
		v, err := p.Get(ctx, "k")
		require.NoError(t, err, "the first call after the cool-down is the probe")
		require.Equal(t, []string{"closed -> open", "open -> half-open"}, atProbe,
			"the half-open transition is announced before the probe runs")
		require.Equal(t, []byte("v"), v)
		require.Equal(t, int64(2), f.calls.Load())
		require.Equal(t, circuit.Closed, b.State())
		require.Equal(t, []string{"closed -> open", "open -> half-open", "half-open -> closed"}, rec.list())
		require.Equal(t, circuit.Stats{State: circuit.Closed, Opens: 1, Rejected: 1}, b.Stats())
	})
}

func TestAProbeThatFailsOpensTheCircuitForAnotherCoolDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		p, b, rec := wrap(t, f, circuit.Options{Failures: 1, CoolDown: 200 * time.Millisecond})
		ctx := t.Context()
		f.answer(errDown)
		_, _ = p.Get(ctx, "k")

		time.Sleep(201 * time.Millisecond)
		require.Equal(t, circuit.HalfOpen, b.State(), "State turns a cooled-down circuit half-open")
		err := p.Set(ctx, "k", []byte("v"), 0)
		require.ErrorIs(t, err, errDown, "the probe returns the store's own error")
		require.Equal(t, circuit.Open, b.State())
		_, err = p.Get(ctx, "k")
		require.ErrorIs(t, err, provider.ErrUnavailable)
		require.Equal(t, int64(2), f.calls.Load())

		time.Sleep(199 * time.Millisecond)
		require.Equal(t, circuit.Open, b.State(), "a new cool-down started at the failed probe")
		time.Sleep(2 * time.Millisecond)
		f.answer(nil)
		require.NoError(t, p.Ping(ctx))
		require.Equal(t, circuit.Closed, b.State())
		require.Equal(t, []string{
			"closed -> open", "open -> half-open", "half-open -> open",
			"open -> half-open", "half-open -> closed",
		}, rec.list())
		require.Equal(t, int64(2), b.Stats().Opens)
	})
}

func TestAHalfOpenCircuitLetsOnlyItsProbesThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		p, b, rec := wrap(t, f, circuit.Options{Failures: 1, Probes: 2})
		ctx := t.Context()
		f.answer(errDown)
		_, _ = p.Get(ctx, "k")
		time.Sleep(circuit.DefaultCoolDown + time.Millisecond)

		release := make(chan struct{})
		f.do(func(context.Context) error { <-release; return nil })
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				_, err := p.Get(ctx, "k")
				require.NoError(t, err)
			})
		}
		synctest.Wait() // both probes are inside the store
		require.Equal(t, int64(3), f.calls.Load())
		_, err := p.Get(ctx, "k")
		require.ErrorIs(t, err, provider.ErrUnavailable, "a third call while two probes are in flight")
		require.Equal(t, int64(3), f.calls.Load())

		release <- struct{}{}
		synctest.Wait()
		require.Equal(t, circuit.HalfOpen, b.State(), "one success of two does not close it")
		release <- struct{}{}
		wg.Wait()
		require.Equal(t, circuit.Closed, b.State())
		require.Equal(t, []string{"closed -> open", "open -> half-open", "half-open -> closed"}, rec.list())
	})
}

func TestWhatIsNotAFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		// respond is what the store does; cancel cancels the caller's context.
		respond func(ctx context.Context, cancel context.CancelFunc) error
		// callerTimeout, when set, is the caller's own deadline.
		callerTimeout time.Duration
	}{
		{"a missing key (the store answered)", func(context.Context, context.CancelFunc) error {
			return fmt.Errorf("redis: %w", provider.ErrNotFound)
		}, 0},
		{"a key of another type (the store answered)", func(context.Context, context.CancelFunc) error {
			return fmt.Errorf("redis: %w", provider.ErrWrongType)
		}, 0},
		{"an invalid key", func(context.Context, context.CancelFunc) error { return provider.ErrInvalidKey }, 0},
		{"an invalid TTL", func(context.Context, context.CancelFunc) error { return provider.ErrInvalidTTL }, 0},
		{"a value too large", func(context.Context, context.CancelFunc) error { return provider.ErrTooLarge }, 0},
		{"a provider closed behind the wrapper's back", func(context.Context, context.CancelFunc) error {
			return provider.ErrClosed
		}, 0},
		{"a network error after the caller cancelled", func(_ context.Context, cancel context.CancelFunc) error {
			cancel()
			return errDown
		}, 0},
		{"the caller's own deadline passing while the store hangs", func(ctx context.Context, _ context.CancelFunc) error {
			<-ctx.Done()
			return ctx.Err()
		}, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{}
				p, b, rec := wrap(t, f, circuit.Options{Failures: 1})
				for range 3 {
					ctx, cancel := context.WithCancel(t.Context())
					if tc.callerTimeout > 0 {
						ctx, cancel = context.WithTimeout(t.Context(), tc.callerTimeout)
					}
					f.do(func(ctx context.Context) error { return tc.respond(ctx, cancel) })
					_, err := p.Get(ctx, "k")
					require.Error(t, err)
					cancel()
				}
				require.Equal(t, circuit.Closed, b.State(), "one counted failure would have opened it")
				require.Empty(t, rec.list())
			})
		})
	}
}

func TestTheProvidersOwnTimeoutIsAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		p, b, _ := wrap(t, f, circuit.Options{Failures: 2})
		// The adapter bounds the call by a deadline of its own, derived from
		// the caller's context, which stays live.
		f.do(func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
			defer cancel()
			<-ctx.Done()
			return fmt.Errorf("redis: %w", ctx.Err())
		})
		for range 2 {
			_, err := p.Get(t.Context(), "k")
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}
		require.Equal(t, circuit.Open, b.State())
	})
}

func TestAnsweredErrorsCloseAHalfOpenCircuitButUncountedOnesLeaveItsProbeFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		p, b, _ := wrap(t, f, circuit.Options{Failures: 1})
		ctx := t.Context()
		f.answer(errDown)
		_, _ = p.Get(ctx, "k")
		time.Sleep(circuit.DefaultCoolDown + time.Millisecond)

		f.answer(provider.ErrInvalidKey)
		_, err := p.Get(ctx, "k")
		require.ErrorIs(t, err, provider.ErrInvalidKey)
		require.Equal(t, circuit.HalfOpen, b.State(), "an uncounted probe decides nothing")

		f.answer(fmt.Errorf("redis: %w", provider.ErrNotFound))
		_, err = p.Get(ctx, "k")
		require.ErrorIs(t, err, provider.ErrNotFound, "the probe slot was given back")
		require.Equal(t, circuit.Closed, b.State(), "a miss is an answer")
	})
}

func TestADoneContextDoesNotReachTheBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		p, b, _ := wrap(t, f, circuit.Options{Failures: 1})
		f.answer(errDown)
		_, _ = p.Get(t.Context(), "k")

		cancelled, cancel := context.WithCancel(t.Context())
		cancel()
		for name, call := range calls(p, cancelled) {
			require.ErrorIs(t, call(), context.Canceled, "an open circuit, %s", name)
		}
		require.Zero(t, b.Stats().Rejected)

		time.Sleep(circuit.DefaultCoolDown + time.Millisecond)
		for name, call := range calls(p, cancelled) {
			require.ErrorIs(t, call(), context.Canceled, "a half-open circuit, %s", name)
		}
		require.Equal(t, int64(1), f.calls.Load())
		f.answer(nil)
		_, err := p.Get(t.Context(), "k")
		require.NoError(t, err, "the probe is still free")
		require.Equal(t, circuit.Closed, b.State())
	})
}

func TestAPanicInTheStoreIsAFailureAndIsReraised(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		p, b, _ := wrap(t, f, circuit.Options{Failures: 1})
		f.do(func(context.Context) error { panic("boom") })
		require.PanicsWithValue(t, "boom", func() { _, _ = p.Get(t.Context(), "k") })
		require.Equal(t, circuit.Open, b.State())
	})
}

func TestCloseWinsOverAnOpenCircuit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fake{}
		p, b, _ := wrap(t, f, circuit.Options{Failures: 1})
		f.answer(errDown)
		_, _ = p.Get(t.Context(), "k")
		require.Equal(t, circuit.Open, b.State())

		require.NoError(t, p.Close())
		require.True(t, f.closed.Load(), "Close reaches the store whatever the circuit's state")
		require.NoError(t, p.Close())
		for name, call := range calls(p, t.Context()) {
			require.ErrorIs(t, call(), provider.ErrClosed, name)
		}
		require.Zero(t, b.Stats().Rejected)
	})
}

// The guarded provider offers every optional ability whatever the wrapped
// one has: Batcher, MultiAdder and MultiSwapper are emulated with Set, Add
// and CompareAndSwap, MultiGetAdder with GetMulti and AddMulti,
// PatternDeleter and Counter say provider.ErrNotSupported; every call that
// reaches the store goes through the breaker.
func TestTheGuardedProviderOffersEveryAbility(t *testing.T) {
	f := &fake{}
	type (
		core  = provider.Provider
		batch = provider.Batcher
		adds  = provider.MultiAdder
		glob  = provider.PatternDeleter
		count = provider.Counter
		reads = provider.MultiGetAdder
		swaps = provider.MultiSwapper
	)
	for _, inner := range []provider.Provider{
		struct{ core }{f},
		struct {
			core
			batch
			adds
		}{f, f, f},
		struct {
			core
			reads
			swaps
		}{f, f, f},
		struct {
			core
			glob
			count
		}{f, f, f},
		f,
	} {
		_, isB := inner.(provider.Batcher)
		_, isA := inner.(provider.MultiAdder)
		_, isP := inner.(provider.PatternDeleter)
		_, isC := inner.(provider.Counter)
		_, isG := inner.(provider.MultiGetAdder)
		_, isS := inner.(provider.MultiSwapper)
		t.Run(fmt.Sprintf("Batcher=%v MultiAdder=%v PatternDeleter=%v Counter=%v MultiGetAdder=%v MultiSwapper=%v", isB, isA, isP, isC, isG, isS), func(t *testing.T) {
			p, b, _ := wrap(t, inner, circuit.Options{Failures: 1, CoolDown: time.Hour})
			u, ok := p.(interface{ Unwrap() provider.Provider })
			require.True(t, ok)
			require.Equal(t, inner, u.Unwrap())

			f.answer(nil)
			ctx := t.Context()
			require.NoError(t, p.(provider.Batcher).SetMulti(ctx, []provider.Item{{Key: "a"}, {Key: "b"}}))
			_, err := p.(provider.MultiAdder).AddMulti(ctx, []provider.Item{{Key: "a"}, {Key: "b"}})
			require.NoError(t, err)
			got, err := p.(provider.MultiGetAdder).GetAddMulti(ctx, []provider.Fetch{{Key: "a", Add: []byte("1")}, {Key: "b"}})
			require.NoError(t, err)
			require.Len(t, got, 2)
			swapped, err := p.(provider.MultiSwapper).CompareAndSwapMulti(ctx, []provider.Swap{{Key: "a"}, {Key: "b"}})
			require.NoError(t, err)
			require.Len(t, swapped, 2)
			_, err = p.(provider.PatternDeleter).DeletePattern(ctx, "a*")
			if isP {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, provider.ErrNotSupported)
			}
			_, err = p.(provider.Counter).Len(ctx)
			if isC {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, provider.ErrNotSupported)
			}
			for name, call := range calls(p, ctx) {
				err := call()
				if errors.Is(err, provider.ErrNotSupported) {
					continue
				}
				require.NoError(t, err, name)
			}
			f.answer(errDown)
			require.ErrorIs(t, p.Ping(ctx), errDown)
			require.Equal(t, circuit.Open, b.State())
			reached := f.calls.Load()
			for name, call := range calls(p, ctx) {
				err := call()
				if errors.Is(err, provider.ErrNotSupported) {
					continue
				}
				require.ErrorIs(t, err, provider.ErrUnavailable, name)
			}
			require.Equal(t, reached, f.calls.Load())
		})
	}
}

// OnStateChange runs outside the breaker's lock: a callback that asks the
// breaker for its state, which gobreaker's own hook could not, returns.
func TestOnStateChangeMayCallTheBreaker(t *testing.T) {
	f := &fake{}
	var (
		b    *circuit.Breaker
		seen []string
	)
	p, b, err := circuit.Wrap(f, circuit.Options{
		Failures: 1,
		CoolDown: time.Millisecond,
		OnStateChange: func(from, to circuit.State) {
			seen = append(seen, fmt.Sprintf("%v -> %v (State %v, Opens %d)", from, to, b.State(), b.Stats().Opens))
		},
	})
	require.NoError(t, err)
	defer p.Close()

	done := make(chan struct{})
	go func() {
		defer close(done)
		f.answer(errDown)
		_, _ = p.Get(context.Background(), "k")
		time.Sleep(5 * time.Millisecond)
		f.answer(nil)
		_, _ = p.Get(context.Background(), "k")
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("a callback that called the breaker deadlocked")
	}
	require.Equal(t, []string{
		"closed -> open (State open, Opens 1)",
		"open -> half-open (State half-open, Opens 1)",
		"half-open -> closed (State closed, Opens 1)",
	}, seen)
}

// Many callers race through a store that keeps failing and recovering, in
// real time: transitions must arrive as one unbroken chain, one at a time,
// and every call must either reach the store or be counted as refused.
func TestConcurrentCallersSeeConsistentTransitions(t *testing.T) {
	f := &fake{}
	var (
		mu       sync.Mutex
		chain    []circuit.State
		inside   atomic.Int32
		overlaps atomic.Int32
		opens    int
	)
	p, b, err := circuit.Wrap(f, circuit.Options{
		Failures: 3,
		CoolDown: 2 * time.Millisecond,
		Probes:   2,
		OnStateChange: func(from, to circuit.State) {
			if inside.Add(1) != 1 {
				overlaps.Add(1)
			}
			defer inside.Add(-1)
			mu.Lock()
			defer mu.Unlock()
			prev := circuit.Closed
			if len(chain) > 0 {
				prev = chain[len(chain)-1]
			}
			if from != prev {
				t.Errorf("transition %v -> %v after the circuit was %v", from, to, prev)
			}
			chain = append(chain, to)
			if to == circuit.Open {
				opens++
			}
		},
	})
	require.NoError(t, err)
	defer p.Close()

	start := time.Now()
	f.do(func(context.Context) error {
		// The store alternates between down and up every 3 ms.
		if time.Since(start)/(3*time.Millisecond)%2 == 0 {
			return errDown
		}
		return nil
	})
	const goroutines, perGoroutine = 8, 2000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
				_, err := p.Get(context.Background(), "k")
				if err != nil && !errors.Is(err, errDown) && !errors.Is(err, provider.ErrUnavailable) {
					t.Errorf("unexpected error %v", err)
				}
			}
		})
	}
	wg.Wait()

	s := b.Stats()
	require.Zero(t, overlaps.Load(), "OnStateChange ran concurrently with itself")
	mu.Lock()
	defer mu.Unlock()
	require.Positive(t, opens, "the store was down for 3 ms at a time: the circuit must have opened")
	require.Equal(t, int64(opens), s.Opens)
	t.Logf("%d transitions, %d opens, %d calls reached the store, %d refused", len(chain), opens, f.calls.Load(), s.Rejected)
	require.Equal(t, int64(goroutines*perGoroutine), f.calls.Load()+s.Rejected,
		"every call either reached the store or was refused")
}

func TestStateNamesAndJSON(t *testing.T) {
	require.Equal(t, "closed", circuit.Closed.String())
	require.Equal(t, "half-open", circuit.HalfOpen.String())
	require.Equal(t, "open", circuit.Open.String())
	require.Equal(t, "circuit.State(7)", circuit.State(7).String())
	js, err := json.Marshal(circuit.Stats{State: circuit.HalfOpen, Opens: 2, Rejected: 30})
	require.NoError(t, err)
	require.JSONEq(t, `{"state":"half-open","opens":2,"rejected":30}`, string(js))
	var back circuit.Stats
	require.NoError(t, json.Unmarshal(js, &back))
	require.Equal(t, circuit.Stats{State: circuit.HalfOpen, Opens: 2, Rejected: 30}, back)
	require.Error(t, json.Unmarshal([]byte(`{"state":"ajar"}`), &back))
}

// With the default options and a store whose calls hang until the adapter's
// own 250 ms timeout (provider/redis's default), the first call after the
// store comes back succeeds within 2 s, wherever in the breaker's
// open/probe cycle it comes back; during the outage only a few calls reach
// the store.
func TestTheFirstCallAfterTheStoreReturnsSucceedsWithinTwoSeconds(t *testing.T) {
	const storeTimeout = 250 * time.Millisecond
	for offset := time.Duration(0); offset < 1500*time.Millisecond; offset += 37 * time.Millisecond {
		t.Run(fmt.Sprintf("back %v into the cycle", offset), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fake{}
				var up atomic.Bool
				f.do(func(ctx context.Context) error {
					if up.Load() {
						return nil
					}
					ctx, cancel := context.WithTimeout(ctx, storeTimeout)
					defer cancel()
					<-ctx.Done()
					return fmt.Errorf("redis: %w", ctx.Err())
				})
				p, _, _ := wrap(t, f, circuit.Options{})
				start := time.Now()
				var firstOK, total atomic.Int64
				stop := make(chan struct{})
				var wg sync.WaitGroup
				for range 4 { // four callers, each calling every 10 ms
					wg.Go(func() {
						for {
							select {
							case <-stop:
								return
							default:
							}
							total.Add(1)
							if _, err := p.Get(t.Context(), "k"); err == nil {
								firstOK.CompareAndSwap(0, int64(time.Since(start)))
							}
							time.Sleep(10 * time.Millisecond)
						}
					})
				}
				time.Sleep(3*time.Second + offset)
				back := time.Since(start)
				reached, calls := f.calls.Load(), total.Load()
				up.Store(true)
				time.Sleep(3 * time.Second)
				close(stop)
				wg.Wait()

				require.NotZero(t, firstOK.Load(), "no call succeeded after the store came back")
				recovery := time.Duration(firstOK.Load()) - back
				require.GreaterOrEqual(t, recovery, time.Duration(0), "a call succeeded during the outage")
				require.Less(t, recovery, 2*time.Second)
				t.Logf("recovered %v after the store came back; %d of %d calls reached the store during the outage", recovery, reached, calls)
				// 4 callers during the first timeout, then about one probe
				// per cool-down plus timeout.
				require.LessOrEqual(t, reached, int64(16), "calls that reached the store during the outage, of %d", calls)
			})
		})
	}
}
