package dual

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
)

func TestJournal(t *testing.T) {
	t.Run("it records keys once and charges each its bytes plus the overhead", func(t *testing.T) {
		j := newJournal(1 << 10)
		j.add("a", "bb", "a")
		s := j.stats()
		require.Equal(t, 2, s.Keys)
		require.Equal(t, 3+2*recordOverhead, s.Bytes)
		require.True(t, j.has("a"))
		require.False(t, j.has("c"))
	})
	t.Run("it skips keys no store accepts, which could never be replayed", func(t *testing.T) {
		j := newJournal(1 << 20)
		j.add("", strings.Repeat("k", provider.MaxKeyLen+1))
		require.True(t, j.empty())
	})
	t.Run("a pattern covers the keys it matches", func(t *testing.T) {
		j := newJournal(1 << 10)
		j.addPattern("user:*")
		require.True(t, j.has("user:42"))
		require.False(t, j.has("order:1"))
	})
	t.Run("it overflows past its bound: keys are forgotten and every key is suspect", func(t *testing.T) {
		j := newJournal(3 * (recordOverhead + 2))
		j.add("k1", "k2", "k3")
		require.False(t, j.stats().Overflowed)
		j.add("k4")
		s := j.stats()
		require.True(t, s.Overflowed)
		require.Zero(t, s.Keys)
		require.Zero(t, s.Bytes)
		require.EqualValues(t, 1, s.Overflows)
		require.True(t, j.has("never-recorded"))
		j.add("k5") // nothing more is held while overflowed
		require.Zero(t, j.stats().Bytes)
	})
	t.Run("a taken batch stays suspect until done, and new records go beside it", func(t *testing.T) {
		j := newJournal(1 << 10)
		j.add("a")
		b := j.take()
		require.NotNil(t, b)
		require.Nil(t, j.take(), "one batch at a time")
		require.True(t, j.has("a"), "a key being replayed may still be stale")
		j.add("b")
		require.False(t, j.empty())
		j.done()
		require.False(t, j.has("a"))
		require.True(t, j.has("b"))
		require.EqualValues(t, 1, j.stats().Replayed)
	})
	t.Run("a batch that failed is restored, overflow included", func(t *testing.T) {
		j := newJournal(2 * (recordOverhead + 1))
		j.add("a")
		j.take()
		j.add("b")
		j.restore()
		require.True(t, j.has("a"))
		require.True(t, j.has("b"))
		j.add("c") // over the bound now
		b := j.take()
		require.True(t, b.all)
		require.True(t, j.stats().Overflowed, "an overflow being replayed is still one")
		require.True(t, j.has("anything"))
		j.restore()
		require.True(t, j.stats().Overflowed)
	})
}

func TestReplay(t *testing.T) {
	ctx := context.Background()
	m, err := memory.New(memory.Options{})
	require.NoError(t, err)
	defer m.Close()
	for _, k := range []string{"a", "b", "user:1", "user:2", "other"} {
		require.NoError(t, m.Set(ctx, k, []byte("v"), 0))
	}
	j := newJournal(1 << 20)
	for i := range 600 { // more than two chunks
		j.add("missing:" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strings.Repeat("y", i/26))
	}
	j.add("a", "b")
	j.addPattern("user:*")
	require.NoError(t, replay(ctx, m, j.take(), "*"))
	j.done()
	for _, k := range []string{"a", "b", "user:1", "user:2"} {
		_, err := m.Get(ctx, k)
		require.ErrorIs(t, err, provider.ErrNotFound, k)
	}
	_, err = m.Get(ctx, "other")
	require.NoError(t, err)

	// An overflowed journal deletes the scope, and only it.
	require.NoError(t, m.Set(ctx, "ns:1", []byte("v"), 0))
	require.NoError(t, replay(ctx, m, &batch{all: true}, "ns:*"))
	_, err = m.Get(ctx, "ns:1")
	require.ErrorIs(t, err, provider.ErrNotFound)
	_, err = m.Get(ctx, "other")
	require.NoError(t, err)
}

func TestLatencyBuckets(t *testing.T) {
	require.Equal(t, 0, bucket(0))
	require.Equal(t, 0, bucket(latencyBase))
	require.Equal(t, 1, bucket(latencyBase+1))
	require.Equal(t, 1, bucket(2*latencyBase))
	require.Equal(t, 2, bucket(2*latencyBase+1))
	require.Equal(t, LatencyBuckets-1, bucket(1<<62))
	var c counters
	for range 99 {
		c.latBuckets[bucket(10*latencyBase)].Add(1)
	}
	c.latBuckets[bucket(1000*latencyBase)].Add(1)
	c.latCount.Store(100)
	c.latMax.Store(int64(1000 * latencyBase))
	l := c.snapshot().Latency
	require.Equal(t, 16*latencyBase, l.Quantile(0.5))
	require.Equal(t, 16*latencyBase, l.Quantile(0.98))
	require.Equal(t, 1000*latencyBase, l.Quantile(1))
}
