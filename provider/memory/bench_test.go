package memory

import (
	"fmt"
	"strconv"
	"testing"
)

const benchKeys = 1 << 14

func benchProvider(b *testing.B) (*Provider, []string) {
	b.Helper()
	p := newProvider(b, Options{})
	keys := make([]string, benchKeys)
	value := make([]byte, 256)
	for i := range keys {
		keys[i] = fmt.Sprintf("bench:key:%08d", i)
		if err := p.Set(b.Context(), keys[i], value, 0); err != nil {
			b.Fatal(err)
		}
	}
	return p, keys
}

func BenchmarkGetHit(b *testing.B) {
	p, keys := benchProvider(b)
	ctx := b.Context()
	b.SetBytes(256)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := p.Get(ctx, keys[i&(benchKeys-1)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGetHitParallel(b *testing.B) {
	p, keys := benchProvider(b)
	ctx := b.Context()
	b.SetBytes(256)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := p.Get(ctx, keys[i&(benchKeys-1)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkGetMiss(b *testing.B) {
	p, _ := benchProvider(b)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Get(ctx, "bench:missing"); err == nil {
			b.Fatal("hit")
		}
	}
}

func BenchmarkSet(b *testing.B) {
	for _, size := range []int{64, 1024, 16 << 10} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			p, keys := benchProvider(b)
			ctx := b.Context()
			value := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := p.Set(ctx, keys[i&(benchKeys-1)], value, 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkSetParallel(b *testing.B) {
	p, keys := benchProvider(b)
	ctx := b.Context()
	value := make([]byte, 256)
	b.SetBytes(256)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := p.Set(ctx, keys[i&(benchKeys-1)], value, 0); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
