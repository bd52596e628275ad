package emulator_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aside-go/aside/provider/upstash/emulator"
)

// BenchmarkGet is one GET through HTTP, the emulator and Redis, against the
// same GET sent to Redis directly: the difference is what the emulator and
// its HTTP round trip add on loopback.
func BenchmarkGet(b *testing.B) {
	f := newFixture(b, emulator.Options{})
	k := key(b, "k")
	value := strings.Repeat("v", 512)
	if err := f.rdb.Set(context.Background(), k, value, 0).Err(); err != nil {
		b.Fatal(err)
	}
	body := `["GET","` + k + `"]`
	client := f.srv.Client()
	b.Run("emulator", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(value)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+testToken)
				req.Header.Set("Upstash-Encoding", "base64")
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatal(res.Status)
				}
			}
		})
	})
	b.Run("redis-direct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(value)))
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := f.rdb.Get(context.Background(), k).Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkPipeline is a pipeline of 100 GETs in one request.
func BenchmarkPipeline(b *testing.B) {
	f := newFixture(b, emulator.Options{})
	k := key(b, "k")
	if err := f.rdb.Set(context.Background(), k, "v", 0).Err(); err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString("[")
	for i := range 100 {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString(`["GET","` + k + `"]`)
	}
	sb.WriteString("]")
	body := sb.String()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/pipeline", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		res, err := f.srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
	}
}
