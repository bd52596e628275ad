package rueidis_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSideBySide measures the four readers of benchReaders in turns
// rather than one after the other: each round gives every side the same
// short slice of time (sideSlice) at each concurrency, in a rotating order,
// so that a machine whose load swings (2 cores shared with other work)
// weighs on every side alike. Per side and concurrency it reports the median
// throughput over the rounds (kops/s), the median of the per-round ratio to
// bare go-redis (x-goredis), and the p50 and p99 latency of every call (us).
// Run it once: go test -run '^$' -bench SideBySide -benchtime 1x.
func BenchmarkSideBySide(b *testing.B) {
	const key = "bench:sidebyside"
	sides := benchReaders(b, []string{key}, bytes.Repeat([]byte{0x3c}, benchValueSize))
	ctx := context.Background()
	for _, n := range goroutineCounts {
		b.Run(fmt.Sprintf("g=%d", n), func(b *testing.B) {
			rate := make([][]float64, len(sides)) // per side, per round
			lat := make([][]time.Duration, len(sides))
			for range b.N {
				for r := range sideRounds {
					for i := range sides {
						s := (i + r) % len(sides)
						side := sides[s]
						ops, ds := slice(n, func() error {
							v, err := side.get(ctx, key)
							if err == nil && len(v) != benchValueSize {
								err = fmt.Errorf("GET returned %d bytes", len(v))
							}
							return err
						})
						rate[s] = append(rate[s], float64(ops)/sideSlice.Seconds())
						lat[s] = append(lat[s], ds...)
					}
				}
			}
			for s, side := range sides {
				ratios := make([]float64, len(rate[s]))
				for r := range ratios {
					ratios[r] = rate[s][r] / rate[0][r]
				}
				b.ReportMetric(median(rate[s])/1000, side.name+"-kops/s")
				b.ReportMetric(median(ratios), side.name+"-x-goredis")
				slices.Sort(lat[s])
				at := func(q float64) float64 {
					return float64(lat[s][int(q*float64(len(lat[s])-1))]) / float64(time.Microsecond)
				}
				b.ReportMetric(at(0.50), side.name+"-p50-us")
				b.ReportMetric(at(0.99), side.name+"-p99-us")
			}
		})
	}
}

// sideRounds and sideSlice are the rounds of BenchmarkSideBySide and the
// time each side gets in each round.
const (
	sideRounds = 25
	sideSlice  = 200 * time.Millisecond
)

// slice runs op from n goroutines for sideSlice and returns how many calls
// succeeded and how long each took.
func slice(n int, op func() error) (int64, []time.Duration) {
	var ops atomic.Int64
	var mu sync.Mutex
	var all []time.Duration
	stop := time.Now().Add(sideSlice)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ds := make([]time.Duration, 0, 256)
			for time.Now().Before(stop) {
				t0 := time.Now()
				if err := op(); err != nil {
					continue // not counted: a failed read is not throughput
				}
				ds = append(ds, time.Since(t0))
			}
			ops.Add(int64(len(ds)))
			mu.Lock()
			all = append(all, ds...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return ops.Load(), all
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func slicesSortDurations(ds []time.Duration) { slices.Sort(ds) }
