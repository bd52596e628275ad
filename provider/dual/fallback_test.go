package dual_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
	"github.com/aside-go/aside/provider/dual"
	"github.com/aside-go/aside/provider/memory"
)

func TestFallbackAnswersTheCallThatFindsThePrimaryDown(t *testing.T) {
	ctx := context.Background()
	primary := newFaulty(newMemory(t, 0))
	f := fallback(t, primary, dual.FallbackOptions{PrimaryName: "redis", SecondaryName: "memory"})
	require.NoError(t, f.Set(ctx, "k", []byte("on the primary"), 0))
	require.Equal(t, dual.Primary, f.State())

	primary.down.Store(true)
	require.NoError(t, f.Set(ctx, "k", []byte("during the outage"), 0), "no caller sees the primary's failure")
	require.Equal(t, dual.Secondary, f.State())
	v, err := f.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "during the outage", string(v))
	before := primary.calls.Load()
	for range 100 {
		_, _ = f.Get(ctx, "k")
	}
	require.Less(t, primary.calls.Load()-before, int64(10), "during the outage callers do not call the primary (only the reconciler's probes)")

	s := f.Stats()
	require.Equal(t, "fallback", s.Mode)
	require.EqualValues(t, 1, s.Outages)
	require.GreaterOrEqual(t, s.Served, int64(102))
	require.Equal(t, "redis", s.Primary.Name)
	require.Equal(t, "memory", s.Secondary.Name)
	require.EqualValues(t, 1, s.Primary.Errors)
	require.Equal(t, 1, s.Journal.Keys, "the Set made during the outage is journaled")
	require.Equal(t, circuit.Open, s.Breaker.State)

	primary.down.Store(false)
	eventually(t, 5*time.Second, func() bool { return f.State() == dual.Primary }, "the primary never served again")
	v, err = f.Get(ctx, "k")
	require.ErrorIs(t, err, provider.ErrNotFound, "the primary's old value was deleted by the replay, got %q", v)
	s = f.Stats()
	require.Zero(t, s.Journal.Keys)
	require.EqualValues(t, 1, s.Journal.Replays)
	require.EqualValues(t, 1, s.Journal.Replayed)
	require.Positive(t, s.LastOutage)
	require.Positive(t, s.LastReconcile)
}

// TestFallbackInvalidationDuringAnOutageIsNotLost is the hard part of the
// design, step by step: an entry cached on the primary, the primary down,
// an invalidation served by the secondary, the primary back with the old
// entry still in it.
func TestFallbackInvalidationDuringAnOutageIsNotLost(t *testing.T) {
	for _, inv := range []struct {
		name       string
		invalidate func(context.Context, *aside.Cache) error
	}{
		{"InvalidateTags", func(ctx context.Context, c *aside.Cache) error { return c.InvalidateTags(ctx, "product:1") }},
		{"Delete", func(ctx context.Context, c *aside.Cache) error { return c.Delete(ctx, "product") }},
		{"InvalidatePattern", func(ctx context.Context, c *aside.Cache) error {
			_, err := c.InvalidatePattern(ctx, "prod*")
			return err
		}},
	} {
		for _, tc := range []struct {
			name      string
			bug       bool
			wantFresh bool
		}{
			{"is replayed on the primary before it serves again", false, true},
			{"would be lost without the replay (the bug this test exists to catch)", true, false},
		} {
			t.Run(inv.name+" "+tc.name, func(t *testing.T) {
				ctx := context.Background()
				primary := newFaulty(newMemory(t, 0))
				f := fallback(t, primary, dual.FallbackOptions{})
				if tc.bug {
					dual.SkipReplay(f)
				}
				c, err := aside.New(aside.Options{Provider: f})
				require.NoError(t, err)
				defer c.Close()
				var version atomic.Int64
				version.Store(1)
				read := func() int64 {
					v, err := aside.Remember(ctx, c, "product", func(context.Context) (int64, error) {
						return version.Load(), nil
					}, aside.Tags("product:1"), aside.TTL(time.Hour))
					require.NoError(t, err)
					return v
				}
				require.EqualValues(t, 1, read())
				require.EqualValues(t, 1, read(), "cached on the primary")

				primary.down.Store(true)
				version.Store(2)
				require.NoError(t, inv.invalidate(ctx, c), "the invalidation succeeds during the outage")
				require.EqualValues(t, 2, read(), "and the secondary serves the new value at once")
				require.Equal(t, dual.Secondary, f.State())

				primary.down.Store(false)
				eventually(t, 5*time.Second, func() bool { return f.State() == dual.Primary }, "the primary never served again")
				got := read()
				if tc.wantFresh {
					require.EqualValues(t, 2, got, "a stale read after the primary came back")
				} else {
					require.EqualValues(t, 1, got, "without the replay the primary's old entry comes back")
				}
			})
		}
	}
}

// TestFallbackInvalidationReachesOtherProcessesWhenThePrimaryReturns: two
// processes share a Redis; one loses it (a partition) and invalidates
// meanwhile. The other may serve the old value until the first has
// reconciled (the documented window), and never after.
func TestFallbackInvalidationReachesOtherProcessesWhenThePrimaryReturns(t *testing.T) {
	ctx := context.Background()
	srv := ownServer(t)
	cutOff := newFaulty(redisOn(t, srv))
	fa := fallback(t, cutOff, dual.FallbackOptions{})
	fb := fallback(t, redisOn(t, srv), dual.FallbackOptions{})
	a, err := aside.New(aside.Options{Provider: fa, Namespace: "xproc"})
	require.NoError(t, err)
	defer a.Close()
	b, err := aside.New(aside.Options{Provider: fb, Namespace: "xproc"})
	require.NoError(t, err)
	defer b.Close()
	var version atomic.Int64
	version.Store(1)
	read := func(c *aside.Cache) int64 {
		v, err := aside.Remember(ctx, c, "product", func(context.Context) (int64, error) {
			return version.Load(), nil
		}, aside.Tags("product:1"), aside.TTL(time.Hour))
		require.NoError(t, err)
		return v
	}
	require.EqualValues(t, 1, read(b))

	cutOff.down.Store(true)
	version.Store(2)
	require.NoError(t, a.InvalidateTags(ctx, "product:1"))
	require.EqualValues(t, 2, read(a))
	require.EqualValues(t, 1, read(b), "the other process cannot know yet: the documented window")

	cutOff.down.Store(false)
	eventually(t, 5*time.Second, func() bool { return fa.State() == dual.Primary }, "process a never reconciled")
	require.EqualValues(t, 2, read(b), "the invalidation made during the outage reached the other process")
}

func TestFallbackJournalOverflowDeletesTheScope(t *testing.T) {
	ctx := context.Background()
	primary := newFaulty(newMemory(t, 0))
	f := fallback(t, primary, dual.FallbackOptions{Scope: "app:*", JournalBytes: 1 << 10})
	for _, k := range []string{"app:a", "app:b", "other:c"} {
		require.NoError(t, f.Set(ctx, k, []byte("old"), 0))
	}
	primary.down.Store(true)
	for i := range 100 {
		require.NoError(t, f.Set(ctx, fmt.Sprintf("app:new:%d", i), []byte("v"), 0))
	}
	s := f.Stats()
	require.True(t, s.Journal.Overflowed)
	require.LessOrEqual(t, s.Journal.Bytes, 1<<10)
	require.EqualValues(t, 1, s.Journal.Overflows)

	primary.down.Store(false)
	eventually(t, 5*time.Second, func() bool { return f.State() == dual.Primary }, "the primary never served again")
	for _, k := range []string{"app:a", "app:b"} {
		_, err := f.Get(ctx, k)
		require.ErrorIs(t, err, provider.ErrNotFound, "%s is in the scope: deleted", k)
	}
	v, err := f.Get(ctx, "other:c")
	require.NoError(t, err, "keys outside the scope are left alone")
	require.Equal(t, "old", string(v))
	require.False(t, f.Stats().Journal.Overflowed)
}

func TestFallbackUsesAFreshSecondaryForEachOutage(t *testing.T) {
	ctx := context.Background()
	primary := newFaulty(newMemory(t, 0))
	var made, closed atomic.Int64
	f := fallback(t, primary, dual.FallbackOptions{NewSecondary: func() (provider.Provider, error) {
		made.Add(1)
		return &closeCounter{Provider: newMemory(t, 0), closed: &closed}, nil
	}})
	primary.down.Store(true)
	_, _, err := f.Add(ctx, "k", []byte("first outage"), 0)
	require.NoError(t, err)
	primary.down.Store(false)
	eventually(t, 5*time.Second, func() bool { return f.State() == dual.Primary }, "the primary never served again")
	eventually(t, time.Second, func() bool { return closed.Load() == 1 }, "the first secondary was not closed")

	primary.down.Store(true)
	_, err = f.Get(ctx, "k") // fails over, to a new store
	require.ErrorIs(t, err, provider.ErrNotFound, "nothing survives from an earlier outage")
	require.EqualValues(t, 2, made.Load())
}

type closeCounter struct {
	provider.Provider
	closed *atomic.Int64
}

func (c *closeCounter) Close() error {
	c.closed.Add(1)
	return c.Provider.Close()
}

func TestFallbackReportsStateChangesInOrder(t *testing.T) {
	ctx := context.Background()
	primary := newFaulty(newMemory(t, 0))
	var mu sync.Mutex
	var seen []string
	f := fallback(t, primary, dual.FallbackOptions{OnStateChange: func(from, to dual.State) {
		mu.Lock()
		seen = append(seen, from.String()+"->"+to.String())
		mu.Unlock()
	}})
	for range 3 {
		primary.down.Store(true)
		require.NoError(t, f.Set(ctx, "k", []byte("v"), 0))
		primary.down.Store(false)
		eventually(t, 5*time.Second, func() bool { return f.State() == dual.Primary }, "the primary never served again")
	}
	mu.Lock()
	defer mu.Unlock()
	want := strings.Repeat("primary->secondary secondary->reconciling reconciling->primary ", 3)
	require.Equal(t, strings.TrimSpace(want), strings.Join(seen, " "))
}

func TestFallbackCloseDuringAnOutageLogsWhatItCouldNotReplay(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	primary := newFaulty(newMemory(t, 0))
	f, err := dual.NewFallback(primary, dual.FallbackOptions{
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		Breaker: circuit.Options{CoolDown: time.Hour},
	})
	require.NoError(t, err)
	primary.down.Store(true)
	require.NoError(t, f.Set(ctx, "user:42:secret-token", []byte("v"), 0))
	_, err = f.Delete(ctx, "a", "b")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, f.Close(), "Close is idempotent")
	out := logs.String()
	require.Contains(t, out, "could not be replayed")
	require.Contains(t, out, "keys=3")
	require.NotContains(t, out, "secret-token", "keys never reach the log")
	require.ErrorIs(t, f.Ping(ctx), provider.ErrClosed)
}

func TestFallbackCloseDeliversTheJournalWhenThePrimaryIsBack(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, 0)
	primary := newFaulty(keepOpen{m})
	f, err := dual.NewFallback(primary, dual.FallbackOptions{Breaker: circuit.Options{CoolDown: time.Hour}})
	require.NoError(t, err)
	require.NoError(t, f.Set(ctx, "k", []byte("old"), 0))
	primary.down.Store(true)
	_, err = f.Delete(ctx, "k")
	require.NoError(t, err)
	// The primary returns, and Close comes before the reconciler's probe
	// (an hour away).
	primary.down.Store(false)
	require.NoError(t, f.Close())
	_, err = m.Get(ctx, "k")
	require.ErrorIs(t, err, provider.ErrNotFound, "Close replayed the Delete made during the outage")
}

// keepOpen hides a store's Close, so that a test can look into it after
// the composite that owns it is closed.
type keepOpen struct{ *memory.Provider }

func (keepOpen) Close() error { return nil }

func TestFallbackOptions(t *testing.T) {
	m := newMemory(t, 0)
	for _, tc := range []struct {
		name    string
		primary provider.Provider
		o       dual.FallbackOptions
		want    string
	}{
		{"a nil primary", nil, dual.FallbackOptions{}, "nil"},
		{"a primary that cannot delete by pattern", struct{ provider.Provider }{m}, dual.FallbackOptions{}, "PatternDeleter"},
		{"a negative journal bound", m, dual.FallbackOptions{JournalBytes: -1}, "JournalBytes"},
		{"a bad breaker", m, dual.FallbackOptions{Breaker: circuit.Options{CoolDown: -1}}, "Breaker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dual.NewFallback(tc.primary, tc.o)
			require.ErrorIs(t, err, dual.ErrInvalidOptions)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestFallbackWithoutASecondaryReturnsThePrimarysErrors(t *testing.T) {
	ctx := context.Background()
	primary := newFaulty(newMemory(t, 0))
	f := fallback(t, primary, dual.FallbackOptions{NewSecondary: func() (provider.Provider, error) {
		return nil, errors.New("out of memory")
	}})
	primary.down.Store(true)
	_, err := f.Get(ctx, "k")
	require.ErrorIs(t, err, errDown)
	require.Equal(t, dual.Primary, f.State())
}

func TestStatsOfFindsTheCompositeUnderTheCachesBreaker(t *testing.T) {
	f := fallback(t, newMemory(t, 0), dual.FallbackOptions{})
	c, err := aside.New(aside.Options{Provider: f})
	require.NoError(t, err)
	defer c.Close()
	_, _, err = aside.Get[string](context.Background(), c, "k")
	require.NoError(t, err)
	s, ok := dual.StatsOf(c.Provider())
	require.True(t, ok)
	require.Equal(t, "fallback", s.Mode)
	require.EqualValues(t, 1, s.Primary.Reads)
	_, ok = dual.StatsOf(newMemory(t, 0))
	require.False(t, ok)
}

// TestFallbackCallbacksMayReadStats: the breaker's callback runs in the
// goroutine of the call that moved the circuit, the reconciler's replay
// included; an alert hook reading Stats there must not deadlock.
func TestFallbackCallbacksMayReadStats(t *testing.T) {
	ctx := context.Background()
	primary := newFaulty(newMemory(t, 0))
	var f *dual.Fallback
	var ready atomic.Bool
	var reads atomic.Int64
	hook := func() {
		if ready.Load() {
			_ = f.Stats()
			reads.Add(1)
		}
	}
	f = fallback(t, primary, dual.FallbackOptions{
		Breaker:       circuit.Options{CoolDown: 2 * time.Millisecond, OnStateChange: func(_, _ circuit.State) { hook() }},
		OnStateChange: func(_, _ dual.State) { hook() },
	})
	ready.Store(true)
	primary.down.Store(true)
	require.NoError(t, f.Set(ctx, "k", []byte("v"), time.Minute))
	// The primary answers its probe, then fails the replay: the circuit
	// opens inside the reconciler's last round.
	primary.readOnly.Store(true)
	primary.down.Store(false)
	eventually(t, 5*time.Second, func() bool { return f.Stats().Breaker.Opens >= 2 }, "the replay never failed")
	require.NotEqual(t, dual.Primary, f.State(), "a failed replay keeps the secondary serving")
	primary.readOnly.Store(false)
	eventually(t, 5*time.Second, func() bool { return f.State() == dual.Primary }, "the primary never served again")
	require.Positive(t, reads.Load())
}
