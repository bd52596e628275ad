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
// The guarded provider implements exactly the optional abilities p
// implements (provider.Batcher, provider.PatternDeleter, provider.Counter), so
// that a type assertion on it answers as it would on p; each of those calls
// goes through the breaker too. Abilities beyond these three are not passed
// on; reach p through the guarded provider's Unwrap method.
func Wrap(p provider.Provider, o Options) (provider.Provider, *Breaker, error) {
	if p == nil {
		return nil, nil, fmt.Errorf("%w: the provider to wrap is nil", ErrInvalidOptions)
	}
	b, err := newBreaker(o)
	if err != nil {
		return nil, nil, err
	}
	c := &guarded{b: b, p: p}
	bt, isB := p.(provider.Batcher)
	pd, isP := p.(provider.PatternDeleter)
	ct, isC := p.(provider.Counter)
	sb, sp, sc := setMulti{c, bt}, deletePattern{c, pd}, length{c, ct}
	switch {
	case isB && isP && isC:
		return &withBPC{c, sb, sp, sc}, b, nil
	case isB && isP:
		return &withBP{c, sb, sp}, b, nil
	case isB && isC:
		return &withBC{c, sb, sc}, b, nil
	case isP && isC:
		return &withPC{c, sp, sc}, b, nil
	case isB:
		return &withB{c, sb}, b, nil
	case isP:
		return &withP{c, sp}, b, nil
	case isC:
		return &withC{c, sc}, b, nil
	default:
		return c, b, nil
	}
}

// The guarded provider's type for each combination of optional abilities of
// the provider it wraps: a single type that always had SetMulti, DeletePattern
// and Len would claim abilities p lacks, and the Cache, which finds them by
// type assertion, would call them instead of using its own fallback.
type (
	withB struct {
		*guarded
		setMulti
	}
	withP struct {
		*guarded
		deletePattern
	}
	withC struct {
		*guarded
		length
	}
	withBP struct {
		*guarded
		setMulti
		deletePattern
	}
	withBC struct {
		*guarded
		setMulti
		length
	}
	withPC struct {
		*guarded
		deletePattern
		length
	}
	withBPC struct {
		*guarded
		setMulti
		deletePattern
		length
	}
)

var (
	_ provider.Provider       = (*guarded)(nil)
	_ provider.Batcher        = (*withB)(nil)
	_ provider.PatternDeleter = (*withP)(nil)
	_ provider.Counter        = (*withC)(nil)
	_ provider.Batcher        = (*withBP)(nil)
	_ provider.PatternDeleter = (*withBP)(nil)
	_ provider.Batcher        = (*withBC)(nil)
	_ provider.Counter        = (*withBC)(nil)
	_ provider.PatternDeleter = (*withPC)(nil)
	_ provider.Counter        = (*withPC)(nil)
	_ provider.Batcher        = (*withBPC)(nil)
	_ provider.PatternDeleter = (*withBPC)(nil)
	_ provider.Counter        = (*withBPC)(nil)
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

// setMulti, deletePattern and length carry one optional ability each through
// the breaker; the with* types combine them.
type (
	setMulti struct {
		g *guarded
		p provider.Batcher
	}
	deletePattern struct {
		g *guarded
		p provider.PatternDeleter
	}
	length struct {
		g *guarded
		p provider.Counter
	}
)

func (s setMulti) SetMulti(ctx context.Context, items []provider.Item) error {
	if err := s.g.check(ctx); err != nil {
		return err
	}
	return s.g.b.do(ctx, func() error { return s.p.SetMulti(ctx, items) })
}

func (d deletePattern) DeletePattern(ctx context.Context, pattern string) (n int, err error) {
	if err := d.g.check(ctx); err != nil {
		return 0, err
	}
	err = d.g.b.do(ctx, func() error {
		n, err = d.p.DeletePattern(ctx, pattern)
		return err
	})
	return n, err
}

func (l length) Len(ctx context.Context) (n int64, err error) {
	if err := l.g.check(ctx); err != nil {
		return 0, err
	}
	err = l.g.b.do(ctx, func() error {
		n, err = l.p.Len(ctx)
		return err
	})
	return n, err
}
