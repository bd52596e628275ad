package circuit_test

import (
	"fmt"
	"testing"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
	"github.com/aside-go/aside/provider/memory"
)

const benchKeys = 1 << 14

// benchProviders returns a memory store filled with benchKeys 256-byte
// values, and the same store behind a breaker.
func benchProviders(b *testing.B) (raw, guarded provider.Provider, keys []string) {
	b.Helper()
	m, err := memory.New(memory.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() })
	keys = make([]string, benchKeys)
	value := make([]byte, 256)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:key:%08d", i)
		if err := m.Set(b.Context(), keys[i], value, 0); err != nil {
			b.Fatal(err)
		}
	}
	guarded, _, err = circuit.Wrap(m, circuit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return m, guarded, keys
}

// BenchmarkGetHit measures a memory hit without and with the breaker; the
// difference is the breaker's cost per call.
func BenchmarkGetHit(b *testing.B) {
	raw, guarded, keys := benchProviders(b)
	for _, bc := range []struct {
		name string
		p    provider.Provider
	}{{"memory", raw}, {"circuit", guarded}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := b.Context()
			b.SetBytes(256)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := bc.p.Get(ctx, keys[i&(benchKeys-1)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkGetHitParallel is BenchmarkGetHit from GOMAXPROCS goroutines,
// where gobreaker's mutex (taken twice per call) is contended.
func BenchmarkGetHitParallel(b *testing.B) {
	raw, guarded, keys := benchProviders(b)
	for _, bc := range []struct {
		name string
		p    provider.Provider
	}{{"memory", raw}, {"circuit", guarded}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := b.Context()
			b.SetBytes(256)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := bc.p.Get(ctx, keys[i&(benchKeys-1)]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkNoopStore isolates the breaker's own cost: the store behind it
// does nothing but count the call.
func BenchmarkNoopStore(b *testing.B) {
	f := &fake{}
	guarded, _, err := circuit.Wrap(f, circuit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		p    provider.Provider
	}{{"bare", f}, {"circuit", guarded}} {
		b.Run(bc.name+"/serial", func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.p.Get(ctx, "k"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			ctx := b.Context()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bc.p.Get(ctx, "k"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRefused measures a call refused by an open circuit: what a
// request pays per cache call during an outage.
func BenchmarkRefused(b *testing.B) {
	f := &fake{}
	f.answer(errDown)
	p, _, err := circuit.Wrap(f, circuit.Options{Failures: 1, CoolDown: 1 << 62})
	if err != nil {
		b.Fatal(err)
	}
	_, _ = p.Get(b.Context(), "k")
	b.Run("serial", func(b *testing.B) {
		ctx := b.Context()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Get(ctx, "k"); err == nil {
				b.Fatal("an open circuit let a call through")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		ctx := b.Context()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := p.Get(ctx, "k"); err == nil {
					b.Error("an open circuit let a call through")
					return
				}
			}
		})
	})
	if n := f.calls.Load(); n != 1 {
		b.Fatalf("the store was called %d times, want 1", n)
	}
}
