package circuit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/provider"
)

// Wrap puts p behind a new circuit breaker configured by o. It returns the
// guarded provider, to use in p's place, and the Breaker, for its state and
// counters.
//
// The guarded provider implements every optional ability of package
// provider, each through the breaker, whatever p implements: one type
// however many abilities there are. Where p lacks one, provider.Batcher,
// provider.MultiAdder and provider.MultiSwapper are emulated with one Set,
// Add or CompareAndSwap per item (what a caller would do without them),
// provider.MultiGetAdder with one GetMulti and an AddMulti of the missing
// keys, and provider.PatternDeleter and
// provider.Counter return an error matching provider.ErrNotSupported.
// Reach p itself through the guarded provider's Unwrap method.
func Wrap(p provider.Provider, o Options) (provider.Provider, *Breaker, error) {
	if p == nil {
		return nil, nil, fmt.Errorf("%w: the provider to wrap is nil", ErrInvalidOptions)
	}
	b, err := newBreaker(o)
	if err != nil {
		return nil, nil, err
	}
	return &guarded{b: b, p: p}, b, nil
}

var (
	_ provider.Provider       = (*guarded)(nil)
	_ provider.Batcher        = (*guarded)(nil)
	_ provider.MultiAdder     = (*guarded)(nil)
	_ provider.MultiGetAdder  = (*guarded)(nil)
	_ provider.MultiSwapper   = (*guarded)(nil)
	_ provider.PatternDeleter = (*guarded)(nil)
	_ provider.Counter        = (*guarded)(nil)
)

// guarded is the provider Wrap returns, before optional abilities.
type guarded struct {
	b      *Breaker
	p      provider.Provider
	closed atomic.Bool
}

// check answers calls that must not reach the breaker: after Close every call
// returns ErrClosed even while the circuit is open, and a caller whose
// context is already done gets its context's error without using up a probe.
func (g *guarded) check(ctx context.Context) error {
	if g.closed.Load() {
		return provider.ErrClosed
	}
	return ctx.Err()
}

func (g *guarded) Get(ctx context.Context, key string) (value []byte, err error) {
	if err := g.check(ctx); err != nil {
		return nil, err
	}
	err = g.b.do(ctx, func() error {
		value, err = g.p.Get(ctx, key)
		return err
	})
	return value, err
}

func (g *guarded) GetMulti(ctx context.Context, keys []string) (values [][]byte, err error) {
	if err := g.check(ctx); err != nil {
		return nil, err
	}
	err = g.b.do(ctx, func() error {
		values, err = g.p.GetMulti(ctx, keys)
		return err
	})
	return values, err
}

func (g *guarded) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := g.check(ctx); err != nil {
		return err
	}
	return g.b.do(ctx, func() error { return g.p.Set(ctx, key, value, ttl) })
}

func (g *guarded) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (existing []byte, added bool, err error) {
	if err := g.check(ctx); err != nil {
		return nil, false, err
	}
	err = g.b.do(ctx, func() error {
		existing, added, err = g.p.Add(ctx, key, value, ttl)
		return err
	})
	return existing, added, err
}

func (g *guarded) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (swapped bool, err error) {
	if err := g.check(ctx); err != nil {
		return false, err
	}
	err = g.b.do(ctx, func() error {
		swapped, err = g.p.CompareAndSwap(ctx, key, old, new, ttl)
		return err
	})
	return swapped, err
}

func (g *guarded) Delete(ctx context.Context, keys ...string) (n int, err error) {
	if err := g.check(ctx); err != nil {
		return 0, err
	}
	err = g.b.do(ctx, func() error {
		n, err = g.p.Delete(ctx, keys...)
		return err
	})
	return n, err
}

func (g *guarded) Ping(ctx context.Context) error {
	if err := g.check(ctx); err != nil {
		return err
	}
	return g.b.do(ctx, func() error { return g.p.Ping(ctx) })
}

// Close closes the wrapped provider, whatever the circuit's state. Every
// later call returns an error matching provider.ErrClosed.
func (g *guarded) Close() error {
	g.closed.Store(true)
	return g.p.Close()
}

// Unwrap returns the provider behind the breaker, for tools that need an
// ability the guarded provider does not pass on. Calls made on it directly
// bypass the breaker.
func (g *guarded) Unwrap() provider.Provider { return g.p }

// SetMulti applies items with the wrapped provider's SetMulti, or with one
// Set per item (stopping at the first error) when it has none.
func (g *guarded) SetMulti(ctx context.Context, items []provider.Item) error {
	if err := g.check(ctx); err != nil {
		return err
	}
	if bt, ok := g.p.(provider.Batcher); ok {
		return g.b.do(ctx, func() error { return bt.SetMulti(ctx, items) })
	}
	for _, it := range items {
		if err := g.Set(ctx, it.Key, it.Value, it.TTL); err != nil {
			return err
		}
	}
	return nil
}

// AddMulti applies items with the wrapped provider's AddMulti, or with one
// Add per item (stopping at the first error) when it has none.
func (g *guarded) AddMulti(ctx context.Context, items []provider.Item) (res []provider.AddResult, err error) {
	if err := g.check(ctx); err != nil {
		return nil, err
	}
	if ma, ok := g.p.(provider.MultiAdder); ok {
		err = g.b.do(ctx, func() error {
			res, err = ma.AddMulti(ctx, items)
			return err
		})
		return res, err
	}
	res = make([]provider.AddResult, len(items))
	for i, it := range items {
		existing, added, err := g.Add(ctx, it.Key, it.Value, it.TTL)
		if err != nil {
			return nil, err
		}
		res[i] = provider.AddResult{Added: added, Existing: existing}
	}
	return res, nil
}

// GetAddMulti is the wrapped provider's, or, when it has none, one GetMulti
// of every key followed by AddMulti (as above) of the missing keys that have
// a value to add: two round trips, and each key still read then added as
// Get and Add would, which is what the contract asks of each fetch.
func (g *guarded) GetAddMulti(ctx context.Context, fetches []provider.Fetch) (res []provider.AddResult, err error) {
	if err := g.check(ctx); err != nil {
		return nil, err
	}
	if ga, ok := g.p.(provider.MultiGetAdder); ok {
		err = g.b.do(ctx, func() error {
			res, err = ga.GetAddMulti(ctx, fetches)
			return err
		})
		return res, err
	}
	keys := make([]string, len(fetches))
	for i, f := range fetches {
		keys[i] = f.Key
	}
	vals, err := g.GetMulti(ctx, keys)
	if err != nil {
		return nil, err
	}
	if len(vals) != len(keys) {
		return nil, fmt.Errorf("aside: circuit: the wrapped provider answered %d values for %d keys", len(vals), len(keys))
	}
	res = make([]provider.AddResult, len(fetches))
	var adds []provider.Item
	var at []int
	for i, f := range fetches {
		res[i].Existing = vals[i]
		if vals[i] == nil && f.Add != nil {
			adds = append(adds, provider.Item{Key: f.Key, Value: f.Add, TTL: f.TTL})
			at = append(at, i)
		}
	}
	if len(adds) == 0 {
		return res, nil
	}
	added, err := g.AddMulti(ctx, adds)
	if err != nil {
		return nil, err
	}
	for j, i := range at {
		res[i] = added[j]
	}
	// Fetches apply in order: a read-only fetch after an add of its key
	// reads what that add left.
	after := make(map[string][]byte, len(at))
	for i, f := range fetches {
		switch {
		case res[i].Added:
			after[f.Key] = f.Add
		case f.Add != nil:
			after[f.Key] = res[i].Existing
		case res[i].Existing == nil:
			if v, ok := after[f.Key]; ok {
				res[i].Existing = v
			}
		}
	}
	return res, nil
}

// CompareAndSwapMulti is the wrapped provider's, or one CompareAndSwap per
// swap (stopping at the first error) when it has none.
func (g *guarded) CompareAndSwapMulti(ctx context.Context, swaps []provider.Swap) (res []bool, err error) {
	if err := g.check(ctx); err != nil {
		return nil, err
	}
	if ms, ok := g.p.(provider.MultiSwapper); ok {
		err = g.b.do(ctx, func() error {
			res, err = ms.CompareAndSwapMulti(ctx, swaps)
			return err
		})
		return res, err
	}
	res = make([]bool, len(swaps))
	for i, sw := range swaps {
		ok, err := g.CompareAndSwap(ctx, sw.Key, sw.Old, sw.New, sw.TTL)
		if err != nil {
			return nil, err
		}
		res[i] = ok
	}
	return res, nil
}

var (
	errNoPatterns = fmt.Errorf("%w: the wrapped provider is not a provider.PatternDeleter", provider.ErrNotSupported)
	errNoCounter  = fmt.Errorf("%w: the wrapped provider is not a provider.Counter", provider.ErrNotSupported)
)

// DeletePattern is the wrapped provider's, or provider.ErrNotSupported.
func (g *guarded) DeletePattern(ctx context.Context, pattern string) (n int, err error) {
	if err := g.check(ctx); err != nil {
		return 0, err
	}
	pd, ok := g.p.(provider.PatternDeleter)
	if !ok {
		return 0, errNoPatterns
	}
	err = g.b.do(ctx, func() error {
		n, err = pd.DeletePattern(ctx, pattern)
		return err
	})
	return n, err
}

// Len is the wrapped provider's, or provider.ErrNotSupported.
func (g *guarded) Len(ctx context.Context) (n int64, err error) {
	if err := g.check(ctx); err != nil {
		return 0, err
	}
	ct, ok := g.p.(provider.Counter)
	if !ok {
		return 0, errNoCounter
	}
	err = g.b.do(ctx, func() error {
		n, err = ct.Len(ctx)
		return err
	})
	return n, err
}
