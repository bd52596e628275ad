package coherence

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
	"github.com/aside-go/aside/provider/redis"
)

// counting counts the INV and ACK publishes through it and the deliveries
// the store reported for them (heartbeats apart).
type counting struct {
	provider.Broadcaster
	publishes, deliveries *atomic.Int64
}

func (c counting) Publish(ctx context.Context, ch string, msg []byte) (int64, error) {
	n, err := c.Broadcaster.Publish(ctx, ch, msg)
	if w, derr := decode(msg); derr == nil && w.Kind != kindHB {
		c.publishes.Add(1)
		c.deliveries.Add(n)
	}
	return n, err
}

// BenchmarkInvalidate measures Invalidate with 1 and 4 instances on one
// loopback redis-server, each instance with its own client (its own
// connections, as separate processes would have), at the default Lease.
// One instance invalidates serially; it reports the latency percentiles and
// the publishes and deliveries per invalidation.
func BenchmarkInvalidate(b *testing.B) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(b, err.Error())
	}
	srv, err := redistest.StartServer()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			var publishes, deliveries atomic.Int64
			var streams []*Stream
			for range n {
				c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
				p, err := redis.New(c, redis.Options{CloseClient: true})
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				s, err := New(b.Context(), Config{Broadcaster: counting{p, &publishes, &deliveries},
					Channel: fmt.Sprintf("bench:%d:near", n), Apply: func(Message) {}})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				streams = append(streams, s)
			}
			// Past the start-up window, with every member heard.
			time.Sleep(time.Second + time.Second/marginShare + 50*time.Millisecond)
			for _, s := range streams {
				if _, ok := s.Lease(); !ok {
					b.Fatal("no lease")
				}
			}
			publishes.Store(0)
			deliveries.Store(0)
			lat := make([]time.Duration, 0, b.N)
			m := Message{Keys: []string{"aside:ns:e:some-key"}}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				began := time.Now()
				if err := streams[0].Invalidate(b.Context(), m); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(began))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(pct(lat, .5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(pct(lat, .99).Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(publishes.Load())/float64(len(lat)), "publishes/op")
			b.ReportMetric(float64(deliveries.Load())/float64(len(lat)), "deliveries/op")
		})
	}
}

// pct is the p-quantile of sorted lat.
func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[min(len(lat)-1, int(float64(len(lat))*p))]
}

// BenchmarkLease is the near tier's per-hit cost of asking for the lease.
func BenchmarkLease(b *testing.B) {
	bus, err := memory.New(memory.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer bus.Close()
	s, err := New(b.Context(), Config{Broadcaster: bus, Channel: "bench", Apply: func(Message) {}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := s.Lease(); !ok && s.Generation() == 1<<63 {
				b.Fatal("unreachable")
			}
		}
	})
}
