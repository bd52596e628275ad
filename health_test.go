package aside_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
)

// fakeClock is the monitor's clock in tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// clocked returns a Cache whose monitor runs on clk and is ticked by the
// test.
func clocked(t *testing.T, clk *fakeClock, o aside.Options) *aside.Cache {
	t.Helper()
	return newCache(t, aside.WithClock(o, clk.now))
}

// reads does hits hits and misses misses on c.
func reads(t *testing.T, c *aside.Cache, hits, misses int) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, aside.Set(ctx, c, "warm", 1))
	for range hits {
		_, found, err := aside.Get[int](ctx, c, "warm")
		require.NoError(t, err)
		require.True(t, found)
	}
	for i := range misses {
		_, _, err := aside.Get[int](ctx, c, fmt.Sprintf("cold:%d", i))
		require.NoError(t, err)
	}
}

// walk advances clk by d in 10 s ticks of c.
func walk(c *aside.Cache, clk *fakeClock, d time.Duration) {
	for end := clk.now().Add(d); clk.now().Before(end); {
		c.Tick(clk.advance(10 * time.Second))
	}
}

func TestHealthIsOKOnAColdStart(t *testing.T) {
	c := newCache(t, aside.Options{})
	reads(t, c, 0, 20) // 20 misses: too few reads to judge
	h := c.Health(context.Background())
	require.Equal(t, aside.HealthOK, h.Status, h.Reasons)
	require.Empty(t, h.Reasons)
	require.EqualValues(t, 20, h.Recent.Misses)
	require.Zero(t, h.Recent.HitRate)
	require.Positive(t, h.Keys)
	require.Positive(t, h.Bytes, "the memory provider reports the bytes it holds")
	require.Equal(t, memory.DefaultMaxBytes, h.MaxBytes)
	require.Empty(t, h.Circuit, "no breaker in front of the memory provider")
}

func TestHealthJudgesTheRecentWindowNotTheLifetime(t *testing.T) {
	clk := newClock()
	c := clocked(t, clk, aside.Options{})
	reads(t, c, 1000, 0)
	walk(c, clk, 10*time.Minute) // the hits leave the 5 minute window
	reads(t, c, 10, 190)
	c.Tick(clk.advance(10 * time.Second))

	s := c.Stats()
	require.Greater(t, s.HitRate(), 0.8, "over its lifetime the cache looks fine")
	h := c.Health(context.Background())
	require.Equal(t, aside.HealthDegraded, h.Status)
	require.EqualValues(t, 10, h.Recent.Hits)
	require.EqualValues(t, 190, h.Recent.Misses)
	require.InDelta(t, 0.05, h.Recent.HitRate, 1e-9)
	require.LessOrEqual(t, h.Recent.Span, 5*time.Minute)
	require.Len(t, h.Reasons, 1)
	require.Contains(t, h.Reasons[0], "hit rate 5.0% over the last")
	require.Contains(t, h.Reasons[0], "below 70.0%")

	// The window moves on: once those reads are older than it, nothing is
	// judged, and the verdict is ok again.
	walk(c, clk, 6*time.Minute)
	h = c.Health(context.Background())
	require.Equal(t, aside.HealthOK, h.Status, h.Reasons)
	require.Zero(t, h.Recent.Reads)

	// History is the window step by step, for a chart.
	hist := c.History()
	require.NotEmpty(t, hist)
	require.LessOrEqual(t, len(hist), 31)
	for i := 1; i < len(hist); i++ {
		require.Equal(t, hist[i-1].End, hist[i].Start)
	}
}

func TestHealthThresholdsAreConfigurable(t *testing.T) {
	clk := newClock()
	c := clocked(t, clk, aside.Options{Health: aside.HealthOptions{MinHitRate: 0.2, MinReads: 10}})
	reads(t, c, 3, 7) // 30%: fine against 0.2
	require.Equal(t, aside.HealthOK, c.Health(context.Background()).Status)

	off := clocked(t, clk, aside.Options{Health: aside.HealthOptions{MinHitRate: -1}})
	reads(t, off, 0, 200)
	require.Equal(t, aside.HealthOK, off.Health(context.Background()).Status, "a negative threshold turns the check off")

	for _, o := range []aside.HealthOptions{{Window: time.Second}, {Window: -1}, {MinHitRate: 1.5}, {MinReads: -1}} {
		_, err := aside.New(aside.Options{Health: o})
		require.ErrorIs(t, err, aside.ErrInvalidOption, "%+v", o)
	}
}

func TestHealthIsDownWhenTheProviderIsUnreachable(t *testing.T) {
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: pinged{f}, Breaker: aside.Breaker{Failures: 2, CoolDown: time.Hour}})
	require.Equal(t, aside.HealthOK, c.Health(context.Background()).Status)

	f.fail.Store(true)
	h := c.Health(context.Background())
	require.Equal(t, aside.HealthDown, h.Status)
	require.Equal(t, []string{"the provider's ping failed"}, h.Reasons, "the reason never carries the provider's error text")
	require.EqualValues(t, -1, h.Keys)

	// A second failure opens the circuit: down, and the ping costs nothing.
	c.Health(context.Background())
	h = c.Health(context.Background())
	require.Equal(t, aside.HealthDown, h.Status)
	require.Equal(t, "open", h.Circuit)
	require.Contains(t, h.Reasons[0], "circuit open")
	require.Zero(t, h.Ping)

	require.NoError(t, c.Close())
	require.Equal(t, aside.HealthDown, c.Health(context.Background()).Status)
}

func TestHealthSeesProviderErrorsAndTimeouts(t *testing.T) {
	clk := newClock()
	f := newFaulty(t)
	tp := &timeouts{faulty: f}
	c := clocked(t, clk, aside.Options{Provider: tp, Breaker: aside.Breaker{Disabled: true}})
	reads(t, c, 190, 0)
	tp.on.Store(true) // every read now times out on the provider's own bound
	reads2 := func(n int) {
		for i := range n {
			_, _, err := aside.Get[int](context.Background(), c, fmt.Sprintf("k%d", i))
			require.NoError(t, err, "a provider timeout is a miss, never an error")
		}
	}
	reads2(12)
	tp.on.Store(false)
	h := c.Health(context.Background())
	require.Equal(t, aside.HealthDegraded, h.Status)
	require.EqualValues(t, 12, h.Recent.Errors)
	require.EqualValues(t, 12, h.Recent.Timeouts)
	require.Len(t, h.Reasons, 2, h.Reasons)
	require.Contains(t, h.Reasons[0], "provider errors on 5.9% of reads")
	require.Contains(t, h.Reasons[1], "provider timeouts on 5.9% of reads")
	s := c.Stats()
	require.EqualValues(t, 12, s.Errors)
	require.EqualValues(t, 12, s.Timeouts)
}

func TestHealthJSONIsWhatProbesAndPeopleRead(t *testing.T) {
	c := newCache(t, aside.Options{})
	reads(t, c, 3, 1)
	b, err := json.Marshal(c.Health(context.Background()))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	require.Equal(t, "ok", m["status"])
	require.Equal(t, []any{}, m["reasons"])
	require.Contains(t, m, "ping_ms")
	recent := m["recent"].(map[string]any)
	require.InDelta(t, 0.75, recent["hit_rate"], 1e-9)
	require.Contains(t, recent, "span_seconds")
	require.NotContains(t, string(b), "warm", "no key in the health JSON")
}

// pinged fails its pings too while the faulty provider fails.
type pinged struct{ *faulty }

func (p pinged) Ping(ctx context.Context) error {
	if p.fail.Load() {
		return errDown
	}
	return p.faulty.Ping(ctx)
}

// timeouts makes every Get and GetMulti fail as a provider's own timeout
// does (the caller's context still live) while on is set.
type timeouts struct {
	*faulty
	on atomic.Bool
}

var errTimeout = fmt.Errorf("redis: get: %w", context.DeadlineExceeded)

func (p *timeouts) Get(ctx context.Context, key string) ([]byte, error) {
	if p.on.Load() {
		return nil, errTimeout
	}
	return p.faulty.Get(ctx, key)
}

func (p *timeouts) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if p.on.Load() {
		return nil, errTimeout
	}
	return p.faulty.GetMulti(ctx, keys)
}

// metered is a memory store that bills like Upstash: the test sets what
// it billed.
type metered struct {
	provider.Provider
	commands, bytes atomic.Int64
}

func newMetered(t *testing.T) *metered {
	m, err := memory.New(memory.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() }) // also when no Cache closes it
	return &metered{Provider: m}
}

func (m *metered) Usage() provider.Usage {
	return provider.Usage{Commands: m.commands.Load(), Requests: m.commands.Load(), BytesSent: m.bytes.Load() / 2, BytesReceived: m.bytes.Load() - m.bytes.Load()/2}
}

// degrading is a store whose parts may fail while it serves (a fallback on
// its secondary): provider.Degrader.
type degrading struct {
	*memory.Provider
	reasons atomic.Pointer[[]string]
}

func (p *degrading) Degraded() []string {
	if r := p.reasons.Load(); r != nil {
		return *r
	}
	return nil
}

// A provider that says part of it fails makes Health degraded with its
// reasons, found under the circuit breaker the Cache puts around it; the
// ping still answers, so it is not down.
func TestHealthReportsAProvidersDegradedParts(t *testing.T) {
	m, err := memory.New(memory.Options{})
	require.NoError(t, err)
	p := &degrading{Provider: m}
	c := newCache(t, aside.Options{Provider: p})
	require.NotEmpty(t, c.Stats().Circuit, "the provider is behind the Cache's breaker")
	ctx := context.Background()
	h := c.Health(ctx)
	require.Equal(t, aside.HealthOK, h.Status, "%v", h.Reasons)
	p.reasons.Store(&[]string{"fallback: the primary store (redis) is unavailable"})
	h = c.Health(ctx)
	require.Equal(t, aside.HealthDegraded, h.Status)
	require.Equal(t, []string{"fallback: the primary store (redis) is unavailable"}, h.Reasons)
	p.reasons.Store(nil)
	require.Equal(t, aside.HealthOK, c.Health(ctx).Status)
}
