package upstash_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
	payloads := map[string]any{
		"user":       map[string]any{"id": 42, "name": "Ada Lovelace", "email": "ada@example.com", "roles": []string{"admin", "dev"}},
		"page-50":    strings.Repeat(`{"id":1234,"name":"Product name","price":19.99,"tags":["a","b"]},`, 50),
		"json-64KiB": strings.Repeat(`{"id":1234,"name":"Product name","price":19.99,"description":"A product."},`, 800),
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
