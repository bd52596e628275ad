package aside

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/aside-go/aside/internal/coherence"
	"github.com/aside-go/aside/keys"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
)

// NearMode says what the near tier keeps of an entry; see Near.
type NearMode uint8

const (
	// NearSafe keeps the stored frame and decodes it on every hit, so each
	// caller gets its own copy of the value (the default).
	NearSafe NearMode = iota
	// NearShared keeps the decoded value and hands that same value to
	// every caller of Get, Remember, GetMany and RememberMany whose type
	// parameter matches it.
	//
	// THE VALUE IS SHARED: a caller that modifies what it got (a field of a
	// struct reached through a pointer, a map entry, a slice element, the
	// bytes of a []byte) modifies what every other caller in the process
	// gets, until the entry is dropped, and races with them. Use it only for
	// values that every caller treats as read-only, or for value types
	// without references (a struct of numbers and strings is copied on
	// return and is safe).
	NearShared
)

// Near configures the near tier: a bounded in-process copy of the entries
// this process read, served without a round trip while the store tells
// every process what to drop. The zero value is off.
//
// The guarantee, over a provider with provider.Broadcaster (Redis, rueidis):
// once a Delete, Set, SetMany, InvalidateTags (or InvalidateTagsEventually,
// once it succeeded) or InvalidatePattern returns without error, no process
// serves from its near tier what it replaced, exactly as without the tier.
// Each process holds a lease on the store's invalidation channel, renewed
// every Lease/5; a process that cannot hear it (connection lost, paused,
// partitioned) stops serving from its tier within Lease, and an invalidating
// call waits for every live process to confirm, or for its lease to run
// out. Every process that writes to the namespace must have Near on: a
// Cache without it writes without telling the others.
//
// Over a provider without provider.Broadcaster (a provider/dual composite,
// a custom provider), or with TTLOnly, Near needs TTL, and the guarantee is
// weaker and only this: another process may serve a value up to TTL after
// it was replaced. This process drops what it invalidates itself at once.
//
// Upstash has pub/sub (its REST streaming subscribe), but bills every
// heartbeat and acknowledgement as a command: over a store that bills
// commands (provider.Meter) Near asks for a choice, TTLOnly with TTL (no
// heartbeats) or an explicit Lease (5 heartbeats per Lease per process:
// about 13M commands a month per process with a 1s lease, 1.3M with 10s).
//
// The tier serves and fills Get, Remember (the HTTP middleware's reads
// included), GetMany and RememberMany: a batch asks the store only for the
// keys the tier does not hold, and fills the tier with the fresh entries it
// read. What Remember and RememberMany load and store fills the tier of
// the process that loaded it at once; what Set and SetMany store, on its
// next read.
//
// Over the in-process memory provider Near is refused: that store already
// answers from this process's memory, and a second copy would only double
// it.
type Near struct {
	// MaxBytes bounds the tier: the sum over entries of the key, the tag
	// names, the stored frame and a fixed overhead per entry, plus, in
	// NearShared mode, an estimate of the decoded value (nearSharedFactor
	// times its frame; the real size of a Go value is not cheap to
	// measure). The least valuable entries (by frequency and recency) go
	// first. A positive value turns the tier on; 0 leaves it off.
	MaxBytes int64
	// Mode is NearSafe (the default) or NearShared.
	Mode NearMode
	// TTL, when positive, caps how long an entry is served from the tier
	// after it was read from the store. Required without a Broadcaster.
	TTL time.Duration
	// TTLOnly runs the tier in TTL mode (see above) even over a provider
	// with pub/sub: no heartbeats, no waiting for other processes, and
	// replaced values served by other processes for up to TTL. It is the
	// cheap option on Upstash, where every heartbeat and acknowledgement is
	// a billed command. Needs TTL.
	TTLOnly bool
	// Lease is how long this process may serve from the tier without
	// hearing from the store, and the longest an invalidating call waits for
	// a process it cannot hear from. Default 1s.
	Lease time.Duration
}

func (n Near) on() bool { return n.MaxBytes > 0 }

func (n Near) validate() error {
	switch {
	case n.MaxBytes < 0:
		return fmt.Errorf("%w: Near.MaxBytes is negative (0 leaves the near tier off)", ErrInvalidOption)
	case n.TTL < 0:
		return fmt.Errorf("%w: Near.TTL is negative", ErrInvalidOption)
	case n.Lease < 0:
		return fmt.Errorf("%w: Near.Lease is negative (use 0 for the 1s default)", ErrInvalidOption)
	case n.Mode > NearShared:
		return fmt.Errorf("%w: Near.Mode is %d (NearSafe or NearShared)", ErrInvalidOption, n.Mode)
	case n.TTLOnly && n.TTL == 0:
		return fmt.Errorf("%w: Near.TTLOnly needs Near.TTL (how long another process may serve a replaced value)", ErrInvalidOption)
	case !n.on() && (n.TTL != 0 || n.Mode != NearSafe || n.Lease != 0 || n.TTLOnly):
		return fmt.Errorf("%w: Near is set but Near.MaxBytes is 0 (set MaxBytes to turn the near tier on)", ErrInvalidOption)
	}
	return nil
}

const (
	// nearEntryOverhead is charged per entry on top of its bytes: otter's
	// node and table share (see memory.EntryOverhead) plus the nearEntry.
	nearEntryOverhead = 192 + 96
	// nearSharedFactor estimates a decoded value's size from its frame.
	nearSharedFactor = 4
	// nearMinRefs is the size of the tag index below which it is never
	// rebuilt.
	nearMinRefs = 4096
)

// invalidation is what every instance must drop from its near tier; it is
// coherence.Message, kept as the tier's own type so that the tier and its
// tests do not depend on the transport.
type invalidation struct {
	keys     []string // entry provider keys
	tags     []string
	patterns []string // Redis globs over entry provider keys
	all      bool
}

// nearStream is what the tier needs of the coherence stream (the real one
// is internal/coherence.Stream; tests plug in a fake).
type nearStream interface {
	// Lease reports the epoch and whether this process may serve now.
	Lease() (epoch uint64, ok bool)
	// Invalidate applies m here and in every live process before it
	// returns; an error means some process may not have applied it.
	Invalidate(ctx context.Context, m invalidation) error
	Close() error
}

// nearEntry is one entry of the tier: what the Cache needs to serve it
// without a round trip. It is never modified once stored.
type nearEntry struct {
	epoch      uint64 // the stream's epoch at fill
	freshUntil int64  // Unix ms, writer's clock (as in the envelope); otter's deadline
	tags       []string
	payload    []byte // the codec frame
	value      any    // NearShared: the decoded value
}

// nearTier is the near cache. Bounds: MaxBytes (otter's weigher), the tag
// index at most twice the entries plus nearMinRefs references (rebuilt from
// the entries beyond that). It heals by forgetting: a lease that lapses
// drops everything, and an entry whose epoch is not the current one is
// never served.
//
// Ordering (the generation guard): apply bumps gen before it drops
// anything; a fill reads gen before its store read, inserts, then reads gen
// again and takes its entry back out if it moved. Either the second read
// comes before apply's bump, and then apply's drop comes after the insert
// and removes it, or it sees the bump. So no entry read before an
// invalidation survives its apply.
type nearTier struct {
	cache  *otter.Cache[string, *nearEntry]
	shared bool
	stream nearStream // nil: TTL mode (no Broadcaster)

	gen atomic.Uint64

	mu    sync.Mutex // the tag index; held across index update and insert
	byTag map[string]map[string]struct{}
	refs  int

	hits, misses, drops, rejected atomic.Int64
}

func newNearTier(n Near) (*nearTier, error) {
	t := &nearTier{shared: n.Mode == NearShared, byTag: map[string]map[string]struct{}{}}
	capTTL := n.TTL
	c, err := otter.New(&otter.Options[string, *nearEntry]{
		MaximumWeight: uint64(n.MaxBytes),
		Weigher: func(k string, e *nearEntry) uint32 {
			return uint32(min(nearWeight(k, e, t.shared), math.MaxUint32))
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *nearEntry]) time.Duration {
			// Gone once stale: the tier serves fresh entries only. otter
			// checks the deadline on every read, so lookup need not read
			// the clock again (a clock read is a good part of a hit's cost).
			d := time.Until(time.UnixMilli(e.Value.freshUntil))
			if capTTL > 0 {
				d = min(d, capTTL)
			}
			return max(d, time.Nanosecond)
		}),
		Logger: &otter.NoopLogger{},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: Near: %w", ErrInvalidOption, err)
	}
	t.cache = c
	return t, nil
}

func nearWeight(k string, e *nearEntry, shared bool) int64 {
	w := int64(nearEntryOverhead + len(k) + cap(e.payload))
	for _, t := range e.tags {
		w += int64(len(t)) + 16
	}
	if shared {
		w += nearSharedFactor * int64(len(e.payload))
	}
	return w
}

// lookup returns the entry at skey if it may be served now.
func (t *nearTier) lookup(skey string) (*nearEntry, bool) {
	e, ok := t.cache.GetIfPresent(skey)
	if ok && t.stream != nil {
		epoch, held := t.stream.Lease()
		ok = held && epoch == e.epoch
	}
	if !ok {
		t.misses.Add(1)
		return nil, false
	}
	t.hits.Add(1)
	return e, true
}

// nearTicket is what a fill must still hold at insert: the generation and
// epoch it read under.
type nearTicket struct {
	gen   uint64
	epoch uint64
	ok    bool
}

// ticket is taken before the store read whose result may fill the tier.
func (t *nearTier) ticket() nearTicket {
	tk := nearTicket{gen: t.gen.Load(), ok: true}
	if t.stream != nil {
		tk.epoch, tk.ok = t.stream.Lease()
	}
	return tk
}

// fill inserts what a store read under tk returned, if nothing was
// invalidated and the lease did not lapse since tk was taken. value is the
// decoded value (kept in NearShared mode).
func (t *nearTier) fill(tk nearTicket, skey string, env envelope, value any) {
	if !tk.ok {
		t.rejected.Add(1)
		return
	}
	e := &nearEntry{epoch: tk.epoch, freshUntil: env.freshUntil, payload: env.payload}
	if env.nTags > 0 {
		e.tags = make([]string, 0, env.nTags)
		raw := env.tagsRaw
		for range env.nTags {
			name, _, rest := nextTag(raw)
			raw = rest
			e.tags = append(e.tags, string(name))
		}
	}
	e.value = value
	t.mu.Lock()
	for _, tag := range e.tags {
		set := t.byTag[tag]
		if set == nil {
			set = map[string]struct{}{}
			t.byTag[tag] = set
		}
		if _, ok := set[skey]; !ok {
			set[skey] = struct{}{}
			t.refs++
		}
	}
	t.cache.Set(skey, e)
	if t.refs > nearMinRefs+2*t.cache.EstimatedSize() {
		t.rebuildIndex()
	}
	t.mu.Unlock()
	ok := t.gen.Load() == tk.gen
	if ok && t.stream != nil {
		epoch, held := t.stream.Lease()
		ok = held && epoch == tk.epoch
	}
	if !ok {
		// An invalidation or a lapse came between the read and the insert:
		// take this entry back out (not a newer one).
		t.cache.ComputeIfPresent(skey, func(cur *nearEntry) (*nearEntry, otter.ComputeOp) {
			if cur == e {
				return nil, otter.InvalidateOp
			}
			return cur, otter.CancelOp
		})
		t.rejected.Add(1)
	}
}

// rebuildIndex drops the index's references to entries that are gone
// (evicted, expired or replaced). Called with t.mu held.
func (t *nearTier) rebuildIndex() {
	clear(t.byTag)
	t.refs = 0
	for k, e := range t.cache.All() {
		for _, tag := range e.tags {
			set := t.byTag[tag]
			if set == nil {
				set = map[string]struct{}{}
				t.byTag[tag] = set
			}
			set[k] = struct{}{}
			t.refs++
		}
	}
}

// apply drops what m names. It returns once the entries are gone.
func (t *nearTier) apply(m invalidation) {
	t.gen.Add(1) // before any drop: see the type's comment
	t.mu.Lock()
	defer t.mu.Unlock()
	if m.all {
		t.dropAll()
		return
	}
	for _, k := range m.keys {
		t.drop(k)
	}
	for _, tag := range m.tags {
		for k := range t.byTag[tag] {
			t.drop(k)
		}
		t.refs -= len(t.byTag[tag])
		delete(t.byTag, tag)
	}
	for _, p := range m.patterns {
		for k := range t.cache.Keys() {
			if keys.Match(p, k) {
				t.drop(k)
			}
		}
	}
}

func (t *nearTier) drop(k string) {
	if _, ok := t.cache.Invalidate(k); ok {
		t.drops.Add(1)
	}
}

// dropAll forgets everything. Called with t.mu held.
func (t *nearTier) dropAll() {
	t.drops.Add(int64(t.cache.EstimatedSize()))
	t.cache.InvalidateAll()
	clear(t.byTag)
	t.refs = 0
}

// lapse forgets everything: the lease ran out, so nothing filled under it
// may be served again.
func (t *nearTier) lapse() {
	t.gen.Add(1)
	t.mu.Lock()
	t.dropAll()
	t.mu.Unlock()
}

func (t *nearTier) close() error {
	var err error
	if t.stream != nil {
		err = t.stream.Close()
	}
	t.cache.StopAllGoroutines()
	t.cache.InvalidateAll()
	return err
}

var errNearInProcess = fmt.Errorf("%w: Near over the in-process memory provider: it already answers from this process's memory; set Near only over a shared store (Redis)", ErrInvalidOption)

// errNearBilled refuses the lease protocol's default cost on a store that
// bills every command: it must be chosen, not discovered on the invoice.
var errNearBilled = fmt.Errorf("%w: Near over a store that bills every command (Upstash): the near tier's heartbeats are billed PUBLISH commands, 5 per Near.Lease per process; "+
	"with the 1s default that is about 13M commands a month per process (~$26 at $0.20 per 100K, 26 times the free tier). "+
	"Set Near.TTLOnly and Near.TTL for the cheap mode (no heartbeats; other processes may serve a replaced value for up to TTL), "+
	"or set Near.Lease to accept the cost (10s: ~1.3M commands a month per process)", ErrInvalidOption)

// billed reports whether the store under p's wrappers counts what it bills
// (provider.Meter: Upstash's REST provider).
func billed(p provider.Provider) bool {
	_, ok := innermost(p).(provider.Meter)
	return ok
}

// startNear builds the near tier over the provider's Broadcaster (found
// under the Cache's wrappers), or in TTL mode without one.
func (c *Cache) startNear(o Options) error {
	if _, inProcess := innermost(c.p).(*memory.Provider); inProcess {
		return errNearInProcess
	}
	t, err := newNearTier(o.Near)
	if err != nil {
		return err
	}
	switch b := broadcasterOf(c.p); {
	case o.nearStream != nil:
		t.stream = o.nearStream(t.apply, t.lapse)
	case b != nil && !o.Near.TTLOnly && o.Near.Lease == 0 && billed(c.p):
		t.close()
		return errNearBilled
	case b != nil && !o.Near.TTLOnly:
		s, err := coherence.New(c.bgCtx, coherence.Config{
			Broadcaster: b,
			Channel:     c.keys.Prefix() + "near",
			Lease:       o.Near.Lease,
			Apply: func(m coherence.Message) {
				t.apply(invalidation{keys: m.Keys, tags: m.Tags, patterns: m.Patterns, all: m.All})
			},
			Lapse:  t.lapse,
			Logger: c.log,
		})
		if err != nil {
			t.close()
			return fmt.Errorf("%w: Near: %w", ErrInvalidOption, err)
		}
		t.stream = coherenceStream{s}
	case b == nil && o.Near.TTL == 0:
		t.close()
		return fmt.Errorf("%w: Near over a provider without pub/sub (provider.Broadcaster; a provider/dual composite has none) needs Near.TTL: other processes then serve a replaced value for up to that long", ErrInvalidOption)
	}
	c.near = t
	return nil
}

// broadcasterOf returns the outermost provider.Broadcaster among p and the
// providers it wraps (the circuit breaker's, so that an open circuit fails
// an invalidation fast), provided the store under them has the ability: a
// wrapper passes it through but answers provider.ErrNotSupported without.
func broadcasterOf(p provider.Provider) provider.Broadcaster {
	if _, ok := innermost(p).(provider.Broadcaster); !ok {
		return nil
	}
	for p != nil {
		if b, ok := p.(provider.Broadcaster); ok {
			return b
		}
		u, ok := p.(provider.Unwrapper)
		if !ok {
			return nil
		}
		p = u.Unwrap()
	}
	return nil
}

func innermost(p provider.Provider) provider.Provider {
	for {
		u, ok := p.(provider.Unwrapper)
		if !ok || u.Unwrap() == nil {
			return p
		}
		p = u.Unwrap()
	}
}

// coherenceStream adapts coherence.Stream to the tier.
type coherenceStream struct{ s *coherence.Stream }

func (c coherenceStream) Lease() (uint64, bool) { return c.s.Lease() }
func (c coherenceStream) Close() error          { return c.s.Close() }
func (c coherenceStream) Invalidate(ctx context.Context, m invalidation) error {
	return c.s.Invalidate(ctx, coherence.Message{Keys: m.keys, Tags: m.tags, Patterns: m.patterns, All: m.all})
}

// invalidate tells every process's near tier (this one's first) to drop
// what m names, after the store write it follows. Without a tier it does
// nothing; in TTL mode it only drops here.
func (c *Cache) nearInvalidate(ctx context.Context, m invalidation) error {
	t := c.near
	if t == nil {
		return nil
	}
	if t.stream == nil {
		t.apply(m)
		return nil
	}
	if err := t.stream.Invalidate(ctx, m); err != nil {
		// This process at least drops it (the stream applies an
		// invalidation only when it comes back on the channel).
		t.apply(m)
		c.failed(ctx, "cache near-tier invalidation not confirmed", "", err)
		return fmt.Errorf("near tier: %w", err)
	}
	return nil
}

// nearGet serves key from the near tier: ok is false on a near miss.
func nearGet[T any](ctx context.Context, c *Cache, skey string, b *FailureBudget) (v T, ok bool) {
	e, ok := c.near.lookup(skey)
	if !ok {
		return v, false
	}
	if tv, ok := e.value.(nearValue[T]); ok {
		return tv.v, true
	}
	return nearDecode[T](ctx, c, e, b)
}

// nearValue is a decoded value kept in NearShared mode, boxed with its
// exact type: a caller whose T is another type, an interface it satisfies
// included, decodes the frame as it would from the store.
type nearValue[T any] struct{ v T }

// nearFill fills the tier with what a store read under tk returned, v being
// its decoded value.
func nearFill[T any](c *Cache, tk nearTicket, skey string, env envelope, v T) {
	var value any
	if c.near.shared {
		value = nearValue[T]{v}
	}
	c.near.fill(tk, skey, env, value)
}

// nearDecode decodes a near entry's frame (its v escapes to the codec: kept
// out of nearGet so that shared hits do not allocate it).
func nearDecode[T any](ctx context.Context, c *Cache, e *nearEntry, b *FailureBudget) (v T, ok bool) {
	if err := c.unmarshal(ctx, e.payload, &v, b); err != nil {
		// Decoded once already, so this is another type than the fill's:
		// the store decides.
		var zero T
		return zero, false
	}
	return v, true
}

// NearStats is the near tier's part of Stats; zero when it is off.
type NearStats struct {
	On bool `json:"on"`
	// Serving is false while the lease is lapsed (the store's channel
	// cannot be heard): reads go to the store.
	Serving bool  `json:"serving"`
	Hits    int64 `json:"hits"`   // reads served from the tier (also in Hits)
	Misses  int64 `json:"misses"` // reads the tier could not serve (then read from the store)
	Drops   int64 `json:"drops"`  // entries dropped by invalidations and lapses
	// Rejected counts fills refused because an invalidation or a lapse
	// came between their store read and their insert.
	Rejected int64 `json:"rejected"`
	Entries  int64 `json:"entries"`
	Bytes    int64 `json:"bytes"` // weighed as in Near.MaxBytes
}

func (c *Cache) nearStats() NearStats {
	t := c.near
	if t == nil {
		return NearStats{}
	}
	s := NearStats{
		On: true, Serving: true,
		Hits: t.hits.Load(), Misses: t.misses.Load(), Drops: t.drops.Load(), Rejected: t.rejected.Load(),
		Entries: int64(t.cache.EstimatedSize()), Bytes: int64(t.cache.WeightedSize()),
	}
	if t.stream != nil {
		_, s.Serving = t.stream.Lease()
	}
	return s
}
