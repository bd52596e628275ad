package metrics

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aside-go/aside/provider"
)

// DefaultBuckets are the latency buckets of the provider-call histogram, in
// seconds: from 50 µs (an in-process store) to 1 s (past any provider's
// timeout), so that a loopback Redis (~0.1-1 ms) and a REST store across a
// region (~5-50 ms) both land in the middle.
var DefaultBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// The operations the histogram's op label takes.
const (
	opGet = iota
	opGetMulti
	opSet
	opAdd
	opCAS
	opDelete
	opPing
	opSetMulti
	opAddMulti
	opDeletePattern
	opLen
	numOps
)

var opNames = [numOps]string{"get", "get_multi", "set", "add", "compare_and_swap", "delete", "ping", "set_multi", "add_multi", "delete_pattern", "len"}

// Provider is a provider.Provider whose every call is timed into the
// aside_provider_call_duration_seconds histogram. Create it with Instrument.
type Provider struct {
	p   provider.Provider
	vec *prometheus.HistogramVec
	obs [numOps]prometheus.Observer
}

var (
	_ provider.Provider       = (*Provider)(nil)
	_ provider.Batcher        = (*Provider)(nil)
	_ provider.MultiAdder     = (*Provider)(nil)
	_ provider.PatternDeleter = (*Provider)(nil)
	_ provider.Counter        = (*Provider)(nil)
	_ provider.Unwrapper      = (*Provider)(nil)
)

// Instrument returns p with every call timed, for the latency histograms a
// Collector exports. Pass what it returns as aside.Options.Provider; the
// Cache's circuit breaker goes in front of it, so only the calls that reach
// the store are timed. A Collector of that Cache finds it by itself.
//
// It costs two clock reads and one histogram observation per provider call
// (measured in this package's BenchmarkRememberHit); a Cache without it
// pays nothing.
//
// Like the circuit breaker's, the instrumented provider offers every
// optional ability of package provider: provider.Batcher and
// provider.MultiAdder are emulated one item at a time when p lacks them, and
// provider.PatternDeleter and provider.Counter answer
// provider.ErrNotSupported, which the Cache reads as the ability missing.
// provider.Meter, provider.Sizer and provider.Composite are reached through
// Unwrap, as the Cache does.
//
// The histogram's labels are cache (Options.Cache), provider (the package
// name of p's innermost provider: "memory", "redis", "upstash"...) and op.
func Instrument(p provider.Provider, o Options) *Provider {
	o = o.withDefaults()
	vec := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace:   namespace,
		Name:        "provider_call_duration_seconds",
		Help:        "Duration of the calls the cache made to its provider, by operation (refusals of an open circuit excluded).",
		ConstLabels: prometheus.Labels{"cache": o.Cache, "provider": provider.Name(p)},
		Buckets:     o.Buckets,
	}, []string{"op"})
	w := &Provider{p: p, vec: vec}
	for i, name := range opNames {
		w.obs[i] = vec.WithLabelValues(name)
	}
	return w
}

// Unwrap returns the provider Instrument wrapped.
func (w *Provider) Unwrap() provider.Provider { return w.p }

// Describe and Collect make the histogram a prometheus.Collector; a
// Collector over the Cache forwards them, so register only the Collector.
func (w *Provider) Describe(ch chan<- *prometheus.Desc) { w.vec.Describe(ch) }

// Collect: see Describe.
func (w *Provider) Collect(ch chan<- prometheus.Metric) { w.vec.Collect(ch) }

func (w *Provider) since(op int, start time.Time) {
	w.obs[op].Observe(time.Since(start).Seconds())
}

// Get times the wrapped provider's Get.
func (w *Provider) Get(ctx context.Context, key string) ([]byte, error) {
	start := time.Now()
	defer w.since(opGet, start)
	return w.p.Get(ctx, key)
}

// GetMulti times the wrapped provider's GetMulti.
func (w *Provider) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	start := time.Now()
	defer w.since(opGetMulti, start)
	return w.p.GetMulti(ctx, keys)
}

// Set times the wrapped provider's Set.
func (w *Provider) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	start := time.Now()
	defer w.since(opSet, start)
	return w.p.Set(ctx, key, value, ttl)
}

// Add times the wrapped provider's Add.
func (w *Provider) Add(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, bool, error) {
	start := time.Now()
	defer w.since(opAdd, start)
	return w.p.Add(ctx, key, value, ttl)
}

// CompareAndSwap times the wrapped provider's CompareAndSwap.
func (w *Provider) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	start := time.Now()
	defer w.since(opCAS, start)
	return w.p.CompareAndSwap(ctx, key, old, new, ttl)
}

// Delete times the wrapped provider's Delete.
func (w *Provider) Delete(ctx context.Context, keys ...string) (int, error) {
	start := time.Now()
	defer w.since(opDelete, start)
	return w.p.Delete(ctx, keys...)
}

// Ping times the wrapped provider's Ping.
func (w *Provider) Ping(ctx context.Context) error {
	start := time.Now()
	defer w.since(opPing, start)
	return w.p.Ping(ctx)
}

// Close closes the wrapped provider.
func (w *Provider) Close() error { return w.p.Close() }

// SetMulti times the wrapped provider's SetMulti, or one Set per item when
// it has none.
func (w *Provider) SetMulti(ctx context.Context, items []provider.Item) error {
	if b, ok := w.p.(provider.Batcher); ok {
		start := time.Now()
		defer w.since(opSetMulti, start)
		return b.SetMulti(ctx, items)
	}
	for _, it := range items {
		if err := w.Set(ctx, it.Key, it.Value, it.TTL); err != nil {
			return err
		}
	}
	return nil
}

// AddMulti times the wrapped provider's AddMulti, or one Add per item when
// it has none.
func (w *Provider) AddMulti(ctx context.Context, items []provider.Item) ([]provider.AddResult, error) {
	if m, ok := w.p.(provider.MultiAdder); ok {
		start := time.Now()
		defer w.since(opAddMulti, start)
		return m.AddMulti(ctx, items)
	}
	out := make([]provider.AddResult, len(items))
	for i, it := range items {
		existing, added, err := w.Add(ctx, it.Key, it.Value, it.TTL)
		if err != nil {
			return nil, err
		}
		out[i] = provider.AddResult{Added: added, Existing: existing}
	}
	return out, nil
}

// DeletePattern times the wrapped provider's DeletePattern, or returns an
// error matching provider.ErrNotSupported.
func (w *Provider) DeletePattern(ctx context.Context, pattern string) (int, error) {
	pd, ok := w.p.(provider.PatternDeleter)
	if !ok {
		return 0, errNotSupported("DeletePattern")
	}
	start := time.Now()
	defer w.since(opDeletePattern, start)
	return pd.DeletePattern(ctx, pattern)
}

// Len times the wrapped provider's Len, or returns an error matching
// provider.ErrNotSupported.
func (w *Provider) Len(ctx context.Context) (int64, error) {
	n, ok := w.p.(provider.Counter)
	if !ok {
		return 0, errNotSupported("Len")
	}
	start := time.Now()
	defer w.since(opLen, start)
	return n.Len(ctx)
}

func errNotSupported(op string) error {
	return fmt.Errorf("aside: metrics: %s: %w", op, provider.ErrNotSupported)
}
