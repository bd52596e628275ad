package redis_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider/redis"
)

// benchValueSize is a typical compressed cache entry.
const benchValueSize = 1024

// benchSetup returns a raw client on database testDB of the shared test server and a
// provider over that same client, with an entry and three tag keys stored.
// Both sides of every comparison share the client, its pool and the bytes.
func benchSetup(b *testing.B) (*goredis.Client, *redis.Provider, []string) {
	b.Helper()
	c := goredis.NewClient(&goredis.Options{
		Addr: testServer(b).Addr(), DB: testDB,
		ContextTimeoutEnabled: true,
		PoolSize:              64, // room for the 32+ goroutines of the parallel runs
	})
	b.Cleanup(func() { _ = c.Close() })
	p, err := redis.New(c, redis.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	keys := []string{"bench:entry", "bench:tag:a", "bench:tag:b", "bench:tag:c"}
	value := bytes.Repeat([]byte{0xa5}, benchValueSize)
	for i, k := range keys {
		v := value
		if i > 0 {
			v = []byte("1700000000000000000") // a tag version stamp
		}
		if err := c.Set(ctx, k, v, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { _ = c.Del(context.Background(), keys...).Err() })
	return c, p, keys
}

// BenchmarkGetHit compares Provider.Get with go-redis GET of the same
// stored bytes over the same client: serial latency, and throughput from 32
// goroutines (SetParallelism(16) on 2 CPUs; more on bigger machines).
// The provider's overhead target is aside/raw throughput >= 0.9.
func BenchmarkGetHit(b *testing.B) {
	c, p, keys := benchSetup(b)
	key := keys[0]
	aside := func(ctx context.Context) ([]byte, error) { return p.Get(ctx, key) }
	raw := func(ctx context.Context) ([]byte, error) { return c.Get(ctx, key).Bytes() }
	// go-redis's (experimental) auto-pipelining batches concurrent commands
	// into one write: it answers whether pipelining concurrent cache reads
	// would pay. It is measured, not used by the provider.
	ap, err := c.AutoPipeline()
	if err != nil {
		b.Fatal(err)
	}
	autopipelined := func(ctx context.Context) ([]byte, error) { return ap.Get(ctx, key).Bytes() }
	for _, mode := range []struct {
		name     string
		parallel bool
	}{{"serial", false}, {"parallel32", true}} {
		for _, side := range []struct {
			name string
			get  func(context.Context) ([]byte, error)
		}{{"raw", raw}, {"aside", aside}, {"raw-autopipeline", autopipelined}} {
			if side.name == "raw-autopipeline" && !mode.parallel {
				continue // a lone caller has nothing to batch with
			}
			b.Run(mode.name+"/"+side.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(benchValueSize)
				ctx := context.Background()
				if !mode.parallel {
					for b.Loop() {
						if v, err := side.get(ctx); err != nil || len(v) != benchValueSize {
							b.Fatalf("GET = %d bytes, %v", len(v), err)
						}
					}
					return
				}
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if v, err := side.get(ctx); err != nil || len(v) != benchValueSize {
							b.Errorf("GET = %d bytes, %v", len(v), err)
							return
						}
					}
				})
			})
		}
	}
}

// BenchmarkGetMulti is a cache read with its tag check: the entry plus three
// tag version keys in one round trip (MGET), against go-redis MGET directly.
func BenchmarkGetMulti(b *testing.B) {
	c, p, keys := benchSetup(b)
	b.Run("entry+3tags/raw", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		for b.Loop() {
			if vs, err := c.MGet(ctx, keys...).Result(); err != nil || len(vs) != len(keys) {
				b.Fatalf("MGET = %d values, %v", len(vs), err)
			}
		}
	})
	b.Run("entry+3tags/aside", func(b *testing.B) {
		b.ReportAllocs()
		ctx := context.Background()
		for b.Loop() {
			if vs, err := p.GetMulti(ctx, keys); err != nil || len(vs[0]) != benchValueSize {
				b.Fatalf("GetMulti = %d values, %v", len(vs), err)
			}
		}
	})
	b.Run("entry+3tags/aside-parallel32", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		ctx := context.Background()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if vs, err := p.GetMulti(ctx, keys); err != nil || len(vs[0]) != benchValueSize {
					b.Errorf("GetMulti = %d values, %v", len(vs), err)
					return
				}
			}
		})
	})
}
