package upstash_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/codec"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

// Loopback benchmarks against the emulator over a test-owned redis-server:
//
//	go test -run '^$' -bench . -benchtime 2000x ./provider/upstash
//
// They report, besides ns/op, the HTTP requests and billed commands per
// operation read from the emulator's counters, and for 32 callers how much
// auto-pipelining saves.

// callers runs op from n goroutines (n=1: serially) and reports requests
// and billed commands per op.
func callers(b *testing.B, f *fixture, n int, op func(ctx context.Context) error) {
	ctx := context.Background()
	f.emu.ResetStats()
	b.ReportAllocs()
	b.ResetTimer()
	if n == 1 {
		for b.Loop() {
			if err := op(ctx); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism((n + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	s := f.emu.Stats()
	b.ReportMetric(float64(s.Requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(s.Commands)/float64(b.N), "billed/op")
}

// BenchmarkGet is a provider Get of a stored 1 KiB value next to a bare
// net/http POST of the same GET (no JSON parsing, no base64).
func BenchmarkGet(b *testing.B) {
	f := newFixture(b, emulator.Options{})
	p := f.provider(b, upstash.Options{Timeout: 5 * time.Second})
	k := prefix(b) + "k"
	if err := p.Set(context.Background(), k, bytes.Repeat([]byte{0xA5}, 1024), 0); err != nil {
		b.Fatal(err)
	}
	body := []byte(`["GET","` + k + `"]`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	bare := func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.url+"/", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		_, err = io.Copy(io.Discard, res.Body)
		return err
	}
	get := func(ctx context.Context) error {
		_, err := p.Get(ctx, k)
		return err
	}
	for _, n := range []int{1, 32} {
		b.Run(fmt.Sprintf("provider/callers=%d", n), func(b *testing.B) { callers(b, f, n, get) })
		b.Run(fmt.Sprintf("bare-net-http/callers=%d", n), func(b *testing.B) { callers(b, f, n, bare) })
	}
}

// BenchmarkRememberHit is an aside.Remember hit, untagged and with three
// tags, through the Cache and the provider.
func BenchmarkRememberHit(b *testing.B) {
	f := newFixture(b, emulator.Options{})
	p := f.provider(b, upstash.Options{Timeout: 5 * time.Second})
	c, err := aside.New(aside.Options{Provider: p, Namespace: prefix(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	type user struct {
		ID    int
		Name  string
		Email string
	}
	load := func(context.Context) (user, error) { return user{42, "Ada Lovelace", "ada@example.com"}, nil }
	for _, tc := range []struct {
		name string
		opts []aside.Option
	}{
		{"untagged", nil},
		{"tags=3", []aside.Option{aside.Tags("user:42", "org:7", "users")}},
	} {
		if _, err := aside.Remember(context.Background(), c, "user:42:"+tc.name, load, tc.opts...); err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{1, 32} {
			b.Run(fmt.Sprintf("%s/callers=%d", tc.name, n), func(b *testing.B) {
				callers(b, f, n, func(ctx context.Context) error {
					_, err := aside.Remember(ctx, c, "user:42:"+tc.name, load, tc.opts...)
					return err
				})
			})
		}
	}
}

// BenchmarkStoredBytes stores codec frames of typical values and reports
// the bytes Redis holds per byte of frame.
func BenchmarkStoredBytes(b *testing.B) {
	f := newFixture(b, emulator.Options{})
	p := f.provider(b, upstash.Options{Timeout: 5 * time.Second})
	cd, err := codec.New(codec.Options{})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	products := func(n int) []map[string]any {
		out := make([]map[string]any, n)
		for i := range out {
			out[i] = map[string]any{
				"id": r.IntN(1e6), "name": fmt.Sprintf("Product %x", r.Uint64()), "price": float64(r.IntN(10000)) / 100,
				"stock": r.IntN(500), "tags": []string{fmt.Sprint("t", r.IntN(50)), fmt.Sprint("t", r.IntN(50))},
			}
		}
		return out
	}
	payloads := map[string]any{
		"user":          map[string]any{"id": 42, "name": "Ada Lovelace", "email": "ada@example.com", "roles": []string{"admin", "dev"}},
		"page-of-50":    products(50),
		"list-of-800":   products(800),
		"random-4KiB":   randomBytes(r, 4096),
		"html-like-8KB": strings.Repeat("<div class=\"product\"><h2>Teapot</h2><p>Holds tea.</p></div>\n", 130),
	}
	for name, v := range payloads {
		frame, _, err := cd.Marshal(nil, v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			k := prefix(b) + name
			ctx := context.Background()
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				if err := p.Set(ctx, k, frame, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
			stored, err := f.rdb.StrLen(ctx, k).Result()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(len(frame)), "frame-bytes")
			b.ReportMetric(float64(stored), "stored-bytes")
			b.ReportMetric(float64(stored)/float64(len(frame)), "stored/frame")
		})
	}
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}
