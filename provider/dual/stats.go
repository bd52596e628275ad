package dual

import (
	"context"
	"errors"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/provider"
)

// LatencyBuckets is the number of buckets of a Latency histogram.
const LatencyBuckets = 19

// latencyBase is the upper bound of the first bucket; each next bucket's
// bound doubles it, up to 8µs<<17 ≈ 1.05 s; the last bucket takes the rest.
const latencyBase = 8 * time.Microsecond

// LatencyBound returns the upper bound of bucket i of a Latency histogram:
// 8µs << i, and the largest Duration for the last bucket.
func LatencyBound(i int) time.Duration {
	if i >= LatencyBuckets-1 {
		return time.Duration(1<<63 - 1)
	}
	return latencyBase << i
}

// Latency is a distribution of call durations.
type Latency struct {
	Count int64         `json:"count"`
	Sum   time.Duration `json:"sum_ns"`
	Max   time.Duration `json:"max_ns"`
	// Buckets[i] counts the calls that took more than LatencyBound(i-1) and
	// at most LatencyBound(i).
	Buckets [LatencyBuckets]int64 `json:"buckets"`
}

// Mean is Sum / Count, or 0 before any call.
func (l Latency) Mean() time.Duration {
	if l.Count == 0 {
		return 0
	}
	return l.Sum / time.Duration(l.Count)
}

// Quantile returns the upper bound of the bucket holding quantile q (0 to
// 1) of the calls, capped at Max: an estimate within a factor of two.
func (l Latency) Quantile(q float64) time.Duration {
	if l.Count == 0 {
		return 0
	}
	rank := int64(q * float64(l.Count))
	if rank >= l.Count {
		rank = l.Count - 1
	}
	var seen int64
	for i, n := range l.Buckets {
		seen += n
		if seen > rank {
			return min(LatencyBound(i), l.Max)
		}
	}
	return l.Max
}

func bucket(d time.Duration) int {
	if d <= latencyBase {
		return 0
	}
	return min(bits.Len64(uint64((d-1)/latencyBase)), LatencyBuckets-1)
}

// counters are one side's live Side counters.
type counters struct {
	name                                string
	calls, errors, refused, reads, hits atomic.Int64
	latCount, latSum, latMax            atomic.Int64
	latBuckets                          [LatencyBuckets]atomic.Int64
}

// observe counts one call that started at start and returned err under
// ctx.
func (c *counters) observe(ctx context.Context, start time.Time, err error) {
	if errors.Is(err, provider.ErrUnavailable) {
		c.refused.Add(1)
		return
	}
	d := time.Since(start)
	c.calls.Add(1)
	if storeFailed(ctx, err) {
		c.errors.Add(1)
	}
	c.latCount.Add(1)
	c.latSum.Add(int64(d))
	c.latBuckets[bucket(d)].Add(1)
	for {
		cur := c.latMax.Load()
		if int64(d) <= cur || c.latMax.CompareAndSwap(cur, int64(d)) {
			break
		}
	}
}

// read counts keys read and found.
func (c *counters) read(keys, found int) {
	c.reads.Add(int64(keys))
	c.hits.Add(int64(found))
}

func (c *counters) snapshot() Side {
	s := Side{
		Name:    c.name,
		Calls:   c.calls.Load(),
		Errors:  c.errors.Load(),
		Refused: c.refused.Load(),
		Reads:   c.reads.Load(),
		Hits:    c.hits.Load(),
		Latency: Latency{
			Count: c.latCount.Load(),
			Sum:   time.Duration(c.latSum.Load()),
			Max:   time.Duration(c.latMax.Load()),
		},
	}
	for i := range s.Latency.Buckets {
		s.Latency.Buckets[i] = c.latBuckets[i].Load()
	}
	return s
}

// member is what provider.Composite reports of one side: its counters as
// provider.MemberStats.
func (c *counters) member(role string, p provider.Provider) provider.Member {
	s := c.snapshot()
	return provider.Member{Provider: p, Stats: provider.MemberStats{
		Name: s.Name, Role: role,
		Hits: s.Hits, Misses: s.Reads - s.Hits,
		// A refusal by the side's open circuit is an error for the
		// Cache's report, as provider.MemberStats says.
		Errors: s.Errors + s.Refused,
		Calls:  s.Calls, CallTime: s.Latency.Sum,
	}}
}

// Members returns the primary and the secondary, with their counters, for
// the aside.Cache's Stats.Providers and billing (provider.Composite). The
// secondary's Provider is the store of the current outage, nil while the
// primary serves (each outage gets a fresh one); its counters add up every
// outage's.
func (f *Fallback) Members() []provider.Member {
	var s provider.Provider
	if ep := f.epoch.Load(); ep != nil {
		s = ep.p
	}
	return []provider.Member{f.pc.member("primary", f.raw), f.sc.member("secondary", s)}
}

// Members returns the primary and the secondary, with their counters, for
// the aside.Cache's Stats.Providers and billing (provider.Composite).
func (m *Migrator) Members() []provider.Member {
	return []provider.Member{m.pc.member("primary", m.p), m.sc.member("secondary", m.rawS)}
}
