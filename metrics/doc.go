// Package metrics exports an aside.Cache to Prometheus: a
// prometheus.Collector that reads the Cache's Stats when Prometheus
// scrapes, a provider wrapper that times every provider call into a
// histogram, and the HTTP middleware's per-route counts. It is the only
// package of aside that imports github.com/prometheus/client_golang.
//
// # Use
//
//	mo := metrics.Options{Cache: "shop", Routes: &routes} // routes: a middleware.RouteStats
//	c, err := aside.New(aside.Options{Provider: metrics.Instrument(redisProvider, mo)})
//	...
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(metrics.NewCollector(c, mo))
//	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
//
// Instrument is optional: without it there is no latency histogram, and
// nothing at all is added to the cache's hit path.
//
// # Metrics
//
// Every metric has the label cache (Options.Cache). Counters since the
// Cache was created: aside_hits_total, aside_stale_hits_total,
// aside_misses_total, aside_sets_total, aside_deletes_total,
// aside_loads_total, aside_load_errors_total, aside_provider_errors_total,
// aside_provider_timeouts_total, aside_decode_failures_total,
// aside_invalidations_total, aside_pattern_deletes_total,
// aside_invalidation_retries_total, aside_tag_repairs_total,
// aside_redactions_total, aside_raw_bytes_total, aside_encoded_bytes_total,
// aside_stored_bytes_total, aside_compression_saved_bytes_total, and with a
// circuit breaker aside_circuit_opens_total and aside_circuit_rejected_total.
//
// Gauges: aside_invalidations_pending; aside_circuit_state{state} (1 for
// the current state of closed, half-open, open); aside_keys when the
// provider counts its keys; aside_memory_bytes and aside_memory_max_bytes
// for the memory provider.
//
// Billing, per store (labels provider, role): aside_billed_commands_total,
// aside_billed_requests_total, aside_billed_bytes_total{direction}; and this
// month's aside_month_billed_commands, aside_month_billed_bytes,
// aside_month_projected_commands, aside_month_projected_bytes against
// aside_budget_commands and aside_budget_bytes. They are counted per
// process: for a fleet sharing one store, alert on
// sum(aside_month_billed_commands) / max(aside_budget_commands).
//
// A composite provider's members, side by side (labels provider, role):
// aside_member_reads_total{result="hit"|"miss"}, aside_member_errors_total,
// aside_member_calls_total, aside_member_call_seconds_total.
//
// Latency (Instrument): aside_provider_call_duration_seconds{provider,op}, a
// histogram with op one of get, get_multi, set, add, compare_and_swap,
// delete, ping, set_multi, add_multi, delete_pattern, len.
//
// Per route (Options.Routes): aside_route_requests_total{route,result}, the
// route being the Echo route path (never the URL) and result one of hit,
// stale, miss, bypass.
//
// The hit rate over a window is a query, not a metric:
//
//	sum(rate(aside_hits_total[5m])) / (sum(rate(aside_hits_total[5m])) + sum(rate(aside_misses_total[5m])))
//
// # Concurrency
//
// All methods are safe for concurrent use. A Collector keeps no state
// between scrapes besides what it was given.
//
// # What it does not do
//
// It registers nothing by itself (no global registry) and serves no HTTP:
// use promhttp. It does not export Health, which pings the provider: scrape
// /_cache/health (package middleware) for that.
package metrics
