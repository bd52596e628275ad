package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/keys"
)

type benchUser struct {
	ID    int64
	Name  string
	Email string
	Roles []string
	Bio   string
}

// BenchmarkCacheHit is the whole aside hit on Redis (Remember of the issue's
// User struct: GET, envelope, msgpack decode) against a raw go-redis GET of
// the same stored bytes, from 32 goroutines over one client: the overhead of
// aside over the bare client. Target: aside/raw throughput >= 0.9. The
// raw+msgpack side is what a bare-client user does to get the same value
// back: GET and decode.
func BenchmarkCacheHit(b *testing.B) {
	c, p, _ := benchSetup(b)
	cache, err := aside.New(aside.Options{Provider: p, Namespace: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cache.Close() })
	ctx := context.Background()
	u := benchUser{42, "Ada Lovelace", "ada@example.com", []string{"admin", "editor"},
		"Mathematician and writer, chiefly known for her work on Babbage's Analytical Engine."}
	load := func(context.Context) (benchUser, error) { return u, nil }
	if _, err := aside.Remember(ctx, cache, "user:42", load, aside.TTL(time.Hour)); err != nil {
		b.Fatal(err)
	}
	kb, err := keys.New(keys.Options{Namespace: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	stored, err := kb.Entry("user:42")
	if err != nil {
		b.Fatal(err)
	}
	// What a user of the bare client does for the same value: msgpack bytes
	// under a key of its own, decoded after the GET.
	plain, err := msgpack.Marshal(u)
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Set(ctx, "bench:plain-user", plain, time.Hour).Err(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Del(context.Background(), stored, "bench:plain-user").Err() })

	for _, side := range []struct {
		name string
		hit  func() error
	}{
		{"raw", func() error { return c.Get(ctx, stored).Err() }},
		{"raw+msgpack", func() error {
			v, err := c.Get(ctx, "bench:plain-user").Bytes()
			if err != nil {
				return err
			}
			var got benchUser
			return msgpack.Unmarshal(v, &got)
		}},
		{"aside", func() error {
			got, err := aside.Remember(ctx, cache, "user:42", load, aside.TTL(time.Hour))
			if err == nil && got.ID != 42 {
				b.Errorf("got %+v", got)
			}
			return err
		}},
	} {
		b.Run("parallel32/"+side.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := side.hit(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	if s := cache.Stats(); s.Misses != 1 {
		b.Fatalf("the benchmark should hit every time after the first load: %+v", s)
	}
}
