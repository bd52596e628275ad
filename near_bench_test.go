package aside_test

import (
	"context"
	"strconv"
	"syscall"
	"testing"
	"time"

	rediscache "github.com/go-redis/cache/v9"
	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/redis"
)

// BenchmarkNearHit is a Remember hit on the User struct, served by
// the near tier (shared and safe mode), next to the same hit over Redis
// without the tier and to go-redis/cache's local cache (TinyLFU, which
// keeps the marshaled bytes and decodes them per hit, like safe mode).
// Every side reads from one test-owned redis-server.
//
//	go test -run '^$' -bench BenchmarkNearHit -benchmem .
func BenchmarkNearHit(b *testing.B) {
	addr := benchRedis(b)
	ctx := context.Background()
	load := func(context.Context) (User, error) { return ada, nil }
	newAside := func(b *testing.B, near aside.Near) *aside.Cache {
		c := benchNearCache(b, addr, "nearbench", near)
		for range 2 { // load (which fills the tier), then a hit
			if _, err := aside.Remember(ctx, c, "user:42", load); err != nil {
				b.Fatal(err)
			}
		}
		return c
	}
	rememberSide := func(near aside.Near) func(b *testing.B) func() {
		return func(b *testing.B) func() {
			c := newAside(b, near)
			return func() {
				u, err := aside.Remember(ctx, c, "user:42", load)
				if err != nil || u.ID != 42 {
					b.Errorf("got %+v, %v", u, err)
				}
			}
		}
	}
	sides := []struct {
		name  string
		setup func(b *testing.B) func()
	}{
		{"aside-near-shared", rememberSide(aside.Near{MaxBytes: 64 << 20, Mode: aside.NearShared})},
		{"aside-near-safe", rememberSide(aside.Near{MaxBytes: 64 << 20})},
		{"aside-redis-no-near", rememberSide(aside.Near{})},
		{"go-redis-cache-local", func(b *testing.B) func() {
			client := goredis.NewClient(&goredis.Options{Addr: addr})
			b.Cleanup(func() { _ = client.Close() })
			rc := rediscache.New(&rediscache.Options{Redis: client, LocalCache: rediscache.NewTinyLFU(1000, time.Minute)})
			if err := rc.Set(&rediscache.Item{Ctx: ctx, Key: "gorediscache:user:42", Value: ada, TTL: time.Hour}); err != nil {
				b.Fatal(err)
			}
			return func() {
				var u User
				if err := rc.Get(ctx, "gorediscache:user:42", &u); err != nil || u.ID != 42 {
					b.Errorf("got %+v, %v", u, err)
				}
			}
		}},
	}
	for _, side := range sides {
		b.Run(side.name, func(b *testing.B) {
			hit := side.setup(b)
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				hit()
			}
			// CPU time per hit, for a machine shared with other work: ns/op
			// counts the time this process waited for a core too. It is
			// the whole process's (GC and the stream's heartbeats included).
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
		b.Run(side.name+"/parallel", func(b *testing.B) {
			hit := side.setup(b)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					hit()
				}
			})
		})
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNearBatchHit is a RememberMany of 50 keys that are all cached,
// served by the near tier (shared and safe mode) and, without the tier,
// by one round trip to a test-owned redis-server.
//
//	go test -run '^$' -bench BenchmarkNearBatchHit -benchmem .
func BenchmarkNearBatchHit(b *testing.B) {
	addr := benchRedis(b)
	ctx := context.Background()
	ids := make([]int, 50)
	for i := range ids {
		ids[i] = i
	}
	keyOf := func(id int) string { return "user:" + strconv.Itoa(id) }
	load := func(_ context.Context, missing []int) (map[int]User, error) {
		out := make(map[int]User, len(missing))
		for _, id := range missing {
			u := ada
			u.ID = int64(id)
			out[id] = u
		}
		return out, nil
	}
	for _, side := range []struct {
		name string
		near aside.Near
	}{
		{"aside-near-shared", aside.Near{MaxBytes: 64 << 20, Mode: aside.NearShared}},
		{"aside-near-safe", aside.Near{MaxBytes: 64 << 20}},
		{"aside-redis-no-near", aside.Near{}},
	} {
		b.Run(side.name, func(b *testing.B) {
			c := benchNearCache(b, addr, "nearbatch-"+side.name, side.near)
			for range 2 { // load, then read (which fills the tier)
				if _, err := aside.RememberMany(ctx, c, ids, keyOf, load); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				got, err := aside.RememberMany(ctx, c, ids, keyOf, load)
				if err != nil || len(got) != len(ids) {
					b.Fatalf("got %d values, %v", len(got), err)
				}
			}
			s := c.Stats()
			b.ReportMetric(float64(s.Near.Hits)/float64(max(s.BatchHits, 1)), "near-share")
		})
	}
}

// benchRedis starts a redis-server of the benchmark's own and returns its
// address.
func benchRedis(b *testing.B) string {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(b, err.Error())
	}
	srv, err := redistest.StartServer()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	return srv.Addr()
}

// benchNearCache is a Cache over the redis-server at addr with near, once
// its tier serves (if it has one).
func benchNearCache(b *testing.B, addr, namespace string, near aside.Near) *aside.Cache {
	p, err := redis.New(goredis.NewClient(&goredis.Options{Addr: addr}), redis.Options{CloseClient: true})
	if err != nil {
		b.Fatal(err)
	}
	c, err := aside.New(aside.Options{Provider: p, Namespace: namespace, Near: near})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for near.MaxBytes > 0 && !c.Stats().Near.Serving && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	return c
}
