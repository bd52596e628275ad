package metrics_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/metrics"
	"github.com/aside-go/aside/provider"
)

type user struct {
	ID    int64
	Name  string
	Email string
	Roles []string
}

// BenchmarkRememberHit measures a Remember hit on the memory provider,
// bare and wrapped by Instrument: the cost of timing every provider call.
func BenchmarkRememberHit(b *testing.B) {
	for _, tc := range []struct {
		name string
		wrap func(provider.Provider) provider.Provider
	}{
		{"bare", func(p provider.Provider) provider.Provider { return p }},
		{"instrumented", func(p provider.Provider) provider.Provider { return metrics.Instrument(p, metrics.Options{}) }},
	} {
		c := newCache(b, aside.Options{Provider: tc.wrap(newMemory(b)), Breaker: aside.Breaker{Disabled: true}})
		ctx := context.Background()
		u := user{ID: 42, Name: "Ada Lovelace", Email: "ada@example.com", Roles: []string{"admin"}}
		load := func(context.Context) (user, error) { return u, nil }
		if _, err := aside.Remember(ctx, c, "user:42", load); err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := aside.Remember(ctx, c, "user:42", load); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := aside.Remember(ctx, c, "user:42", load); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkScrape measures one scrape of a Collector: what Prometheus
// costs the process every scrape interval, off the hit path.
func BenchmarkScrape(b *testing.B) {
	mo := metrics.Options{}
	c := newCache(b, aside.Options{Provider: metrics.Instrument(newMemory(b), mo), Breaker: aside.Breaker{Disabled: true}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(c, mo))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet isolates the wrapper's cost on one provider call: a memory
// Get, bare and instrumented.
func BenchmarkGet(b *testing.B) {
	raw := newMemory(b)
	ctx := context.Background()
	if err := raw.Set(ctx, "k", make([]byte, 256), 0); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    provider.Provider
	}{{"bare", raw}, {"instrumented", metrics.Instrument(raw, metrics.Options{})}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := tc.p.Get(ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
