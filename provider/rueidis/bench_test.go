package rueidis_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	rue "github.com/redis/rueidis"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
	"github.com/aside-go/aside/provider/redis"
	"github.com/aside-go/aside/provider/rueidis"
)

// The benchmarks of this file compare, on the binary's shared test-owned
// redis-server, the ways aside can read Redis:
//
//   - goredis: a bare go-redis GET, no pipelining, with a pool of 128
//     connections so that no goroutine ever waits for one (the baseline of
//     issue 12's target: pipelined throughput at 32 goroutines >= 1.3x);
//   - rueidis: a bare rueidis GET with its default auto-pipelining
//     (concurrent commands share a connection and a write);
//   - provider-redis: aside's go-redis provider, built from a URL as FromEnv
//     builds it (go-redis's default pool: 10 per CPU);
//   - provider-rueidis: this package's provider, built from a URL.
//
// Goroutine counts are b.SetParallelism(n/GOMAXPROCS) x GOMAXPROCS; the
// figures in NOTES.md are from GOMAXPROCS=2.

// benchValueSize is a typical compressed cache entry.
const benchValueSize = 1024

// readers are the four sides, each a function reading key.
type reader struct {
	name string
	get  func(ctx context.Context, key string) ([]byte, error)
}

// benchReaders builds the four sides over the shared server (database
// testDB) and stores value under every key of keys.
func benchReaders(b *testing.B, keys []string, value []byte) []reader {
	b.Helper()
	s := testServer(b)
	gr := goredis.NewClient(&goredis.Options{Addr: s.Addr(), DB: testDB, ContextTimeoutEnabled: true, PoolSize: 128})
	b.Cleanup(func() { _ = gr.Close() })
	rc, err := rue.NewClient(rue.ClientOption{InitAddress: []string{s.Addr()}, SelectDB: testDB, ForceSingleClient: true, DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(rc.Close)
	pr, err := redis.NewFromURL(s.URL(testDB), redis.Options{Timeout: benchTimeout})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pr.Close() })
	pu, err := rueidis.NewFromURL(s.URL(testDB), rueidis.Options{Timeout: benchTimeout})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pu.Close() })
	ctx := context.Background()
	for _, k := range keys {
		if err := gr.Set(ctx, k, value, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { _ = gr.Del(context.Background(), keys...).Err() })
	return []reader{
		{"goredis", func(ctx context.Context, k string) ([]byte, error) { return gr.Get(ctx, k).Bytes() }},
		{"rueidis", func(ctx context.Context, k string) ([]byte, error) {
			return rc.Do(ctx, rc.B().Get().Key(k).Build()).AsBytes()
		}},
		{"provider-redis", pr.Get},
		{"provider-rueidis", pu.Get},
	}
}

// goroutineCounts are the concurrency levels of the throughput runs.
var goroutineCounts = []int{1, 8, 32, 128}

// runAt runs op b.N times from n goroutines (n = 1: b.Loop).
func runAt(b *testing.B, n int, op func() error) {
	if n == 1 {
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.SetParallelism(max(1, n/runtimeProcs()))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGetHit is the throughput of a GET hit of one 1 KiB entry from 1,
// 8, 32 and 128 goroutines (ns/op is wall time per op over all goroutines).
func BenchmarkGetHit(b *testing.B) {
	const key = "bench:entry"
	value := bytes.Repeat([]byte{0xa5}, benchValueSize)
	sides := benchReaders(b, []string{key}, value)
	ctx := context.Background()
	for _, n := range goroutineCounts {
		for _, side := range sides {
			b.Run(fmt.Sprintf("g=%d/%s", n, side.name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(benchValueSize)
				runAt(b, n, func() error {
					v, err := side.get(ctx, key)
					if err == nil && len(v) != benchValueSize {
						err = fmt.Errorf("GET returned %d bytes", len(v))
					}
					return err
				})
			})
		}
	}
}

// BenchmarkGetLatency is the latency of each GET hit at low concurrency,
// where auto-pipelining has little to batch: p50 and p99 per op are
// reported as p50-ns and p99-ns.
func BenchmarkGetLatency(b *testing.B) {
	const key = "bench:latency"
	value := bytes.Repeat([]byte{0x5a}, benchValueSize)
	sides := benchReaders(b, []string{key}, value)
	ctx := context.Background()
	for _, n := range []int{1, 4} {
		for _, side := range sides {
			b.Run(fmt.Sprintf("g=%d/%s", n, side.name), func(b *testing.B) {
				b.ReportAllocs()
				var mu sync.Mutex
				var all []time.Duration
				record := func(ds []time.Duration) {
					mu.Lock()
					all = append(all, ds...)
					mu.Unlock()
				}
				one := func(ds *[]time.Duration) error {
					t0 := time.Now()
					_, err := side.get(ctx, key)
					*ds = append(*ds, time.Since(t0))
					return err
				}
				if n == 1 {
					var ds []time.Duration
					for b.Loop() {
						if err := one(&ds); err != nil {
							b.Fatal(err)
						}
					}
					record(ds)
				} else {
					b.SetParallelism(max(1, n/runtimeProcs()))
					b.RunParallel(func(pb *testing.PB) {
						var ds []time.Duration
						for pb.Next() {
							if err := one(&ds); err != nil {
								b.Error(err)
								return
							}
						}
						record(ds)
					})
				}
				reportQuantiles(b, all, "")
			})
		}
	}
}

// reportQuantiles reports the p50 and p99 of ds as custom metrics.
func reportQuantiles(b *testing.B, ds []time.Duration, prefix string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))].Nanoseconds()) }
	b.ReportMetric(at(0.50), prefix+"p50-ns")
	b.ReportMetric(at(0.99), prefix+"p99-ns")
}

// BenchmarkGetMulti is a cache read with its tag check: the entry plus three
// tag version keys in one round trip, serial and from 32 goroutines.
func BenchmarkGetMulti(b *testing.B) {
	keys := []string{"bench:m:entry", "bench:m:tag:a", "bench:m:tag:b", "bench:m:tag:c"}
	value := bytes.Repeat([]byte{0xa5}, benchValueSize)
	s := testServer(b)
	pr, err := redis.NewFromURL(s.URL(testDB), redis.Options{Timeout: benchTimeout})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pr.Close() })
	pu, err := rueidis.NewFromURL(s.URL(testDB), rueidis.Options{Timeout: benchTimeout})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pu.Close() })
	ctx := context.Background()
	for _, k := range keys {
		if err := pr.Set(ctx, k, value, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() { _, _ = pr.Delete(context.Background(), keys...) })
	for _, n := range []int{1, 32} {
		for _, side := range []struct {
			name string
			p    provider.Provider
		}{{"provider-redis", pr}, {"provider-rueidis", pu}} {
			b.Run(fmt.Sprintf("g=%d/%s", n, side.name), func(b *testing.B) {
				b.ReportAllocs()
				runAt(b, n, func() error {
					vs, err := side.p.GetMulti(ctx, keys)
					if err == nil && len(vs[0]) != benchValueSize {
						err = fmt.Errorf("GetMulti returned %d bytes", len(vs[0]))
					}
					return err
				})
			})
		}
	}
}

type benchUser struct {
	ID    int64
	Name  string
	Email string
	Roles []string
	Bio   string
}

// rememberSide is a Cache over one provider.
type rememberSide struct {
	name  string
	cache *aside.Cache
}

// rememberVariants are the Remember calls measured: the root benchmark's.
var rememberVariants = []struct {
	name string
	opts []aside.Option
}{
	{"untagged", []aside.Option{aside.TTL(time.Hour)}},
	{"3tags", []aside.Option{aside.TTL(time.Hour), aside.Tags("user:42", "org:7", "users")}},
}

var benchAda = benchUser{42, "Ada Lovelace", "ada@example.com", []string{"admin", "editor"},
	"Mathematician and writer, chiefly known for her work on Babbage's Analytical Engine."}

func loadAda(context.Context) (benchUser, error) { return benchAda, nil }

// rememberSides returns a Cache over each provider (memory, provider-redis,
// provider-rueidis) with the User stored under each variant's key.
func rememberSides(b *testing.B) []rememberSide {
	b.Helper()
	s := testServer(b)
	ctx := context.Background()
	mem, err := memory.New(memory.Options{})
	if err != nil {
		b.Fatal(err)
	}
	pr, err := redis.NewFromURL(s.URL(testDB), redis.Options{Timeout: benchTimeout})
	if err != nil {
		b.Fatal(err)
	}
	pu, err := rueidis.NewFromURL(s.URL(testDB), rueidis.Options{Timeout: benchTimeout})
	if err != nil {
		b.Fatal(err)
	}
	var out []rememberSide
	for _, side := range []struct {
		name string
		p    provider.Provider
	}{{"memory", mem}, {"provider-redis", pr}, {"provider-rueidis", pu}} {
		cache, err := aside.New(aside.Options{Provider: side.p, Namespace: "bench-" + side.name})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_, _ = cache.InvalidatePattern(context.Background(), "*")
			_ = cache.Close()
			_ = side.p.Close()
		})
		for _, v := range rememberVariants {
			if _, err := aside.Remember(ctx, cache, "user:42:"+v.name, loadAda, v.opts...); err != nil {
				b.Fatal(err)
			}
		}
		out = append(out, rememberSide{side.name, cache})
	}
	return out
}

// remember is one Remember hit of variant v on c.
func remember(ctx context.Context, c *aside.Cache, v int) error {
	got, err := aside.Remember(ctx, c, "user:42:"+rememberVariants[v].name, loadAda, rememberVariants[v].opts...)
	if err == nil && got.ID != 42 {
		err = fmt.Errorf("got %+v", got)
	}
	return err
}

// BenchmarkRememberHit is the root package's BenchmarkRememberHit (the
// issue's User struct, untagged and with 3 tags) over Redis: the whole
// aside hit through each provider, serial and from 32 goroutines, with the
// memory provider alongside for reference. BenchmarkRememberSideBySide is
// the same in turns, for a loaded machine.
func BenchmarkRememberHit(b *testing.B) {
	sides := rememberSides(b)
	ctx := context.Background()
	for _, side := range sides {
		for vi, v := range rememberVariants {
			for _, n := range []int{1, 32} {
				b.Run(fmt.Sprintf("%s/g=%d/%s", v.name, n, side.name), func(b *testing.B) {
					b.ReportAllocs()
					runAt(b, n, func() error { return remember(ctx, side.cache, vi) })
				})
			}
		}
		if st := side.cache.Stats(); st.Misses != 2 {
			b.Fatalf("%s: the benchmark should hit every time after the first loads: %+v", side.name, st)
		}
	}
}

// BenchmarkRememberSideBySide is BenchmarkRememberHit in turns, like
// BenchmarkSideBySide: per variant and concurrency it reports each side's
// median throughput over the rounds (kops/s), its median per-round ratio to
// the go-redis provider (x-provider-redis), and the p50/p99 of every call.
// Run it once: go test -run '^$' -bench RememberSideBySide -benchtime 1x.
func BenchmarkRememberSideBySide(b *testing.B) {
	sides := rememberSides(b)
	ctx := context.Background()
	for vi, v := range rememberVariants {
		for _, n := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/g=%d", v.name, n), func(b *testing.B) {
				rate := make([][]float64, len(sides))
				lat := make([][]time.Duration, len(sides))
				for range b.N {
					for r := range sideRounds {
						for i := range sides {
							s := (i + r) % len(sides)
							ops, ds := slice(n, func() error { return remember(ctx, sides[s].cache, vi) })
							rate[s] = append(rate[s], float64(ops)/sideSlice.Seconds())
							lat[s] = append(lat[s], ds...)
						}
					}
				}
				for s, side := range sides {
					ratios := make([]float64, len(rate[s]))
					for r := range ratios {
						ratios[r] = rate[s][r] / rate[1][r]
					}
					b.ReportMetric(median(rate[s])/1000, side.name+"-kops/s")
					b.ReportMetric(median(ratios), side.name+"-x-provider-redis")
					reportQuantilesUS(b, lat[s], side.name+"-")
				}
			})
		}
	}
}

// benchTimeout is the providers' Timeout in the benchmarks: long enough that
// no call of a 128-goroutine run on a loaded 2-core machine times out (a
// timeout would fail the run); it changes nothing else.
const benchTimeout = 2 * time.Second
