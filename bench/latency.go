package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/keys"
	"github.com/aside-go/aside/provider/redis"
)

// hitRow is one hit path measured serially and in parallel.
type hitRow struct {
	name             string
	serial, parallel testing.BenchmarkResult
}

// hitTable is the hit section for one provider.
type hitTable struct {
	provider    string
	goroutines  int      // of the parallel runs
	rows        []hitRow // aside's hit paths
	raw         []hitRow // go-redis GET of the stored entry, before and after rows (Redis only)
	skipped     string   // why the provider was not measured
	hitsChecked int64    // hits the cache counted during the runs
}

const benchKey = "user:42"

var benchTags = []string{"user:42", "org:7", "users"}

// rememberBench measures aside.Remember hits of the User. parallelism is
// RunParallel's multiplier of GOMAXPROCS; 0 means a serial loop.
func rememberBench(c *aside.Cache, u User, opts []aside.Option, parallelism int) func(*testing.B) {
	ctx := context.Background()
	load := func(context.Context) (User, error) { return u, nil }
	return serialOrParallel(parallelism, func() error {
		got, err := aside.Remember(ctx, c, benchKey, load, opts...)
		if err == nil && got.ID != u.ID {
			err = fmt.Errorf("Remember returned user %d, want %d", got.ID, u.ID)
		}
		return err
	})
}

func serialOrParallel(parallelism int, op func() error) func(*testing.B) {
	if parallelism == 0 {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	return func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
}

// measureHits warms key on c and measures untagged and tagged hits. Every
// call after the first must be a hit: a loader run during the measurement
// is an error, not a slower figure.
func measureHits(c *aside.Cache, u User, parallelism int, t timing) ([]hitRow, int64, error) {
	ctx := context.Background()
	var rows []hitRow
	for _, tc := range []struct {
		name string
		key  string
		opts []aside.Option
	}{
		{"Remember hit, untagged", benchKey, nil},
		{"Remember hit, 3 tags", benchKey, []aside.Option{aside.Tags(benchTags...)}},
	} {
		// Tagged and untagged entries are separate writes of one key.
		if err := c.Delete(ctx, tc.key); err != nil {
			return nil, 0, err
		}
		if _, err := aside.Remember(ctx, c, tc.key, func(context.Context) (User, error) { return u, nil }, tc.opts...); err != nil {
			return nil, 0, err
		}
		before := c.Stats()
		row := hitRow{name: tc.name}
		row.serial = t.run(t.hit, rememberBench(c, u, tc.opts, 0))
		row.parallel = t.run(t.hit, rememberBench(c, u, tc.opts, parallelism))
		after := c.Stats()
		if n := after.Misses - before.Misses; n != 0 {
			return nil, 0, fmt.Errorf("%s: %d misses while measuring hits (provider errors: %d)", tc.name, n, after.Errors-before.Errors)
		}
		if row.serial.N == 0 || row.parallel.N == 0 {
			return nil, 0, fmt.Errorf("%s: the benchmark failed", tc.name)
		}
		rows = append(rows, row)
	}
	return rows, c.Stats().Hits, nil
}

func memoryHits(u User, t timing) (hitTable, error) {
	c, err := aside.New(aside.Options{})
	if err != nil {
		return hitTable{}, err
	}
	defer c.Close()
	tb := hitTable{provider: "memory (default Options)", goroutines: parallelGoroutines(1)}
	tb.rows, tb.hitsChecked, err = measureHits(c, u, 1, t)
	return tb, err
}

// redisParallelism multiplies GOMAXPROCS for the Redis parallel runs: a
// network round trip leaves the CPU idle, so more callers than cores are
// needed to load it, as in a busy service.
const redisParallelism = 16

// redisNamespace keeps the bench's keys apart in its own database; they are
// deleted before and after the run.
const redisNamespace = "aside-bench"

// redisHits measures the same hits on Redis at addr, database db, and a raw
// go-redis GET of the stored bytes. An unreachable Redis is reported in the
// table, not as an error.
func redisHits(ctx context.Context, addr string, db int, u User, t timing) (tb hitTable, err error) {
	tb = hitTable{provider: fmt.Sprintf("Redis %s, DB %d", addr, db), goroutines: parallelGoroutines(redisParallelism)}
	p, err := redis.NewFromURL(fmt.Sprintf("redis://%s/%d", addr, db), redis.Options{})
	if err != nil {
		return tb, err
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := p.Ping(pctx); err != nil {
		_ = p.Close()
		tb.skipped = fmt.Sprintf("Redis at %s did not answer (%v): Redis rows skipped.", addr, err)
		return tb, nil
	}
	c, err := aside.New(aside.Options{Provider: p, Namespace: redisNamespace})
	if err != nil {
		_ = p.Close()
		return tb, err
	}
	defer c.Close()
	kb, err := keys.New(keys.Options{Namespace: redisNamespace})
	if err != nil {
		return tb, err
	}
	clean := func() error {
		_, err := p.DeletePattern(context.Background(), kb.Prefix()+"*")
		return err
	}
	if err := clean(); err != nil {
		return tb, err
	}
	defer func() {
		if cerr := clean(); cerr != nil && err == nil {
			err = fmt.Errorf("deleting the bench keys: %w", cerr)
		}
	}()

	// The raw reference: the stored entry fetched with a plain go-redis
	// client and nothing else, measured before and after the aside rows so
	// that drift in the machine's load shows instead of skewing the ratio.
	if _, err := aside.Remember(ctx, c, benchKey, func(context.Context) (User, error) { return u, nil }, aside.Tags(benchTags...)); err != nil {
		return tb, err
	}
	raw := goredis.NewClient(&goredis.Options{Addr: addr, DB: db, ContextTimeoutEnabled: true})
	defer raw.Close()
	skey, err := kb.Entry(benchKey)
	if err != nil {
		return tb, err
	}
	get := func() error { return raw.Get(ctx, skey).Err() }
	if err := get(); err != nil {
		return tb, fmt.Errorf("raw GET of the stored entry: %w", err)
	}
	measureRaw := func(when string) hitRow {
		return hitRow{
			name:     "go-redis GET of the stored entry, " + when,
			serial:   t.run(t.hit, serialOrParallel(0, get)),
			parallel: t.run(t.hit, serialOrParallel(redisParallelism, get)),
		}
	}
	tb.raw = append(tb.raw, measureRaw("before"))
	if tb.rows, tb.hitsChecked, err = measureHits(c, u, redisParallelism, t); err != nil {
		return tb, err
	}
	// measureHits left the tagged entry, as before.
	tb.raw = append(tb.raw, measureRaw("after"))
	return tb, nil
}

// checkRedisAddr accepts host:port only, so that no credentials can reach
// the report.
func checkRedisAddr(addr string) error {
	if strings.ContainsAny(addr, "@/") {
		return errors.New("-redis takes host:port (no scheme, credentials or database; see -redis-db)")
	}
	return nil
}

// parallelGoroutines is how many goroutines b.RunParallel starts with
// b.SetParallelism(p).
func parallelGoroutines(p int) int { return p * runtime.GOMAXPROCS(0) }
