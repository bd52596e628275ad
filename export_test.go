package aside

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// WithClock returns o with the monitor's clock replaced by now. New then
// starts no monitor goroutine: the test drives it with Tick.
func WithClock(o Options, now func() time.Time) Options {
	o.clock = now
	return o
}

// Tick samples the counters at now and evaluates the alerts, as the
// monitor's ticker does every Window/30.
func (c *Cache) Tick(now time.Time) { c.tick(now, true) }

// Evaluate evaluates the alerts at now without sampling, as a circuit
// transition makes the monitor do.
func (c *Cache) Evaluate(now time.Time) { c.tick(now, false) }

// LogKey is logKey.
func LogKey(key string) string { return logKey(key) }

// NearBus is a fake coherence stream for the near tier's tests: Invalidate
// applies the message to every member's tier, in order, before it returns,
// which is what the real stream guarantees of a live instance.
type NearBus struct {
	mu      sync.Mutex
	members []*NearMember
	// Fail makes Invalidate fail without applying anything anywhere (a
	// publish that did not go through).
	Fail atomic.Bool
}

// NearMember is one Cache's end of a NearBus.
type NearMember struct {
	bus   *NearBus
	apply func(invalidation)
	lapse func()
	epoch atomic.Uint64
	down  atomic.Bool
	// Invalidations counts the Invalidate calls this member made.
	Invalidations atomic.Int64
}

// Join returns o with its near tier on this bus, and the member it will
// be once New runs.
func (b *NearBus) Join(o Options) (Options, *NearMember) {
	m := &NearMember{bus: b}
	m.epoch.Store(1)
	o.nearStream = func(apply func(invalidation), lapse func()) nearStream {
		m.apply, m.lapse = apply, lapse
		b.mu.Lock()
		b.members = append(b.members, m)
		b.mu.Unlock()
		return m
	}
	return o, m
}

func (m *NearMember) Lease() (uint64, bool) { return m.epoch.Load(), !m.down.Load() }
func (m *NearMember) Close() error          { return nil }
func (m *NearMember) Invalidate(ctx context.Context, inv invalidation) error {
	m.Invalidations.Add(1)
	if m.bus.Fail.Load() {
		return errors.New("fake publish failed")
	}
	m.bus.mu.Lock()
	defer m.bus.mu.Unlock()
	for _, o := range m.bus.members {
		o.apply(inv)
	}
	return nil
}

// SetLease makes Lease report epoch and ok, without calling Lapse (the
// lease ran out by time before the stream goroutine noticed).
func (m *NearMember) SetLease(epoch uint64, ok bool) {
	m.epoch.Store(epoch)
	m.down.Store(!ok)
}

// Lapse is the stream noticing a lapse: a new epoch, the tier told.
func (m *NearMember) Lapse() {
	m.epoch.Add(1)
	m.lapse()
}

// NearHits is the near tier's hit count, without the rest of Stats (which
// asks the provider for its key count).
func (c *Cache) NearHits() int64 {
	if c.near == nil {
		return 0
	}
	return c.near.hits.Load()
}
