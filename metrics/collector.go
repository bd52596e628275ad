package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
)

const namespace = "aside"

// Options configure a Collector and Instrument. The zero value works.
type Options struct {
	// Cache is the value of the cache label on every metric, telling apart
	// the Caches of one process. Default "default". Give Instrument and
	// NewCollector the same.
	Cache string
	// Routes, when set, adds aside_route_requests_total from the HTTP
	// middleware's per-route counts.
	Routes *middleware.RouteStats
	// Buckets are the upper bounds, in seconds, of the provider-call
	// latency histogram (Instrument). Default DefaultBuckets.
	Buckets []float64
}

func (o Options) withDefaults() Options {
	if o.Cache == "" {
		o.Cache = "default"
	}
	if o.Buckets == nil {
		o.Buckets = DefaultBuckets
	}
	return o
}

// Collector is a prometheus.Collector over a Cache: it reads the Cache's
// Stats (and the middleware's RouteStats) when Prometheus scrapes, so it
// costs nothing between scrapes. Create it with NewCollector.
type Collector struct {
	c      *aside.Cache
	routes *middleware.RouteStats
	inst   []*Provider
	stats  []statMetric

	circuitState, keys, memBytes, memMax                                  *prometheus.Desc
	billedCommands, billedRequests, billedBytes                           *prometheus.Desc
	memberReads, memberErrors, memberCalls, memberSeconds                 *prometheus.Desc
	monthCommands, monthBytes, projCommands, projBytes, budCmds, budBytes *prometheus.Desc
	routeRequests                                                         *prometheus.Desc
}

// statMetric is one metric read straight from a Stats field.
type statMetric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(*aside.Stats) int64
	// only, when set, says whether the metric applies to these Stats.
	only func(*aside.Stats) bool
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a Collector over c; register it with a
// prometheus.Registerer. When c's provider was wrapped by Instrument (under
// any other wrapper, or as a member of a composite provider), the
// Collector exports its latency histogram too.
func NewCollector(c *aside.Cache, o Options) *Collector {
	o = o.withDefaults()
	labels := prometheus.Labels{"cache": o.Cache}
	desc := func(name, help string, vars ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, vars, labels)
	}
	col := &Collector{c: c, routes: o.Routes, inst: instrumented(c.Provider())}
	counter := func(name, help string, v func(*aside.Stats) int64) {
		col.stats = append(col.stats, statMetric{desc: desc(name, help), typ: prometheus.CounterValue, value: v})
	}
	counter("hits_total", "Reads served from the cache (stale ones included).", func(s *aside.Stats) int64 { return s.Hits })
	counter("stale_hits_total", "Stale values served: in a stale-while-revalidate window, or for a failing loader (stale-if-error).", func(s *aside.Stats) int64 { return s.StaleHits })
	counter("misses_total", "Reads that found no usable entry.", func(s *aside.Stats) int64 { return s.Misses })
	counter("sets_total", "Entries written.", func(s *aside.Stats) int64 { return s.Sets })
	counter("deletes_total", "Entries removed by Delete.", func(s *aside.Stats) int64 { return s.Deletes })
	counter("loads_total", "Loader runs.", func(s *aside.Stats) int64 { return s.Loads })
	counter("load_errors_total", "Loader runs that returned an error.", func(s *aside.Stats) int64 { return s.LoadErrors })
	counter("provider_errors_total", "Provider failures, each read as a miss or a skipped write.", func(s *aside.Stats) int64 { return s.Errors })
	counter("provider_timeouts_total", "Provider failures that were timeouts (also in aside_provider_errors_total).", func(s *aside.Stats) int64 { return s.Timeouts })
	counter("decode_failures_total", "Stored entries that could not be decoded (deleted, read as a miss).", func(s *aside.Stats) int64 { return s.DecodeFailures })
	counter("invalidations_total", "Tags invalidated.", func(s *aside.Stats) int64 { return s.Invalidations })
	counter("pattern_deletes_total", "Entries removed by pattern invalidation.", func(s *aside.Stats) int64 { return s.PatternDeletes })
	counter("invalidation_retries_total", "Retries of invalidations the store failed.", func(s *aside.Stats) int64 { return s.InvalidationRetries })
	counter("tag_repairs_total", "Garbled tag records replaced.", func(s *aside.Stats) int64 { return s.Repairs })
	counter("redactions_total", "Values the redaction filter removed or masked before storage.", func(s *aside.Stats) int64 { return s.Redactions })
	counter("raw_bytes_total", "Serialized size of the values written, before compression.", func(s *aside.Stats) int64 { return s.RawBytes })
	counter("encoded_bytes_total", "Size of the values written, after compression.", func(s *aside.Stats) int64 { return s.EncodedBytes })
	counter("stored_bytes_total", "Bytes handed to the provider (values, envelopes and tag stamps).", func(s *aside.Stats) int64 { return s.StoredBytes })
	counter("compression_saved_bytes_total", "Bytes compression removed from the values it made smaller.", func(s *aside.Stats) int64 { return s.CompressionSaved })
	col.stats = append(col.stats,
		statMetric{desc: desc("invalidations_pending", "Invalidations waiting for the store to be retried."), typ: prometheus.GaugeValue,
			value: func(s *aside.Stats) int64 { return s.InvalidationsPending }},
		statMetric{desc: desc("circuit_opens_total", "Times the circuit breaker opened."), typ: prometheus.CounterValue,
			value: func(s *aside.Stats) int64 { return s.CircuitOpens }, only: hasCircuit},
		statMetric{desc: desc("circuit_rejected_total", "Provider calls refused by the open circuit (each a miss or a skipped write that cost no time)."), typ: prometheus.CounterValue,
			value: func(s *aside.Stats) int64 { return s.Rejected }, only: hasCircuit},
	)
	nearOn := func(s *aside.Stats) bool { return s.Near.On }
	col.stats = append(col.stats,
		statMetric{desc: desc("near_hits_total", "Reads served by the near tier (also in aside_hits_total)."), typ: prometheus.CounterValue,
			value: func(s *aside.Stats) int64 { return s.Near.Hits }, only: nearOn},
		statMetric{desc: desc("near_misses_total", "Reads the near tier could not serve (then read from the store)."), typ: prometheus.CounterValue,
			value: func(s *aside.Stats) int64 { return s.Near.Misses }, only: nearOn},
		statMetric{desc: desc("near_drops_total", "Near-tier entries dropped by invalidations and lease lapses."), typ: prometheus.CounterValue,
			value: func(s *aside.Stats) int64 { return s.Near.Drops }, only: nearOn},
		statMetric{desc: desc("near_fills_rejected_total", "Near-tier fills refused because an invalidation or a lapse came during their store read."), typ: prometheus.CounterValue,
			value: func(s *aside.Stats) int64 { return s.Near.Rejected }, only: nearOn},
		statMetric{desc: desc("near_bytes", "Bytes the near tier holds, weighed as Near.MaxBytes counts them."), typ: prometheus.GaugeValue,
			value: func(s *aside.Stats) int64 { return s.Near.Bytes }, only: nearOn},
		statMetric{desc: desc("near_serving", "1 while the near tier holds its lease and serves, 0 while it is lapsed."), typ: prometheus.GaugeValue,
			value: func(s *aside.Stats) int64 {
				if s.Near.Serving {
					return 1
				}
				return 0
			}, only: nearOn},
	)
	col.circuitState = desc("circuit_state", "1 for the circuit breaker's current state, 0 for the others.", "state")
	col.keys = desc("keys", "Keys the provider holds (a shared Redis counts every key in its database).")
	col.memBytes = desc("memory_bytes", "Bytes a bounded in-process store holds.")
	col.memMax = desc("memory_max_bytes", "The bound of the in-process store.")
	col.billedCommands = desc("billed_commands_total", "Commands the store billed, counted by this process since it started.", "provider", "role")
	col.billedRequests = desc("billed_requests_total", "Requests sent to a metered store.", "provider", "role")
	col.billedBytes = desc("billed_bytes_total", "Bytes of request and response bodies a metered store billed.", "provider", "role", "direction")
	col.memberReads = desc("member_reads_total", "Reads a composite provider made of each member, by result.", "provider", "role", "result")
	col.memberErrors = desc("member_errors_total", "Failed calls to each member of a composite provider.", "provider", "role")
	col.memberCalls = desc("member_calls_total", "Calls to each member of a composite provider.", "provider", "role")
	col.memberSeconds = desc("member_call_seconds_total", "Total time of the calls to each member of a composite provider.", "provider", "role")
	col.monthCommands = desc("month_billed_commands", "Commands billed this calendar month (UTC), by this process.")
	col.monthBytes = desc("month_billed_bytes", "Bytes billed this calendar month (UTC), by this process.")
	col.projCommands = desc("month_projected_commands", "This month's billed commands extended to its end at the rate so far.")
	col.projBytes = desc("month_projected_bytes", "This month's billed bytes extended to its end at the rate so far.")
	col.budCmds = desc("budget_commands", "The monthly command budget.")
	col.budBytes = desc("budget_bytes", "The monthly bandwidth budget, in bytes.")
	col.routeRequests = desc("route_requests_total", "GET and HEAD requests per Echo route, by how the response cache answered (hit, stale, miss, bypass).", "route", "result")
	return col
}

func hasCircuit(s *aside.Stats) bool { return s.Circuit != "" }

// instrumented finds the Instrument wrappers under p: through Unwrap, and
// in the members of a composite provider.
func instrumented(p provider.Provider) []*Provider {
	var out []*Provider
	for p != nil {
		if w, ok := p.(*Provider); ok {
			out = append(out, w)
		}
		if comp, ok := p.(provider.Composite); ok {
			for _, m := range comp.Members() {
				out = append(out, instrumented(m.Provider)...)
			}
			break
		}
		u, ok := p.(provider.Unwrapper)
		if !ok {
			break
		}
		p = u.Unwrap()
	}
	return out
}

// Describe sends every metric's description.
func (col *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range col.stats {
		ch <- m.desc
	}
	for _, d := range []*prometheus.Desc{col.circuitState, col.keys, col.memBytes, col.memMax,
		col.billedCommands, col.billedRequests, col.billedBytes,
		col.memberReads, col.memberErrors, col.memberCalls, col.memberSeconds,
		col.monthCommands, col.monthBytes, col.projCommands, col.projBytes, col.budCmds, col.budBytes,
		col.routeRequests} {
		ch <- d
	}
	for _, w := range col.inst {
		w.Describe(ch)
	}
}

// Collect reads the Cache's Stats and sends the metrics.
func (col *Collector) Collect(ch chan<- prometheus.Metric) {
	s := col.c.Stats()
	for _, m := range col.stats {
		if m.only == nil || m.only(&s) {
			ch <- prometheus.MustNewConstMetric(m.desc, m.typ, float64(m.value(&s)))
		}
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	count := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if s.Circuit != "" {
		for _, st := range []circuit.State{circuit.Closed, circuit.HalfOpen, circuit.Open} {
			v := 0.0
			if st.String() == s.Circuit {
				v = 1
			}
			gauge(col.circuitState, v, st.String())
		}
	}
	if s.Keys >= 0 {
		gauge(col.keys, float64(s.Keys))
	}
	if s.Bytes >= 0 {
		gauge(col.memBytes, float64(s.Bytes))
		gauge(col.memMax, float64(s.MaxBytes))
	}
	for _, p := range s.Providers {
		if b := p.Billed; b != nil {
			count(col.billedCommands, float64(b.Commands), p.Name, p.Role)
			count(col.billedRequests, float64(b.Requests), p.Name, p.Role)
			count(col.billedBytes, float64(b.BytesSent), p.Name, p.Role, "sent")
			count(col.billedBytes, float64(b.BytesReceived), p.Name, p.Role, "received")
		}
		if m := p.Member; m != nil {
			count(col.memberReads, float64(m.Hits), p.Name, p.Role, "hit")
			count(col.memberReads, float64(m.Misses), p.Name, p.Role, "miss")
			count(col.memberErrors, float64(m.Errors), p.Name, p.Role)
			count(col.memberCalls, float64(m.Calls), p.Name, p.Role)
			count(col.memberSeconds, m.CallTime.Seconds(), p.Name, p.Role)
		}
	}
	if u := s.Usage; u != nil {
		gauge(col.monthCommands, float64(u.Commands))
		gauge(col.monthBytes, float64(u.Bytes))
		gauge(col.projCommands, float64(u.ProjectedCommands))
		gauge(col.projBytes, float64(u.ProjectedBytes))
		if u.CommandBudget > 0 {
			gauge(col.budCmds, float64(u.CommandBudget))
		}
		if u.BandwidthBudget > 0 {
			gauge(col.budBytes, float64(u.BandwidthBudget))
		}
	}
	if col.routes != nil {
		for _, r := range col.routes.Routes() {
			count(col.routeRequests, float64(r.Hits), r.Route, "hit")
			count(col.routeRequests, float64(r.Stale), r.Route, "stale")
			count(col.routeRequests, float64(r.Misses), r.Route, "miss")
			count(col.routeRequests, float64(r.Bypass), r.Route, "bypass")
		}
	}
	for _, w := range col.inst {
		w.Collect(ch)
	}
}
