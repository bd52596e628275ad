package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/aside-go/aside/keys"
	"github.com/aside-go/aside/provider"
)

// DefaultMaxBytes is the bound used when Options.MaxBytes is zero: 64 MiB.
const DefaultMaxBytes int64 = 64 << 20

// EntryOverhead is the number of bytes charged for each entry on top of its
// key and value. It covers what the engine holds per entry besides those bytes:
// otter's node (list and timer-wheel links, deadline, weight, the key's string
// header and the value's slice header and TTL), its share of the hash table's
// buckets, its counters in the frequency sketch, and the allocator's rounding
// of the key copy. TestEntryOverheadCoversMeasuredCost measures the real cost
// on the heap of a full cache (145–161 bytes per entry on linux/amd64 with
// otter v2.4.0 and Go 1.26, depending on where the hash table is in its
// growth cycle) and fails if this constant falls below it; the rest is margin.
const EntryOverhead = 192

// Errors returned by New. Errors from the other methods match the sentinels
// of package provider.
var (
	// ErrInvalidOptions means an Options field is out of range; the message
	// names it.
	ErrInvalidOptions = errors.New("aside: memory: invalid options")
)

// Options configures a Provider. The zero value is ready to use.
type Options struct {
	// MaxBytes bounds the memory the entries hold: the sum over entries of the
	// key's length, the value's allocated size and EntryOverhead. When a write
	// would exceed it, the least valuable entries (by frequency and recency)
	// are evicted. A single entry weighing more than MaxBytes (or more than
	// 4 GiB, the engine's limit per entry) is refused with
	// provider.ErrTooLarge. Zero means DefaultMaxBytes (64 MiB); negative is an
	// error.
	MaxBytes int64
}

// Provider is an in-process, byte-bounded store. Create it with New.
type Provider struct {
	cache    *otter.Cache[string, item]
	maxBytes int64
	closed   atomic.Bool

	// bus fans Publish out to this provider's subscriptions (broadcast.go).
	bus bus
}

// item is what the engine stores for a key. ttl is kept so that the expiry
// calculator, which only sees the entry, can set the entry's deadline inside
// the same atomic write that stores the value.
type item struct {
	// value's capacity is the allocated size, which is what the weigher
	// charges; readers get value[:len:len].
	value []byte
	ttl   time.Duration
}

var (
	_ provider.Provider       = (*Provider)(nil)
	_ provider.Batcher        = (*Provider)(nil)
	_ provider.MultiAdder     = (*Provider)(nil)
	_ provider.MultiGetAdder  = (*Provider)(nil)
	_ provider.MultiSwapper   = (*Provider)(nil)
	_ provider.PatternDeleter = (*Provider)(nil)
	_ provider.Counter        = (*Provider)(nil)
	_ provider.Sizer          = (*Provider)(nil)
	_ provider.Broadcaster    = (*Provider)(nil)
)

// New returns a Provider configured by opts.
func New(opts Options) (*Provider, error) {
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("%w: MaxBytes is %d (use 0 for the default of %d, or a positive bound)",
			ErrInvalidOptions, opts.MaxBytes, DefaultMaxBytes)
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	c, err := otter.New(&otter.Options[string, item]{
		MaximumWeight: uint64(opts.MaxBytes),
		Weigher: func(key string, it item) uint32 {
			// set refuses entries whose weight does not fit in a uint32.
			return uint32(weigh(key, it.value))
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, item]) time.Duration {
			if e.Value.ttl == 0 {
				// otter keeps the current deadline for a non-positive duration; the
				// largest one saturates to "never", which also clears an earlier TTL.
				return math.MaxInt64
			}
			return e.Value.ttl
		}),
		Logger: &otter.NoopLogger{},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	return &Provider{cache: c, maxBytes: opts.MaxBytes}, nil
}

func weigh(key string, value []byte) int64 {
	return int64(len(key)) + int64(cap(value)) + EntryOverhead
}

// Get returns the value stored under key. The slice is shared with other
// readers and must not be modified.
func (p *Provider) Get(ctx context.Context, key string) ([]byte, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	it, ok := p.cache.GetIfPresent(key)
	if !ok {
		// The bare sentinel: a miss is common and must not allocate.
		return nil, provider.ErrNotFound
	}
	return readOnly(it.value), nil
}

// GetMulti returns the values of keys in order, nil for a missing key.
func (p *Provider) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if it, ok := p.cache.GetIfPresent(k); ok {
			out[i] = readOnly(it.value)
		}
	}
	return out, nil
}

// Set stores a copy of value under key with the given TTL.
func (p *Provider) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := p.check(ctx); err != nil {
		return err
	}
	k, it, err := p.newItem(key, value, ttl)
	if err != nil {
		return err
	}
	p.cache.Set(k, it)
	return nil
}

// Add stores a copy of value under key if the key is absent; otherwise it
// returns the value already there and changes nothing.
func (p *Provider) Add(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, bool, error) {
	if err := p.check(ctx); err != nil {
		return nil, false, err
	}
	k, it, err := p.newItem(key, value, ttl)
	if err != nil {
		return nil, false, err
	}
	var (
		existing []byte
		added    bool
	)
	p.cache.Compute(k, func(old item, found bool) (item, otter.ComputeOp) {
		if found {
			existing = old.value
			return old, otter.CancelOp
		}
		added = true
		return it, otter.WriteOp
	})
	if added {
		return nil, true, nil
	}
	return readOnly(existing), false, nil
}

// CompareAndSwap replaces the value under key with a copy of new, and its TTL
// with ttl, if the key holds exactly old.
func (p *Provider) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	if err := p.check(ctx); err != nil {
		return false, err
	}
	k, it, err := p.newItem(key, new, ttl)
	if err != nil {
		return false, err
	}
	swapped := false
	p.cache.ComputeIfPresent(k, func(cur item) (item, otter.ComputeOp) {
		if !bytes.Equal(cur.value, old) {
			return cur, otter.CancelOp
		}
		swapped = true
		return it, otter.WriteOp
	})
	return swapped, nil
}

// Delete removes keys and returns how many of them existed.
func (p *Provider) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := p.check(ctx); err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return 0, err
		}
	}
	n := 0
	for _, k := range keys {
		if _, ok := p.cache.Invalidate(k); ok {
			n++
		}
	}
	return n, nil
}

// Ping reports whether the provider is open.
func (p *Provider) Ping(ctx context.Context) error {
	return p.check(ctx)
}

// Close stops the engine's clean-up goroutine and drops every entry. It is
// idempotent; every other method returns provider.ErrClosed afterwards.
func (p *Provider) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.cache.StopAllGoroutines()
	p.cache.InvalidateAll()
	p.bus.close()
	return nil
}

// SetMulti stores every item. Every item is validated and copied before any
// is stored, so an invalid key, TTL or size stores nothing.
func (p *Provider) SetMulti(ctx context.Context, items []provider.Item) error {
	if err := p.check(ctx); err != nil {
		return err
	}
	type write struct {
		key string
		it  item
	}
	writes := make([]write, len(items))
	for i, in := range items {
		k, it, err := p.newItem(in.Key, in.Value, in.TTL)
		if err != nil {
			return err
		}
		writes[i] = write{k, it}
	}
	for i, w := range writes {
		if i%256 == 255 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		p.cache.Set(w.key, w.it)
	}
	return nil
}

// AddMulti applies Add to every item: each is stored only if its key is
// absent. Every item is validated before any is added.
func (p *Provider) AddMulti(ctx context.Context, items []provider.Item) ([]provider.AddResult, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	for _, in := range items {
		if _, _, err := p.newItem(in.Key, in.Value, in.TTL); err != nil {
			return nil, err
		}
	}
	out := make([]provider.AddResult, len(items))
	for i, in := range items {
		existing, added, err := p.Add(ctx, in.Key, in.Value, in.TTL)
		if err != nil {
			return nil, err
		}
		out[i] = provider.AddResult{Added: added, Existing: existing}
	}
	return out, nil
}

// GetAddMulti reads every fetch's key and, when it is missing and the
// fetch has a value to add, adds it, as Get then Add would but atomically
// per key. Every fetch is validated before any is applied.
func (p *Provider) GetAddMulti(ctx context.Context, fetches []provider.Fetch) ([]provider.AddResult, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	for _, f := range fetches {
		if err := checkKey(f.Key); err != nil {
			return nil, err
		}
		if f.Add != nil {
			if err := p.validate(f.Key, len(f.Add), f.TTL); err != nil {
				return nil, err
			}
		}
	}
	out := make([]provider.AddResult, len(fetches))
	for i, f := range fetches {
		if f.Add == nil {
			if it, ok := p.cache.GetIfPresent(f.Key); ok {
				out[i].Existing = readOnly(it.value)
			}
			continue
		}
		existing, added, err := p.Add(ctx, f.Key, f.Add, f.TTL)
		if err != nil {
			return nil, err
		}
		out[i] = provider.AddResult{Added: added, Existing: existing}
	}
	return out, nil
}

// CompareAndSwapMulti applies CompareAndSwap to every swap, in order. Every
// swap is validated before any is applied.
func (p *Provider) CompareAndSwapMulti(ctx context.Context, swaps []provider.Swap) ([]bool, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	for _, sw := range swaps {
		if err := p.validate(sw.Key, len(sw.New), sw.TTL); err != nil {
			return nil, err
		}
	}
	out := make([]bool, len(swaps))
	for i, sw := range swaps {
		ok, err := p.CompareAndSwap(ctx, sw.Key, sw.Old, sw.New, sw.TTL)
		if err != nil {
			return nil, err
		}
		out[i] = ok
	}
	return out, nil
}

// DeletePattern removes the keys matching pattern (Redis glob syntax, see
// keys.Match) and returns how many it removed. It walks every entry, without
// blocking writers; keys written during the walk may survive.
func (p *Provider) DeletePattern(ctx context.Context, pattern string) (int, error) {
	if err := p.check(ctx); err != nil {
		return 0, err
	}
	n, seen := 0, 0
	for k := range p.cache.Keys() {
		seen++
		if seen%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
		if !keys.Match(pattern, k) {
			continue
		}
		if _, ok := p.cache.Invalidate(k); ok {
			n++
		}
	}
	return n, nil
}

// Len returns the number of entries, including expired ones the engine has
// not reclaimed yet (it reclaims them within about a second).
func (p *Provider) Len(ctx context.Context) (int64, error) {
	if err := p.check(ctx); err != nil {
		return 0, err
	}
	return int64(p.cache.EstimatedSize()), nil
}

// Size returns the bytes the entries are charged for (see Options.MaxBytes:
// keys, allocated values and EntryOverhead each) and MaxBytes. It first
// applies the writes the engine has buffered (and reclaims expired
// entries), so that a write that returned is counted.
func (p *Provider) Size(ctx context.Context) (used, limit int64, err error) {
	if err := p.check(ctx); err != nil {
		return 0, 0, err
	}
	p.cache.CleanUp()
	return int64(p.cache.WeightedSize()), p.maxBytes, nil
}

func (p *Provider) check(ctx context.Context) error {
	if p.closed.Load() {
		return provider.ErrClosed
	}
	return ctx.Err()
}

// newItem validates a write and returns the key and item to store, both
// copied so that the provider never retains the caller's memory.
func (p *Provider) newItem(key string, value []byte, ttl time.Duration) (string, item, error) {
	if err := p.validate(key, len(value), ttl); err != nil {
		return "", item{}, err
	}
	// append rounds the capacity up to the allocator's size class, so the
	// weigher charges what the heap really holds. An empty value stays
	// non-nil: it is distinct from a missing one.
	v := append([]byte{}, value...)
	if w := weigh(key, v); w > p.maxBytes || w > math.MaxUint32 {
		return "", item{}, p.tooLarge(key, len(value), w)
	}
	return strings.Clone(key), item{value: v, ttl: roundTTL(ttl)}, nil
}

// validate checks a write before anything is allocated for it.
func (p *Provider) validate(key string, size int, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if ttl < 0 {
		return fmt.Errorf("aside: memory: ttl %v: %w", ttl, provider.ErrInvalidTTL)
	}
	if w := int64(len(key)) + int64(size) + EntryOverhead; w > p.maxBytes || w > math.MaxUint32 {
		return p.tooLarge(key, size, w)
	}
	return nil
}

func (p *Provider) tooLarge(key string, size int, weight int64) error {
	return fmt.Errorf("aside: memory: entry of %d bytes (key %d, value %d, overhead %d) exceeds MaxBytes %d or the 4 GiB entry limit: %w",
		weight, len(key), size, EntryOverhead, p.maxBytes, provider.ErrTooLarge)
}

func checkKey(key string) error {
	if len(key) == 0 || len(key) > provider.MaxKeyLen {
		return fmt.Errorf("aside: memory: key of %d bytes: %w", len(key), provider.ErrInvalidKey)
	}
	return nil
}

// roundTTL rounds a sub-millisecond remainder up, as the contract asks, so a
// key is never dropped earlier than asked.
func roundTTL(ttl time.Duration) time.Duration {
	if r := ttl % time.Millisecond; r != 0 {
		if ttl > math.MaxInt64-time.Millisecond {
			return math.MaxInt64
		}
		ttl += time.Millisecond - r
	}
	return ttl
}

// readOnly caps a stored slice at its length, so that a caller's append
// reallocates instead of writing into memory other readers share.
func readOnly(b []byte) []byte {
	return b[:len(b):len(b)]
}
