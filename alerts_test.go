package aside_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider/memory"
)

// alertLog collects the alerts of a Cache and its log lines.
type alertLog struct {
	mu     sync.Mutex
	alerts []aside.Alert
	buf    bytes.Buffer
}

func (l *alertLog) on(a aside.Alert) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.alerts = append(l.alerts, a)
}

// take returns the alerts delivered since the last take.
func (l *alertLog) take() []aside.Alert {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.alerts
	l.alerts = nil
	return out
}

func (l *alertLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *alertLog) logged() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *alertLog) options(o aside.Options) aside.Options {
	o.OnAlert = l.on
	o.Logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return o
}

func kinds(as []aside.Alert) []string {
	var out []string
	for _, a := range as {
		state := "resolved"
		if a.Firing {
			state = "firing"
		}
		out = append(out, string(a.Kind)+" "+state)
	}
	return out
}

func TestAlertsFireOnTransitionsOfTheHitRate(t *testing.T) {
	clk := newClock()
	var l alertLog
	c := clocked(t, clk, l.options(aside.Options{}))

	reads(t, c, 20, 180)
	c.Tick(clk.advance(10 * time.Second))
	got := l.take()
	require.Equal(t, []string{"hit_rate firing"}, kinds(got))
	require.InDelta(t, 0.1, got[0].Value, 1e-9)
	require.Equal(t, 0.7, got[0].Threshold)
	require.Equal(t, clk.now(), got[0].At)
	require.Contains(t, got[0].Message, "hit rate 10.0%")
	require.Contains(t, l.logged(), "level=WARN msg=\"cache ALERT hit_rate: hit rate 10.0%")

	// Not per request, not per tick: the condition goes on, nothing more.
	reads(t, c, 0, 100)
	c.Tick(clk.advance(10 * time.Second))
	c.Tick(clk.advance(10 * time.Second))
	require.Empty(t, l.take())

	// Quiet: the window empties; too few reads to judge, so no verdict
	// either way, and the alert stays firing.
	walk(c, clk, 6*time.Minute)
	require.Empty(t, l.take())

	// Enough good reads: it resolves.
	reads(t, c, 200, 0)
	c.Tick(clk.advance(10 * time.Second))
	got = l.take()
	require.Equal(t, []string{"hit_rate resolved"}, kinds(got))
	require.Contains(t, got[0].Message, "hit rate back to 100.0%")
	require.Contains(t, l.logged(), "level=INFO msg=\"cache alert resolved hit_rate")
}

func TestAlertsAreRateLimitedPerKind(t *testing.T) {
	clk := newClock()
	var l alertLog
	c := clocked(t, clk, l.options(aside.Options{AlertInterval: 20 * time.Minute}))

	reads(t, c, 0, 200)
	c.Tick(clk.advance(10 * time.Second))
	got := l.take()
	require.Equal(t, []string{"hit_rate firing"}, kinds(got))
	fired := got[0].At
	walk(c, clk, 6*time.Minute)
	reads(t, c, 300, 0)
	c.Tick(clk.advance(10 * time.Second))
	require.Equal(t, []string{"hit_rate resolved"}, kinds(l.take()), "a resolution is never held back")

	// It goes bad again within the interval: held back...
	walk(c, clk, 6*time.Minute)
	reads(t, c, 0, 200)
	c.Tick(clk.advance(10 * time.Second))
	require.Empty(t, l.take())
	// ...and delivered at the first evaluation past the interval, if it
	// still holds.
	for range 60 { // 10 minutes
		reads(t, c, 0, 100)
		c.Tick(clk.advance(10 * time.Second))
	}
	got = l.take()
	require.Equal(t, []string{"hit_rate firing"}, kinds(got))
	require.False(t, got[0].At.Before(fired.Add(20*time.Minute)))
	require.Less(t, got[0].At.Sub(fired), 20*time.Minute+10*time.Second, "at the first evaluation past the interval")
}

func TestAlertsFireOnErrorAndTimeoutRates(t *testing.T) {
	clk := newClock()
	var l alertLog
	tp := &timeouts{faulty: newFaulty(t)}
	c := clocked(t, clk, l.options(aside.Options{Provider: tp, Breaker: aside.Breaker{Disabled: true}}))
	reads(t, c, 200, 0)
	c.Tick(clk.advance(10 * time.Second))
	require.Empty(t, l.take())

	tp.on.Store(true)
	reads(t, c, 0, 0)
	for i := range 20 {
		_, _, err := aside.Get[int](context.Background(), c, "k"+strings.Repeat("x", i))
		require.NoError(t, err)
	}
	tp.on.Store(false)
	c.Tick(clk.advance(10 * time.Second))
	require.ElementsMatch(t, []string{"error_rate firing", "timeout_rate firing"}, kinds(l.take()))

	walk(c, clk, 6*time.Minute)
	reads(t, c, 200, 0)
	c.Tick(clk.advance(10 * time.Second))
	require.ElementsMatch(t, []string{"error_rate resolved", "timeout_rate resolved"}, kinds(l.take()))
}

func TestAlertsFireWhenTheCircuitOpensAndCloses(t *testing.T) {
	clk := newClock()
	var l alertLog
	f := newFaulty(t)
	c := clocked(t, clk, l.options(aside.Options{Provider: f, Breaker: aside.Breaker{Failures: 1, CoolDown: 20 * time.Millisecond}}))
	ctx := context.Background()
	get := func() {
		_, _, err := aside.Get[int](ctx, c, "k")
		require.NoError(t, err)
	}
	// recover waits out the cool-down and lets a probe close the circuit.
	recover := func() {
		f.fail.Store(false)
		require.Eventually(t, func() bool { get(); return c.Stats().Circuit == "closed" }, 5*time.Second, 5*time.Millisecond)
	}

	f.fail.Store(true)
	get()
	require.Equal(t, "open", c.Stats().Circuit)
	c.Evaluate(clk.advance(time.Second)) // what the breaker's transition wakes the monitor for
	got := l.take()
	require.Equal(t, []string{"circuit firing"}, kinds(got))
	require.Contains(t, got[0].Message, "circuit open")
	require.Contains(t, l.logged(), "cache ALERT circuit")

	recover()
	c.Evaluate(clk.advance(time.Second))
	got = l.take()
	require.Equal(t, []string{"circuit resolved"}, kinds(got))
	require.Equal(t, "circuit closed: the store answers again", got[0].Message)

	// Opened and closed between two looks, past the interval: both are said.
	clk.advance(10 * time.Minute)
	f.fail.Store(true)
	get()
	recover()
	c.Evaluate(clk.advance(time.Second))
	got = l.take()
	require.Equal(t, []string{"circuit firing", "circuit resolved"}, kinds(got))
	require.Contains(t, got[0].Message, "opened and closed again")

	// Flapping within the interval is held back.
	f.fail.Store(true)
	get()
	c.Evaluate(clk.advance(time.Second))
	recover()
	c.Evaluate(clk.advance(time.Second))
	require.Empty(t, l.take())
}

func TestAlertsFireAtTheBudgetShare(t *testing.T) {
	clk := newClock()
	var l alertLog
	m := newMetered(t)
	c := clocked(t, clk, l.options(aside.Options{Provider: m, Budget: aside.Budget{
		MonthlyCommands: aside.UpstashFreeCommands, MonthlyBandwidth: aside.UpstashFreeBandwidth,
	}}))
	m.commands.Store(399_999)
	m.bytes.Store(1_000_000)
	c.Tick(clk.advance(10 * time.Second))
	require.Empty(t, l.take())
	require.Equal(t, aside.HealthOK, c.Health(context.Background()).Status)

	m.commands.Store(400_000) // 80% of 500K
	c.Tick(clk.advance(10 * time.Second))
	got := l.take()
	require.Equal(t, []string{"command_budget firing"}, kinds(got))
	require.InDelta(t, 0.8, got[0].Value, 1e-9)
	require.Contains(t, got[0].Message, "80.0% of the monthly command budget used (400000 of 500000")
	h := c.Health(context.Background())
	require.Equal(t, aside.HealthDegraded, h.Status)
	require.Contains(t, h.Reasons[0], "monthly command budget")

	m.bytes.Store(8_000_000_000)
	c.Tick(clk.advance(10 * time.Second))
	require.Equal(t, []string{"bandwidth_budget firing"}, kinds(l.take()))

	// A new month starts from zero: both resolve.
	clk.advance(30 * 24 * time.Hour) // 2025-04-09
	c.Tick(clk.advance(10 * time.Second))
	require.ElementsMatch(t, []string{"command_budget resolved", "bandwidth_budget resolved"}, kinds(l.take()))
	require.Equal(t, aside.HealthOK, c.Health(context.Background()).Status)
}

// A provider that says a part of it fails (provider.Degrader, found under
// the Cache's circuit breaker) fires one "degraded" alert with its reasons,
// held back while it flaps within the interval, and resolves when it gives
// none; Health lists each reason on its own.
func TestAlertsFireWhileTheProviderIsDegraded(t *testing.T) {
	clk := newClock()
	var l alertLog
	m, err := memory.New(memory.Options{})
	require.NoError(t, err)
	p := &degrading{Provider: m}
	c := clocked(t, clk, l.options(aside.Options{Provider: p}))
	ctx := context.Background()

	c.Tick(clk.advance(10 * time.Second))
	require.Empty(t, l.take(), "nothing fails")

	reasons := []string{"fallback: the primary store (redis) is unavailable", "fallback: 3 write(s) wait to be replayed"}
	p.reasons.Store(&reasons)
	c.Tick(clk.advance(10 * time.Second))
	got := l.take()
	require.Equal(t, []string{"degraded firing"}, kinds(got))
	require.Equal(t, reasons[0]+"; "+reasons[1], got[0].Message)
	require.EqualValues(t, 2, got[0].Value)
	require.Contains(t, l.logged(), "cache ALERT degraded: fallback: the primary store (redis) is unavailable")
	h := c.Health(ctx)
	require.Equal(t, aside.HealthDegraded, h.Status)
	require.Equal(t, reasons, h.Reasons, "one reason each, not joined")

	c.Tick(clk.advance(10 * time.Second))
	require.Empty(t, l.take(), "still degraded: no new alert")

	p.reasons.Store(nil)
	c.Tick(clk.advance(10 * time.Second))
	got = l.take()
	require.Equal(t, []string{"degraded resolved"}, kinds(got))
	require.Contains(t, got[0].Message, "no failing part")
	require.Equal(t, aside.HealthOK, c.Health(ctx).Status)

	// Degraded again within the interval: held back until it has passed.
	p.reasons.Store(&reasons)
	c.Tick(clk.advance(10 * time.Second))
	require.Empty(t, l.take())
	c.Tick(clk.advance(5 * time.Minute))
	require.Equal(t, []string{"degraded firing"}, kinds(l.take()))
}

func TestAPanickingOnAlertIsLoggedNotRaised(t *testing.T) {
	clk := newClock()
	var l alertLog
	o := l.options(aside.Options{})
	o.OnAlert = func(aside.Alert) { panic("boom") }
	c := clocked(t, clk, o)
	reads(t, c, 0, 200)
	require.NotPanics(t, func() { c.Tick(clk.advance(10 * time.Second)) })
	require.Contains(t, l.logged(), "cache OnAlert panicked")
}

// TestTheMonitorRunsOnItsOwnAndStopsAtClose runs the real monitor
// goroutine: a circuit opening wakes it, without waiting for its ticker,
// and Close stops it (goleak checks in TestMain).
func TestTheMonitorRunsOnItsOwnAndStopsAtClose(t *testing.T) {
	got := make(chan aside.Alert, 4)
	f := newFaulty(t)
	c, err := aside.New(aside.Options{Provider: f, Breaker: aside.Breaker{Failures: 1, CoolDown: time.Hour},
		OnAlert: func(a aside.Alert) { got <- a }})
	require.NoError(t, err)
	f.fail.Store(true)
	_, _, err = aside.Get[int](context.Background(), c, "k")
	require.NoError(t, err)
	select {
	case a := <-got:
		require.Equal(t, aside.AlertCircuit, a.Kind)
		require.True(t, a.Firing)
	case <-time.After(5 * time.Second):
		t.Fatal("no alert within 5 s of the circuit opening")
	}
	require.NoError(t, c.Close())
}
