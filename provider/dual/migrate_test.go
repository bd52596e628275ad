package dual_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
	"github.com/aside-go/aside/provider/dual"
	"github.com/aside-go/aside/provider/memory"
)

func TestMigratorWritesBothAndReadsThePrimary(t *testing.T) {
	ctx := context.Background()
	p, s := newMemory(t, 0), newMemory(t, 0)
	m := migrator(t, p, s, dual.MigrateOptions{})
	require.NoError(t, m.Set(ctx, "a", []byte("1"), 0))
	require.NoError(t, m.SetMulti(ctx, []provider.Item{{Key: "b", Value: []byte("2")}}))
	_, _, err := m.Add(ctx, "c", []byte("3"), 0)
	require.NoError(t, err)
	ok, err := m.CompareAndSwap(ctx, "c", []byte("3"), []byte("4"), 0)
	require.NoError(t, err)
	require.True(t, ok)
	for _, store := range []provider.Provider{p, s} {
		vals, err := store.GetMulti(ctx, []string{"a", "b", "c"})
		require.NoError(t, err)
		require.Equal(t, [][]byte{[]byte("1"), []byte("2"), []byte("4")}, vals, "both stores took every write")
	}
	_, err = p.Delete(ctx, "a") // the primary evicts it
	require.NoError(t, err)
	_, err = m.Get(ctx, "a")
	require.ErrorIs(t, err, provider.ErrNotFound, "without ReadThrough only the primary answers")

	n, err := m.Delete(ctx, "b", "c")
	require.NoError(t, err)
	require.Equal(t, 2, n)
	n, err = m.DeletePattern(ctx, "*")
	require.NoError(t, err)
	require.Zero(t, n, "the primary's count")
	l, err := s.Len(ctx)
	require.NoError(t, err)
	require.Zero(t, l, "the secondary took the deletes too")
}

// TestMigratorKeepsMissedWritesFromReadThrough: a Delete the secondary
// missed leaves its old value there; a read that misses on the primary must
// not be answered with it before the journal is replayed.
func TestMigratorKeepsMissedWritesFromReadThrough(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bug   bool
		stale bool
	}{
		{"a key the secondary missed is not read through until replayed", false, false},
		{"reading it through anyway serves the deleted value (the bug this test exists to catch)", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			p, s := newMemory(t, 0), newFaulty(newMemory(t, 0))
			m := migrator(t, p, s, dual.MigrateOptions{ReadThrough: true, Breaker: circuit.Options{Failures: 1000}})
			if tc.bug {
				dual.TrustSecondary(m)
			}
			require.NoError(t, m.Set(ctx, "k", []byte("old"), 0))
			require.NoError(t, m.Set(ctx, "j", []byte("old"), 0))
			// The secondary refuses writes but answers reads: the Deletes
			// and the replays fail, the read-throughs would not.
			s.readOnly.Store(true)
			_, err := m.Delete(ctx, "k")
			require.NoError(t, err, "the primary took it: the write succeeds")
			_, err = m.DeletePattern(ctx, "j*")
			require.NoError(t, err)
			js := m.Stats().Journal
			require.Equal(t, 1, js.Keys)
			require.Equal(t, 1, js.Patterns)

			for _, key := range []string{"k", "j"} {
				v, err := m.Get(ctx, key)
				vals, merr := m.GetMulti(ctx, []string{key})
				require.NoError(t, merr)
				if tc.stale {
					require.NoError(t, err)
					require.Equal(t, "old", string(v))
					require.Equal(t, "old", string(vals[0]))
					continue
				}
				require.ErrorIs(t, err, provider.ErrNotFound, "%s: got %q", key, v)
				require.Nil(t, vals[0])
			}
			if tc.bug {
				return
			}
			s.readOnly.Store(false)
			eventually(t, 5*time.Second, func() bool { return m.Stats().Journal.Keys+m.Stats().Journal.Patterns == 0 }, "the journal was never replayed")
			for _, key := range []string{"k", "j"} {
				_, err := s.Get(ctx, key)
				require.ErrorIs(t, err, provider.ErrNotFound, "the replay deleted %s on the secondary", key)
			}
		})
	}
}

func TestMigratorBackfillsAnInProcessPrimary(t *testing.T) {
	ctx := context.Background()
	p, s := newMemory(t, 0), newMemory(t, 0)
	m := migrator(t, p, s, dual.MigrateOptions{ReadThrough: true, BackfillTTL: 100 * time.Millisecond})
	require.NoError(t, s.Set(ctx, "k", []byte("from the old store"), 0))
	v, err := m.Get(ctx, "k")
	require.NoError(t, err)
	require.Equal(t, "from the old store", string(v))
	v, err = p.Get(ctx, "k")
	require.NoError(t, err, "backfilled")
	require.Equal(t, "from the old store", string(v))
	eventually(t, 5*time.Second, func() bool {
		_, err := p.Get(ctx, "k")
		return err != nil
	}, "the backfilled copy outlived BackfillTTL")
	st := m.Stats()
	require.EqualValues(t, 1, st.ReadThroughs)
	require.EqualValues(t, 1, st.ReadThroughHits)
	require.EqualValues(t, 1, st.Backfills)
}

func TestMigratorDoesNotBackfillASharedPrimary(t *testing.T) {
	ctx := context.Background()
	p, s := newFaulty(newMemory(t, 0)), newFaulty(newMemory(t, 0)) // neither is a *memory.Provider
	m := migrator(t, p, s, dual.MigrateOptions{ReadThrough: true})
	require.NoError(t, s.p.Set(ctx, "k", []byte("v"), 0))
	vals, err := m.GetMulti(ctx, []string{"k", "missing"})
	require.NoError(t, err)
	require.Equal(t, "v", string(vals[0]), "read through")
	require.Nil(t, vals[1])
	_, err = p.p.Get(ctx, "k")
	require.ErrorIs(t, err, provider.ErrNotFound, "not backfilled")
	require.Zero(t, m.Stats().Backfills)
}

func TestMigratorShadowReadsCompareBothStores(t *testing.T) {
	ctx := context.Background()
	p, s := newMemory(t, 0), newMemory(t, 0)
	m := migrator(t, p, s, dual.MigrateOptions{ShadowReads: 1, PrimaryName: "memory", SecondaryName: "redis"})
	require.NoError(t, m.Set(ctx, "both", []byte("v"), 0))
	require.NoError(t, p.Set(ctx, "primary only", []byte("v"), 0))
	for range 10 {
		_, _ = m.Get(ctx, "both")
		_, _ = m.GetMulti(ctx, []string{"both", "primary only"})
	}
	st := m.Stats()
	require.Equal(t, "migrate", st.Mode)
	require.EqualValues(t, 20, st.ShadowReads)
	require.Equal(t, "memory", st.Primary.Name)
	require.Equal(t, "redis", st.Secondary.Name)
	require.EqualValues(t, 30, st.Primary.Reads)
	require.EqualValues(t, 30, st.Primary.Hits)
	require.EqualValues(t, 30, st.Secondary.Reads)
	require.EqualValues(t, 20, st.Secondary.Hits)
	require.InDelta(t, 1, st.Primary.HitRate(), 1e-9)
	require.InDelta(t, 2.0/3, st.Secondary.HitRate(), 1e-9)
	require.Positive(t, st.Secondary.Latency.Count)
	require.Zero(t, st.Breaker.State, "an in-process secondary has no breaker")
}

func TestMigratorJournalOverflowDeletesTheScopeOnTheSecondary(t *testing.T) {
	ctx := context.Background()
	p, s := newMemory(t, 0), newFaulty(newMemory(t, 0))
	m := migrator(t, p, s, dual.MigrateOptions{ReadThrough: true, Scope: "app:*", JournalBytes: 512, Breaker: fastBreaker})
	require.NoError(t, m.Set(ctx, "app:a", []byte("v"), 0))
	require.NoError(t, m.Set(ctx, "other", []byte("v"), 0))
	s.down.Store(true)
	for i := range 50 {
		require.NoError(t, m.Set(ctx, "app:"+string(rune('b'+i)), []byte("v"), 0))
	}
	require.True(t, m.Stats().Journal.Overflowed)
	_, err := p.Delete(ctx, "app:a")
	require.NoError(t, err)
	_, err = m.Get(ctx, "app:a")
	require.ErrorIs(t, err, provider.ErrNotFound, "an overflowed journal trusts no key of the secondary")
	s.down.Store(false)
	eventually(t, 5*time.Second, func() bool { return !m.Stats().Journal.Overflowed }, "the overflow was never replayed")
	_, err = s.p.Get(ctx, "app:a")
	require.ErrorIs(t, err, provider.ErrNotFound, "the scope was deleted on the secondary")
	_, err = s.p.Get(ctx, "other")
	require.NoError(t, err, "keys outside the scope are left alone")
}

func TestMigratorCloseLogsAJournalItCouldNotDeliver(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	s := newFaulty(newMemory(t, 0))
	m, err := dual.NewMigrator(newMemory(t, 0), s, dual.MigrateOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	s.down.Store(true)
	require.NoError(t, m.Set(ctx, "session:secret-token", []byte("v"), 0))
	require.NoError(t, m.Close())
	require.NoError(t, m.Close())
	require.Contains(t, logs.String(), "missed a write")
	require.Contains(t, logs.String(), "keys=1")
	require.NotContains(t, logs.String(), "secret-token")
	require.ErrorIs(t, m.Set(ctx, "k", nil, 0), provider.ErrClosed)
}

func TestMigratorOptions(t *testing.T) {
	mem := newMemory(t, 0)
	shared := newFaulty(newMemory(t, 0))
	for _, tc := range []struct {
		name               string
		primary, secondary provider.Provider
		o                  dual.MigrateOptions
		want               string
	}{
		{"a nil store", mem, nil, dual.MigrateOptions{}, "nil"},
		{"the same store twice", mem, mem, dual.MigrateOptions{}, "same store"},
		{"reading an in-process secondary through under a shared primary", shared, mem, dual.MigrateOptions{ReadThrough: true}, "ReadThrough"},
		{"a secondary that cannot delete by pattern", mem, struct{ provider.Provider }{shared}, dual.MigrateOptions{}, "PatternDeleter"},
		{"a negative backfill TTL", mem, shared, dual.MigrateOptions{BackfillTTL: -1}, "BackfillTTL"},
		{"a shadow share above 1", mem, shared, dual.MigrateOptions{ShadowReads: 1.5}, "ShadowReads"},
		{"a shadow share that is not a number", mem, shared, dual.MigrateOptions{ShadowReads: math.NaN()}, "ShadowReads"},
		{"a negative journal bound", mem, shared, dual.MigrateOptions{JournalBytes: -1}, "JournalBytes"},
		{"a bad breaker", mem, shared, dual.MigrateOptions{Breaker: circuit.Options{Failures: -1}}, "Breaker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dual.NewMigrator(tc.primary, tc.secondary, tc.o)
			require.ErrorIs(t, err, dual.ErrInvalidOptions)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// stalled is an in-process store whose next Set waits until released, to
// hold a write between the two stores.
type stalled struct {
	*memory.Provider
	armed   atomic.Bool
	reached chan struct{}
	release chan struct{}
}

func newStalled(t testing.TB) *stalled {
	return &stalled{Provider: newMemory(t, 0), reached: make(chan struct{}), release: make(chan struct{})}
}

func (s *stalled) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if s.armed.CompareAndSwap(true, false) {
		close(s.reached)
		<-s.release
	}
	return s.Provider.Set(ctx, key, v, ttl)
}

// TestMigratorKeepsTheOrderOfWritesOfAKey: a second write of a key waits
// for the first to reach both stores, so the secondary never ends with the
// older value (for a tag record: the version of an earlier invalidation).
func TestMigratorKeepsTheOrderOfWritesOfAKey(t *testing.T) {
	ctx := context.Background()
	p, s := newMemory(t, 0), newStalled(t)
	m := migrator(t, p, s, dual.MigrateOptions{})
	s.armed.Store(true)
	first := make(chan error, 1)
	go func() { first <- m.Set(ctx, "tag", []byte("first invalidation"), 0) }()
	<-s.reached // the first write reached the primary, not yet the secondary
	second := make(chan error, 1)
	go func() { second <- m.Set(ctx, "tag", []byte("second invalidation"), 0) }()
	time.Sleep(20 * time.Millisecond)
	v, err := p.Get(ctx, "tag")
	require.NoError(t, err)
	require.Equal(t, "first invalidation", string(v), "the second write waits for the first to reach both stores")
	close(s.release)
	require.NoError(t, <-first)
	require.NoError(t, <-second)
	for _, store := range []provider.Provider{p, s.Provider} {
		v, err := store.Get(ctx, "tag")
		require.NoError(t, err)
		require.Equal(t, "second invalidation", string(v))
	}
}

// TestMigratorJournalsWritesThatOverlapADeletePattern: a DeletePattern
// takes no lock, so a write it overlapped may reach the secondary after it;
// the write's keys are journaled and deleted there.
func TestMigratorJournalsWritesThatOverlapADeletePattern(t *testing.T) {
	ctx := context.Background()
	p, s := newMemory(t, 0), newStalled(t)
	m := migrator(t, p, s, dual.MigrateOptions{ReadThrough: true})
	s.armed.Store(true)
	done := make(chan error, 1)
	go func() { done <- m.Set(ctx, "user:1", []byte("written before the pattern, on the primary"), 0) }()
	<-s.reached
	_, err := m.DeletePattern(ctx, "user:*") // deletes it from the primary, and from the secondary (not there yet)
	require.NoError(t, err)
	close(s.release) // the Set now lands on the secondary, after the DeletePattern
	require.NoError(t, <-done)
	_, err = m.Get(ctx, "user:1")
	require.ErrorIs(t, err, provider.ErrNotFound, "neither the primary nor a read-through serves it")
	eventually(t, 5*time.Second, func() bool {
		_, err := s.Provider.Get(ctx, "user:1")
		return errors.Is(err, provider.ErrNotFound)
	}, "the write that overlapped the DeletePattern stayed on the secondary")
}
