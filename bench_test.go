package aside_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aside-go/aside"
)

// BenchmarkRememberHit is the hit-path target: the User struct on the
// memory provider (target < 0.8µs and < 10 allocs per hit on 2 cores).
func BenchmarkRememberHit(b *testing.B) {
	for _, tc := range []struct {
		name string
		opts []aside.Option
	}{
		{"untagged", nil},
		{"3tags", []aside.Option{aside.Tags("user:42", "org:7", "users")}},
	} {
		c := newCache(b, aside.Options{})
		ctx := context.Background()
		load := func(context.Context) (User, error) { return ada, nil }
		if _, err := aside.Remember(ctx, c, "user:42", load, tc.opts...); err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := aside.Remember(ctx, c, "user:42", load, tc.opts...); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := aside.Remember(ctx, c, "user:42", load, tc.opts...); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkRememberHitAutoDictionary is BenchmarkRememberHit's untagged hit
// with Options.AutoDictionary, once the Cache has trained its dictionary
// on users like the one read: the User's 120-byte entry is then
// zstd-compressed with the dictionary instead of stored raw, and every hit
// decompresses it.
func BenchmarkRememberHitAutoDictionary(b *testing.B) {
	c := newCache(b, aside.Options{AutoDictionary: &aside.AutoDictionary{Samples: 500}})
	ctx := context.Background()
	for i := range 600 {
		u := ada
		u.ID = int64(1000 + i)
		u.Name = fmt.Sprintf("User %d", i)
		u.Email = fmt.Sprintf("user%d@example.com", i)
		u.Bio = fmt.Sprintf("Writer number %d, known for work on engines, numbers and the %d notes.", i, i%17)
		if err := aside.Set(ctx, c, fmt.Sprintf("user:%d", u.ID), u); err != nil {
			b.Fatal(err)
		}
	}
	for deadline := time.Now().Add(time.Minute); c.Stats().Dictionary.ID == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("no dictionary trained")
		}
	}
	load := func(context.Context) (User, error) { return ada, nil }
	if _, err := aside.Remember(ctx, c, "user:42", load); err != nil {
		b.Fatal(err)
	}
	b.Run("untagged/serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := aside.Remember(ctx, c, "user:42", load); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("untagged/parallel", func(b *testing.B) {
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
	st := c.Stats()
	b.ReportMetric(float64(st.EncodedBytes)/float64(st.RawBytes), "stored/serialized")
}
