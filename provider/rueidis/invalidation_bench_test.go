package rueidis_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rue "github.com/redis/rueidis"
)

// The benchmarks of this file measure the two channels a near (L1) cache
// could use to hear of invalidations, for issue 12's item 2: Redis pub/sub
// and RESP3 client tracking (server-assisted client-side caching), each on
// a redis-server of the benchmark's own on loopback. Each instance of the
// future near cache is modelled by a rueidis client of its own (its own
// connections, as a separate process would have). NOTES.md holds the
// figures and what each channel can and cannot guarantee.

// newInstance returns a rueidis client on addr, closed when b ends.
func newInstance(b *testing.B, addr string, o rue.ClientOption) rue.Client {
	b.Helper()
	o.InitAddress = []string{addr}
	o.ForceSingleClient = true
	c, err := rue.NewClient(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	return c
}

// BenchmarkPubSubInvalidation publishes b.N invalidations one after the
// other to subs subscribers (instances) and reports, per message:
//
//   - first-p50/p99-us: PUBLISH until the first subscriber has it;
//   - all-p50/p99-us: PUBLISH until every subscriber has it, which is what
//     "reaches every instance" means;
//   - acked-p50/p99-us: PUBLISH until every subscriber has published an
//     acknowledgement back and the publisher has received them all, the
//     round trip an invalidation that waits for every live instance costs.
func BenchmarkPubSubInvalidation(b *testing.B) {
	for _, subs := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("subs=%d", subs), func(b *testing.B) {
			s := ownServer(b)
			pub := newInstance(b, s.Addr(), rue.ClientOption{DisableCache: true})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()

			type slot struct {
				sent     atomic.Int64 // unix nanos of the PUBLISH
				got      atomic.Int32
				firstAt  atomic.Int64
				allAt    chan time.Time
				acks     atomic.Int32
				ackedAll chan time.Time
			}
			var cur atomic.Pointer[slot]
			var ready, stopped sync.WaitGroup
			for range subs {
				c := newInstance(b, s.Addr(), rue.ClientOption{DisableCache: true})
				ready.Add(1)
				stopped.Add(1)
				go func() {
					defer stopped.Done()
					sub := c.B().Subscribe().Channel("inv").Build()
					hook := rue.WithOnSubscriptionHook(ctx, func(rue.PubSubSubscription) { ready.Done() })
					_ = c.Receive(hook, sub, func(m rue.PubSubMessage) {
						sl := cur.Load()
						if sl == nil || m.Message != strconv.FormatInt(sl.sent.Load(), 10) {
							return
						}
						now := time.Now().UnixNano()
						sl.firstAt.CompareAndSwap(0, now)
						if int(sl.got.Add(1)) == subs {
							sl.allAt <- time.Now()
						}
						// The acknowledgement goes out on the instance's
						// command connection, not from inside the callback.
						go func() { _ = c.Do(ctx, c.B().Publish().Channel("ack").Message(m.Message).Build()).Error() }()
					})
				}()
			}
			ready.Wait()
			ackReady := make(chan struct{})
			stopped.Add(1)
			go func() {
				defer stopped.Done()
				sub := pub.B().Subscribe().Channel("ack").Build()
				hook := rue.WithOnSubscriptionHook(ctx, func(rue.PubSubSubscription) { close(ackReady) })
				_ = pub.Receive(hook, sub, func(m rue.PubSubMessage) {
					sl := cur.Load()
					if sl != nil && m.Message == strconv.FormatInt(sl.sent.Load(), 10) && int(sl.acks.Add(1)) == subs {
						sl.ackedAll <- time.Now()
					}
				})
			}()
			<-ackReady

			var first, all, acked []time.Duration
			b.ResetTimer()
			for range b.N {
				sl := &slot{allAt: make(chan time.Time, 1), ackedAll: make(chan time.Time, 1)}
				t0 := time.Now()
				sl.sent.Store(t0.UnixNano())
				cur.Store(sl)
				n, err := pub.Do(ctx, pub.B().Publish().Channel("inv").Message(strconv.FormatInt(t0.UnixNano(), 10)).Build()).AsInt64()
				if err != nil || n != int64(subs) {
					b.Fatalf("PUBLISH = %d, %v; want %d receivers", n, err, subs)
				}
				allAt := <-sl.allAt
				ackAt := <-sl.ackedAll
				first = append(first, time.Duration(sl.firstAt.Load()-t0.UnixNano()))
				all = append(all, allAt.Sub(t0))
				acked = append(acked, ackAt.Sub(t0))
			}
			b.StopTimer()
			reportQuantilesUS(b, first, "first-")
			reportQuantilesUS(b, all, "all-")
			reportQuantilesUS(b, acked, "acked-")
			cancel()
			stopped.Wait()
		})
	}
}

// BenchmarkTrackingInvalidation measures RESP3 client tracking: readers
// instances read a key through rueidis's client-side cache (DoCache), a
// writer SETs it, and the time until every reader's OnInvalidations has
// fired for it is reported (all-p50/p99-us; first-p50/p99-us for the first
// reader). mode=default is CLIENT TRACKING ON OPTIN (rueidis's default: the
// server remembers every key each client read); mode=bcast is CLIENT
// TRACKING ON BCAST PREFIX (the server remembers only the prefix and
// broadcasts every write under it).
func BenchmarkTrackingInvalidation(b *testing.B) {
	for _, mode := range []string{"default", "bcast"} {
		for _, readers := range []int{1, 4, 16, 64} {
			b.Run(fmt.Sprintf("mode=%s/readers=%d", mode, readers), func(b *testing.B) {
				s := ownServer(b)
				ctx := context.Background()
				writer := newInstance(b, s.Addr(), rue.ClientOption{DisableCache: true})
				const key = "inv:user:42"
				type slot struct {
					t0    time.Time
					got   atomic.Int32
					first atomic.Int64
					all   chan time.Time
				}
				var cur atomic.Pointer[slot]
				clients := make([]rue.Client, readers)
				for i := range clients {
					o := rue.ClientOption{OnInvalidations: func(ms []rue.RedisMessage) {
						sl := cur.Load()
						if sl == nil {
							return
						}
						for _, m := range ms {
							if k, _ := m.ToString(); k == key {
								sl.first.CompareAndSwap(0, time.Now().UnixNano())
								if int(sl.got.Add(1)) == readers {
									sl.all <- time.Now()
								}
								return
							}
						}
					}}
					if mode == "bcast" {
						o.ClientTrackingOptions = []string{"PREFIX", "inv:", "BCAST"}
					}
					clients[i] = newInstance(b, s.Addr(), o)
				}
				if err := writer.Do(ctx, writer.B().Set().Key(key).Value("v0").Build()).Error(); err != nil {
					b.Fatal(err)
				}
				var first, all []time.Duration
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					// Every reader reads the key into its local cache: in
					// default mode that is what makes the server track it,
					// for one invalidation.
					for _, c := range clients {
						if err := c.DoCache(ctx, c.B().Get().Key(key).Cache(), time.Minute).Error(); err != nil {
							b.Fatal(err)
						}
					}
					sl := &slot{all: make(chan time.Time, 1)}
					cur.Store(sl)
					b.StartTimer()
					sl.t0 = time.Now()
					if err := writer.Do(ctx, writer.B().Set().Key(key).Value("v"+strconv.Itoa(i)).Build()).Error(); err != nil {
						b.Fatal(err)
					}
					select {
					case at := <-sl.all:
						all = append(all, at.Sub(sl.t0))
						first = append(first, time.Duration(sl.first.Load()-sl.t0.UnixNano()))
					case <-time.After(5 * time.Second):
						b.Fatalf("%d of %d readers heard of the write within 5s", sl.got.Load(), readers)
					}
				}
				b.StopTimer()
				reportQuantilesUS(b, first, "first-")
				reportQuantilesUS(b, all, "all-")
			})
		}
	}
}

// BenchmarkTrackingServerMemory reports what client tracking costs the
// server: readers clients each read keys distinct keys through DoCache in
// default mode; the server's used_memory grows by the tracking table
// (bytes-per-item is per tracked key and client; tracking_total_keys and
// tracking_total_items are from INFO). In BCAST mode the table is empty
// (only the prefix is kept), which the bcast run shows.
func BenchmarkTrackingServerMemory(b *testing.B) {
	const keys = 20000
	for _, mode := range []string{"default", "bcast"} {
		for _, readers := range []int{1, 4} {
			b.Run(fmt.Sprintf("mode=%s/readers=%d/keys=%d", mode, readers, keys), func(b *testing.B) {
				for range b.N {
					s := ownServer(b)
					ctx := context.Background()
					admin := newInstance(b, s.Addr(), rue.ClientOption{DisableCache: true})
					cmds := make(rue.Commands, 0, keys)
					for k := range keys {
						cmds = append(cmds, admin.B().Set().Key("inv:k:"+strconv.Itoa(k)).Value("v").Build())
					}
					for _, r := range admin.DoMulti(ctx, cmds...) {
						if err := r.Error(); err != nil {
							b.Fatal(err)
						}
					}
					before := infoInt(b, admin, "memory", "used_memory")
					for range readers {
						o := rue.ClientOption{CacheSizeEachConn: 64 << 20}
						if mode == "bcast" {
							o.ClientTrackingOptions = []string{"PREFIX", "inv:", "BCAST"}
						}
						c := newInstance(b, s.Addr(), o)
						batch := make([]rue.CacheableTTL, 0, 1000)
						for k := range keys {
							batch = append(batch, rue.CT(c.B().Get().Key("inv:k:"+strconv.Itoa(k)).Cache(), time.Hour))
							if len(batch) == cap(batch) {
								for _, r := range c.DoMultiCache(ctx, batch...) {
									if err := r.Error(); err != nil {
										b.Fatal(err)
									}
								}
								batch = batch[:0]
							}
						}
					}
					after := infoInt(b, admin, "memory", "used_memory")
					items := infoInt(b, admin, "stats", "tracking_total_items")
					b.ReportMetric(float64(after-before), "server-bytes")
					b.ReportMetric(float64(infoInt(b, admin, "stats", "tracking_total_keys")), "tracked-keys")
					b.ReportMetric(float64(items), "tracked-items")
					if items > 0 {
						b.ReportMetric(float64(after-before)/float64(items), "bytes-per-item")
					}
				}
			})
		}
	}
}

// infoInt returns field of INFO section from c's server.
func infoInt(b *testing.B, c rue.Client, section, field string) int64 {
	b.Helper()
	info, err := c.Do(context.Background(), c.B().Info().Section(section).Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatalf("INFO %s has no %s", section, field)
	return 0
}

// stalledClient opens a raw connection to addr, sends cmds (RESP arrays of
// bulk strings) and reads nothing afterwards but the replies to them: from
// the server's side it is a client whose process was SIGSTOPped (its socket
// stays open, nothing reads it). kill closes it, as SIGKILL would.
func stalledClient(b *testing.B, addr string, cmds ...[]string) (kill func()) {
	b.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for _, cmd := range cmds {
		var sb strings.Builder
		fmt.Fprintf(&sb, "*%d\r\n", len(cmd))
		for _, a := range cmd {
			fmt.Fprintf(&sb, "$%d\r\n%s\r\n", len(a), a)
		}
		if _, err := conn.Write([]byte(sb.String())); err != nil {
			b.Fatal(err)
		}
		// One reply line is enough to know the command was taken (HELLO's
		// map and SUBSCRIBE's array are read only in part; the rest stays
		// unread, like everything after).
		if _, err := r.ReadString('\n'); err != nil {
			b.Fatal(err)
		}
	}
	var once sync.Once
	kill = func() { once.Do(func() { _ = conn.Close() }) }
	b.Cleanup(kill)
	return kill
}

// clientOmem returns the output buffer memory (omem) the server holds for
// the client named name, or -1 when there is no such client.
func clientOmem(b *testing.B, c rue.Client, name string) int64 {
	b.Helper()
	list, err := c.Do(context.Background(), c.B().ClientList().Build()).ToString()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "omem="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
	}
	return -1
}

// BenchmarkStalledInstance reports what a publisher or writer learns of an
// instance whose process stopped (SIGSTOP: socket open, nothing read) or
// died (SIGKILL: socket closed), on a server with Redis's default
// client-output-buffer-limit (pubsub 32mb 8mb 60; normal 0 0 0). Each run
// sends 1 KiB invalidations (pub/sub messages; for tracking, writes to keys
// whose names are 1 KiB long, since the push names the key) until the
// server drops the stalled client or a limit of messages (200000 for
// pub/sub, 50000 for tracking) has gone, and reports:
//
//   - counted-while-stalled: the PUBLISH reply (receivers) after the stall,
//     against 2 subscribers (one live, one stalled); tracking has no reply
//     that counts receivers at all;
//   - sent-until-dropped: messages sent until the server dropped the stalled
//     client (0: it never did within limit);
//   - omem-bytes: the stalled client's output buffer at the end (or when
//     dropped);
//   - counted-after-kill: the PUBLISH reply right after the other
//     subscriber's socket closed.
func BenchmarkStalledInstance(b *testing.B) {
	payload := strings.Repeat("x", 1024)
	b.Run("pubsub", func(b *testing.B) {
		for range b.N {
			s := ownServer(b)
			ctx := context.Background()
			pub := newInstance(b, s.Addr(), rue.ClientOption{DisableCache: true})
			live := stalledClient(b, s.Addr(), []string{"CLIENT", "SETNAME", "live"}, []string{"SUBSCRIBE", "inv"})
			stalledClient(b, s.Addr(), []string{"CLIENT", "SETNAME", "stalled"}, []string{"SUBSCRIBE", "inv"})
			publish := func() int64 {
				n, err := pub.Do(ctx, pub.B().Publish().Channel("inv").Message(payload).Build()).AsInt64()
				if err != nil {
					b.Fatal(err)
				}
				return n
			}
			b.ReportMetric(float64(publish()), "counted-while-stalled")
			// "live" is not read either; drop it as a killed process to see
			// the count fall, then watch "stalled" alone.
			live()
			time.Sleep(50 * time.Millisecond)
			b.ReportMetric(float64(publish()), "counted-after-kill")
			const limit = 200000
			start := time.Now()
			sent, omem := 0, int64(0)
			for sent < limit {
				publish()
				sent++
				if sent%1000 == 0 {
					m := clientOmem(b, pub, "stalled")
					if m < 0 {
						break
					}
					omem = m
				}
			}
			if sent == limit {
				sent = 0
			}
			b.ReportMetric(float64(sent), "sent-until-dropped")
			b.ReportMetric(float64(omem), "omem-bytes")
			b.ReportMetric(time.Since(start).Seconds()*1000, "ms-until-dropped")
		}
	})
	b.Run("tracking-bcast", func(b *testing.B) {
		for range b.N {
			s := ownServer(b)
			ctx := context.Background()
			w := newInstance(b, s.Addr(), rue.ClientOption{DisableCache: true})
			stalledClient(b, s.Addr(), []string{"HELLO", "3"}, []string{"CLIENT", "SETNAME", "stalled"},
				[]string{"CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "inv:"})
			const limit = 50000
			start := time.Now()
			sent, omem := 0, int64(0)
			for sent < limit {
				if err := w.Do(ctx, w.B().Set().Key("inv:"+strconv.Itoa(sent)+":"+payload).Value("v").Build()).Error(); err != nil {
					b.Fatal(err)
				}
				sent++
				if sent%1000 == 0 {
					m := clientOmem(b, w, "stalled")
					if m < 0 {
						break
					}
					omem = m
				}
			}
			if sent == limit {
				sent = 0
			}
			b.ReportMetric(float64(sent), "sent-until-dropped")
			b.ReportMetric(float64(omem), "omem-bytes")
			b.ReportMetric(time.Since(start).Seconds()*1000, "ms")
		}
	})
}

// reportQuantilesUS reports the p50 and p99 of ds in microseconds.
func reportQuantilesUS(b *testing.B, ds []time.Duration, prefix string) {
	if len(ds) == 0 {
		return
	}
	s := append([]time.Duration(nil), ds...)
	slicesSortDurations(s)
	at := func(q float64) float64 { return float64(s[int(q*float64(len(s)-1))]) / float64(time.Microsecond) }
	b.ReportMetric(at(0.50), prefix+"p50-us")
	b.ReportMetric(at(0.99), prefix+"p99-us")
}
