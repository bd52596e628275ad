package aside

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/aside-go/aside/provider"
)

// windowBuckets is how many samples span the health window: a 5 minute
// window is read in 10 s steps.
const windowBuckets = 30

// monitor keeps what Health, History and the alerts read: a sample of the
// Cache's counters every bucket (a ring spanning the health window), the
// state of each alert, and where this month's billing began. Its work runs
// on one goroutine the Cache owns (New starts it, Close stops it), woken by
// a ticker and by the circuit breaker's transitions; the hit path only
// increments the counters it always did, and the monitor subtracts samples
// of them. Bounded: windowBuckets+1 samples and one state per alert kind.
type monitor struct {
	now      func() time.Time
	opts     HealthOptions // defaults filled
	budget   Budget        // defaults filled
	interval time.Duration // AlertInterval
	onAlert  func(Alert)
	wake     chan struct{}

	mu      sync.Mutex
	samples []sample // oldest first
	alerts  map[AlertKind]*alertState
	opens   int64 // Stats.CircuitOpens at the last evaluation
	month   monthState
}

// sample is the read counters at one instant.
type sample struct {
	at time.Time
	counts
}

type counts struct {
	hits, stale, misses, errors, timeouts int64
}

func (a counts) minus(b counts) counts {
	return counts{a.hits - b.hits, a.stale - b.stale, a.misses - b.misses, a.errors - b.errors, a.timeouts - b.timeouts}
}

func (m *monitor) init(o Options, billed provider.Usage) {
	m.now = o.clock
	if m.now == nil {
		m.now = time.Now
	}
	m.opts = o.Health.withDefaults()
	m.budget = o.Budget.withDefaults()
	m.interval = orDefault(o.AlertInterval, DefaultAlertInterval)
	m.onAlert = o.OnAlert
	m.wake = make(chan struct{}, 1)
	m.alerts = make(map[AlertKind]*alertState)
	now := m.now()
	// The counters are zero at New: the first sample.
	m.samples = append(make([]sample, 0, windowBuckets+1), sample{at: now})
	m.month = monthState{start: monthStart(now), since: now, base: billed}
}

// bucket is the time between two samples.
func (m *monitor) bucket() time.Duration {
	return m.opts.Window / windowBuckets
}

// poke asks the monitor to evaluate the alerts now (a circuit transition);
// it never blocks.
func (m *monitor) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// monitorLoop is the monitor's goroutine.
func (c *Cache) monitorLoop() {
	t := time.NewTicker(c.mon.bucket())
	defer t.Stop()
	for {
		select {
		case <-c.bgCtx.Done():
			return
		case <-t.C:
			c.tick(c.mon.now(), true)
		case <-c.mon.wake:
			c.tick(c.mon.now(), false)
		}
	}
}

// tick takes a sample (when sampling) and evaluates the alerts at now.
func (c *Cache) tick(now time.Time, sampling bool) {
	if sampling {
		c.mon.record(now, c.counts())
	}
	c.evaluate(now)
}

// counts reads the counters the window is made of.
func (c *Cache) counts() counts {
	return counts{
		hits:     c.stats.hits.Load(),
		stale:    c.stats.staleHits.Load(),
		misses:   c.stats.misses.Load(),
		errors:   c.stats.errors.Load(),
		timeouts: c.stats.timeouts.Load(),
	}
}

// record appends a sample and drops those the window no longer needs.
func (m *monitor) record(now time.Time, cur counts) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.samples); n > 0 && !now.After(m.samples[n-1].at) {
		return // a clock that did not move (or moved back): nothing to add
	}
	m.samples = append(m.samples, sample{at: now, counts: cur})
	// Keep the newest sample at or before the window's start, so that the
	// window is always covered as far back as it can be.
	from := now.Add(-m.opts.Window)
	drop := 0
	for drop+1 < len(m.samples) && !m.samples[drop+1].at.After(from) {
		drop++
	}
	if over := len(m.samples) - (windowBuckets + 1); over > drop {
		drop = over
	}
	if drop > 0 {
		m.samples = append(m.samples[:0], m.samples[drop:]...)
	}
}

// Recent are a Cache's read counters over its recent window.
type Recent struct {
	// Span is the time the figures cover: HealthOptions.Window (5m by
	// default), or less just after New.
	Span time.Duration `json:"-"`
	// Reads is Hits + Misses.
	Reads    int64 `json:"reads"`
	Hits     int64 `json:"hits"`
	Misses   int64 `json:"misses"`
	Stale    int64 `json:"stale_hits"`
	Errors   int64 `json:"errors"`
	Timeouts int64 `json:"timeouts"`
	// HitRate is Hits / Reads; ErrorRate and TimeoutRate are provider
	// failures (and the timeouts among them) per read. All 0 without reads.
	HitRate     float64 `json:"hit_rate"`
	ErrorRate   float64 `json:"error_rate"`
	TimeoutRate float64 `json:"timeout_rate"`
}

// MarshalJSON adds span_seconds, the span in seconds.
func (r Recent) MarshalJSON() ([]byte, error) {
	type plain Recent
	return json.Marshal(struct {
		plain
		SpanSeconds float64 `json:"span_seconds"`
	}{plain(r), r.Span.Seconds()})
}

func recentOf(d counts, span time.Duration) Recent {
	r := Recent{Span: span, Reads: d.hits + d.misses, Hits: d.hits, Misses: d.misses, Stale: d.stale, Errors: d.errors, Timeouts: d.timeouts}
	if r.Reads > 0 {
		r.HitRate = float64(r.Hits) / float64(r.Reads)
		r.ErrorRate = float64(r.Errors) / float64(r.Reads)
		r.TimeoutRate = float64(r.Timeouts) / float64(r.Reads)
	}
	return r
}

// recent returns the counters over the window ending at now.
func (m *monitor) recent(now time.Time, cur counts) Recent {
	from := now.Add(-m.opts.Window)
	m.mu.Lock()
	base := m.samples[0]
	for _, s := range m.samples[1:] {
		if s.at.After(from) {
			break
		}
		base = s
	}
	m.mu.Unlock()
	return recentOf(cur.minus(base.counts), now.Sub(base.at))
}

// Interval is one step of History: the reads between Start and End.
type Interval struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Hits     int64     `json:"hits"`
	Misses   int64     `json:"misses"`
	Errors   int64     `json:"errors"`
	Timeouts int64     `json:"timeouts"`
}

// HitRate is Hits / (Hits + Misses), or 0 without reads.
func (i Interval) HitRate() float64 {
	if i.Hits+i.Misses == 0 {
		return 0
	}
	return float64(i.Hits) / float64(i.Hits+i.Misses)
}

// History returns the reads of the recent window step by step, oldest
// first: one Interval per sample the monitor took (every Window/30, 10 s by
// default), the last one ending now. It is what a hit-rate-over-time chart
// draws; Health gives the window's totals.
func (c *Cache) History() []Interval {
	now, cur := c.mon.now(), c.counts()
	c.mon.mu.Lock()
	defer c.mon.mu.Unlock()
	out := make([]Interval, 0, len(c.mon.samples))
	for i, s := range c.mon.samples {
		next := sample{at: now, counts: cur}
		if i+1 < len(c.mon.samples) {
			next = c.mon.samples[i+1]
		}
		if !next.at.After(s.at) {
			continue
		}
		d := next.counts.minus(s.counts)
		out = append(out, Interval{Start: s.at, End: next.at, Hits: d.hits, Misses: d.misses, Errors: d.errors, Timeouts: d.timeouts})
	}
	return out
}
