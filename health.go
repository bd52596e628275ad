package aside

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
)

// Defaults of HealthOptions and of Options.AlertInterval.
const (
	DefaultHealthWindow   = 5 * time.Minute
	DefaultMinHitRate     = 0.7
	DefaultMinReads       = 100
	DefaultMaxErrorRate   = 0.05
	DefaultMaxTimeoutRate = 0.02
	DefaultAlertInterval  = 5 * time.Minute
)

// minHealthWindow keeps the monitor's step (Window/30) at a second or more.
const minHealthWindow = 30 * time.Second

// HealthOptions set the window over which Health and the alerts judge the
// cache, and their thresholds. The zero value uses the defaults; a negative
// threshold turns its check off.
type HealthOptions struct {
	// Window is how far back the rates look, read in 30 steps. Default 5m
	// (10 s steps); at least 30 s.
	Window time.Duration
	// MinHitRate: a lower hit rate in the window is degraded. Default 0.7.
	MinHitRate float64
	// MinReads is how many reads the window must hold before its rates are
	// judged, so that a cold start or a quiet hour is not "unhealthy".
	// Default 100.
	MinReads int64
	// MaxErrorRate: more provider failures per read in the window is
	// degraded. Default 0.05.
	MaxErrorRate float64
	// MaxTimeoutRate: more provider timeouts per read (each one costs a
	// request the provider's whole timeout) is degraded. Default 0.02.
	MaxTimeoutRate float64
}

func (o HealthOptions) validate() error {
	switch {
	case o.Window < 0:
		return fmt.Errorf("%w: Health.Window is negative (use 0 for the 5m default)", ErrInvalidOption)
	case o.Window > 0 && o.Window < minHealthWindow:
		return fmt.Errorf("%w: Health.Window is %v; it must be at least %v", ErrInvalidOption, o.Window, minHealthWindow)
	case o.MinHitRate > 1 || math.IsNaN(o.MinHitRate) || math.IsNaN(o.MaxErrorRate) || math.IsNaN(o.MaxTimeoutRate):
		return fmt.Errorf("%w: Health.MinHitRate must be at most 1, and no threshold NaN", ErrInvalidOption)
	case o.MinReads < 0:
		return fmt.Errorf("%w: Health.MinReads is negative (use 0 for the default of %d)", ErrInvalidOption, DefaultMinReads)
	}
	return nil
}

func (o HealthOptions) withDefaults() HealthOptions {
	if o.Window == 0 {
		o.Window = DefaultHealthWindow
	}
	if o.MinHitRate == 0 {
		o.MinHitRate = DefaultMinHitRate
	}
	if o.MinReads == 0 {
		o.MinReads = DefaultMinReads
	}
	if o.MaxErrorRate == 0 {
		o.MaxErrorRate = DefaultMaxErrorRate
	}
	if o.MaxTimeoutRate == 0 {
		o.MaxTimeoutRate = DefaultMaxTimeoutRate
	}
	return o
}

// HealthStatus is the verdict of Health.
type HealthStatus string

// The verdicts, worst last.
const (
	// HealthOK: the store answers and every check passes.
	HealthOK HealthStatus = "ok"
	// HealthDegraded: the cache works but costs more than it should (a low
	// hit rate, provider errors or timeouts, a circuit probing the store,
	// invalidations waiting to be retried, a budget nearly spent, a
	// fallback serving from its secondary store). Requests are still
	// served correctly.
	HealthDegraded HealthStatus = "degraded"
	// HealthDown: the store is unreachable (its ping fails or the circuit
	// is open) or the Cache is closed. Requests are still served — the cache
	// fails open — but every one runs its loader.
	HealthDown HealthStatus = "down"
)

// Health is the state of a Cache, for probes, dashboards and people.
type Health struct {
	Status HealthStatus `json:"status"`
	// Reasons says why Status is not ok, one sentence each (never a key, a
	// token or an address).
	Reasons []string `json:"reasons"`
	// Ping is how long the provider's ping took (0 when the circuit refused
	// it).
	Ping time.Duration `json:"-"`
	// Circuit is the breaker's state ("closed", "half-open", "open"), or ""
	// without a breaker.
	Circuit string `json:"circuit,omitempty"`
	// Recent are the reads over the health window.
	Recent Recent `json:"recent"`
	// Keys is the provider's key count (-1 unknown); Bytes and MaxBytes the
	// bytes a bounded in-process store holds and its bound (-1 unknown).
	Keys     int64 `json:"keys"`
	Bytes    int64 `json:"bytes"`
	MaxBytes int64 `json:"max_bytes"`
	// PendingInvalidations is Stats.InvalidationsPending: invalidations
	// waiting for the store to come back.
	PendingInvalidations int64 `json:"pending_invalidations"`
	// Usage is this month's billed usage, when a provider meters.
	Usage *MonthUsage `json:"usage,omitempty"`
	// CheckedAt is when Health was computed.
	CheckedAt time.Time `json:"checked_at"`
}

// MarshalJSON adds ping_ms, the ping's latency in milliseconds.
func (h Health) MarshalJSON() ([]byte, error) {
	type plain Health
	return json.Marshal(struct {
		plain
		PingMs float64 `json:"ping_ms"`
	}{plain(h), float64(h.Ping.Microseconds()) / 1000})
}

// Health pings the provider (bounded by ctx: give it a deadline) and judges
// the cache against Options.Health:
//
//   - down: the ping fails or the circuit is open (the store is
//     unreachable), or the Cache is closed;
//   - degraded: the hit rate in the window is below MinHitRate, or its
//     error or timeout rate above the maximum (each once MinReads reads are
//     in the window), the circuit is half-open, invalidations wait to be
//     retried, a budget's used share is at Budget.WarnAt or more, or the
//     provider says part of it is failing (provider.Degrader: a fallback
//     serving from its secondary store, found under the circuit breaker),
//     with its reasons;
//   - ok otherwise.
//
// It costs one ping, one key count and a few atomic loads; nothing on the
// hit path.
func (c *Cache) Health(ctx context.Context) Health {
	now := c.mon.now()
	h := Health{Status: HealthOK, Reasons: []string{}, Keys: -1, Bytes: -1, MaxBytes: -1, CheckedAt: now}
	if c.closed.Load() {
		h.Status = HealthDown
		h.Reasons = append(h.Reasons, "the cache is closed")
		return h
	}
	start := time.Now()
	perr := c.p.Ping(ctx)
	if !errors.Is(perr, provider.ErrUnavailable) {
		h.Ping = time.Since(start)
	}
	a := c.assess(now)
	h.Recent, h.Circuit, h.PendingInvalidations, h.Usage = a.recent, a.circuit, a.pending, a.usage
	switch {
	case errors.Is(perr, provider.ErrUnavailable) || a.circuit == circuit.Open.String():
		h.down("circuit open: the store failed repeatedly, so calls fail fast until a probe succeeds")
	case perr != nil && isTimeout(perr):
		h.down(fmt.Sprintf("the provider did not answer a ping within %v", h.Ping.Round(time.Millisecond)))
	case perr != nil:
		h.down("the provider's ping failed")
	}
	for _, ch := range a.checks {
		if ch.known && ch.bad && ch.kind != AlertCircuit && ch.kind != AlertDegraded {
			h.degrade(ch.reason)
		}
	}
	if a.circuit == circuit.HalfOpen.String() {
		h.degrade("circuit half-open: probing whether the store is back")
	}
	if a.pending > 0 {
		h.degrade(fmt.Sprintf("%d invalidation(s) wait to be retried until the store answers", a.pending))
	}
	for _, r := range a.degraded {
		h.degrade(r)
	}
	if h.Status != HealthDown {
		if n, ok := c.p.(provider.Counter); ok {
			if k, err := n.Len(ctx); err == nil {
				h.Keys = k
			}
		}
	}
	if used, limit, ok := c.sizeOf(ctx); ok {
		h.Bytes, h.MaxBytes = used, limit
	}
	return h
}

func (h *Health) down(reason string) {
	h.Status = HealthDown
	h.Reasons = append(h.Reasons, reason)
}

func (h *Health) degrade(reason string) {
	if h.Status == HealthOK {
		h.Status = HealthDegraded
	}
	h.Reasons = append(h.Reasons, reason)
}

// assessment is what Health and the alerts judge: the window, the circuit,
// the month's usage, and each check.
type assessment struct {
	recent  Recent
	circuit string
	opens   int64
	pending int64
	usage   *MonthUsage
	// degraded is what the provider says of its failing parts
	// (provider.Degrader), one reason each.
	degraded []string
	checks   []check
}

// check is one condition, under the AlertKind that reports it.
type check struct {
	kind             AlertKind
	known            bool // enough evidence to judge
	bad              bool
	value, threshold float64
	reason           string // what is wrong (Health reason, firing alert)
	clear            string // what is right again (resolving alert)
}

func (c *Cache) assess(now time.Time) assessment {
	o := c.mon.opts
	a := assessment{recent: c.mon.recent(now, c.counts()), pending: c.stats.invalidationsPending.Load()}
	r := a.recent
	judged := r.Reads >= o.MinReads
	span := r.Span.Round(time.Second)
	a.checks = append(a.checks,
		check{
			kind: AlertHitRate, known: judged && o.MinHitRate >= 0, bad: r.HitRate < o.MinHitRate,
			value: r.HitRate, threshold: o.MinHitRate,
			reason: fmt.Sprintf("hit rate %s over the last %v is below %s (%d reads)", pct(r.HitRate), span, pct(o.MinHitRate), r.Reads),
			clear:  fmt.Sprintf("hit rate back to %s over the last %v (threshold %s)", pct(r.HitRate), span, pct(o.MinHitRate)),
		},
		check{
			kind: AlertErrorRate, known: judged && o.MaxErrorRate >= 0, bad: r.ErrorRate > o.MaxErrorRate,
			value: r.ErrorRate, threshold: o.MaxErrorRate,
			reason: fmt.Sprintf("provider errors on %s of reads over the last %v, above %s", pct(r.ErrorRate), span, pct(o.MaxErrorRate)),
			clear:  fmt.Sprintf("provider errors down to %s of reads over the last %v (threshold %s)", pct(r.ErrorRate), span, pct(o.MaxErrorRate)),
		},
		check{
			kind: AlertTimeoutRate, known: judged && o.MaxTimeoutRate >= 0, bad: r.TimeoutRate > o.MaxTimeoutRate,
			value: r.TimeoutRate, threshold: o.MaxTimeoutRate,
			reason: fmt.Sprintf("provider timeouts on %s of reads over the last %v, above %s", pct(r.TimeoutRate), span, pct(o.MaxTimeoutRate)),
			clear:  fmt.Sprintf("provider timeouts down to %s of reads over the last %v (threshold %s)", pct(r.TimeoutRate), span, pct(o.MaxTimeoutRate)),
		},
	)
	if c.breaker != nil {
		b := c.breaker.Stats()
		a.circuit, a.opens = b.State.String(), b.Opens
		a.checks = append(a.checks, check{
			kind: AlertCircuit, known: true, bad: b.State != circuit.Closed,
			reason: fmt.Sprintf("circuit %s: the store failed repeatedly; calls fail fast without reaching it", b.State),
			clear:  "circuit closed: the store answers again",
		})
	}
	if d, ok := find[provider.Degrader](c.p); ok {
		a.degraded = d.Degraded()
		a.checks = append(a.checks, check{
			kind: AlertDegraded, known: true, bad: len(a.degraded) > 0,
			value:  float64(len(a.degraded)),
			reason: strings.Join(a.degraded, "; "),
			clear:  "the provider reports no failing part again: every store it is made of answers",
		})
	}
	if _, total, metered := c.providers(); metered {
		u := c.mon.monthUsage(now, total)
		a.usage = &u
		warn := c.mon.budget.WarnAt
		a.checks = append(a.checks,
			check{
				kind: AlertCommandBudget, known: u.CommandBudget > 0, bad: u.CommandShare >= warn,
				value: u.CommandShare, threshold: warn,
				reason: fmt.Sprintf("%s of the monthly command budget used (%d of %d; projected %d by the month's end)", pct(u.CommandShare), u.Commands, u.CommandBudget, u.ProjectedCommands),
				clear:  fmt.Sprintf("command budget share back to %s", pct(u.CommandShare)),
			},
			check{
				kind: AlertBandwidthBudget, known: u.BandwidthBudget > 0, bad: u.BandwidthShare >= warn,
				value: u.BandwidthShare, threshold: warn,
				reason: fmt.Sprintf("%s of the monthly bandwidth budget used (%d of %d bytes; projected %d by the month's end)", pct(u.BandwidthShare), u.Bytes, u.BandwidthBudget, u.ProjectedBytes),
				clear:  fmt.Sprintf("bandwidth budget share back to %s", pct(u.BandwidthShare)),
			},
		)
	}
	return a
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

// isTimeout reports whether err is a timeout: a deadline, or a network
// timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
