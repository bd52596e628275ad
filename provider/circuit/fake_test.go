package circuit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
)

// stored is what the fake's Get returns (shared, so a call allocates nothing).
var stored = []byte("v")

// errDown stands for a network error: the store did not answer.
var errDown = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

// fake is a provider whose every call, optional ones included, answers with
// what respond returns (nil: success). It counts the calls that reach it.
type fake struct {
	respond atomic.Pointer[func(ctx context.Context) error]
	calls   atomic.Int64
	closed  atomic.Bool
}

var (
	_ provider.Provider       = (*fake)(nil)
	_ provider.Batcher        = (*fake)(nil)
	_ provider.MultiAdder     = (*fake)(nil)
	_ provider.MultiGetAdder  = (*fake)(nil)
	_ provider.MultiSwapper   = (*fake)(nil)
	_ provider.PatternDeleter = (*fake)(nil)
	_ provider.Counter        = (*fake)(nil)
	_ provider.Broadcaster    = (*fake)(nil)
)

func (f *fake) Publish(ctx context.Context, channel string, msg []byte) (int64, error) {
	if err := f.call(ctx); err != nil {
		return 0, err
	}
	return 1, nil
}

// fakeSub is a subscription that never delivers.
type fakeSub struct {
	once sync.Once
	ch   chan []byte
}

func (s *fakeSub) Messages() <-chan []byte { return s.ch }
func (s *fakeSub) Close() error            { s.once.Do(func() { close(s.ch) }); return nil }

func (f *fake) Subscribe(ctx context.Context, channel string) (provider.Subscription, error) {
	if err := f.call(ctx); err != nil {
		return nil, err
	}
	return &fakeSub{ch: make(chan []byte)}, nil
}

// answer makes every later call return err.
func (f *fake) answer(err error) {
	f.do(func(context.Context) error { return err })
}

// do makes every later call run fn and return its error.
func (f *fake) do(fn func(ctx context.Context) error) { f.respond.Store(&fn) }

func (f *fake) call(ctx context.Context) error {
	f.calls.Add(1)
	if fn := f.respond.Load(); fn != nil {
		return (*fn)(ctx)
	}
	return nil
}

func (f *fake) Get(ctx context.Context, key string) ([]byte, error) {
	if err := f.call(ctx); err != nil {
		return nil, err
	}
	return stored, nil
}

func (f *fake) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if err := f.call(ctx); err != nil {
		return nil, err
	}
	return make([][]byte, len(keys)), nil
}

func (f *fake) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return f.call(ctx)
}

func (f *fake) Add(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, bool, error) {
	err := f.call(ctx)
	return nil, err == nil, err
}

func (f *fake) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	err := f.call(ctx)
	return err == nil, err
}

func (f *fake) Delete(ctx context.Context, keys ...string) (int, error) {
	err := f.call(ctx)
	return 0, err
}

func (f *fake) Ping(ctx context.Context) error { return f.call(ctx) }

func (f *fake) Close() error {
	f.closed.Store(true)
	return nil
}

func (f *fake) SetMulti(ctx context.Context, items []provider.Item) error { return f.call(ctx) }

func (f *fake) AddMulti(ctx context.Context, items []provider.Item) ([]provider.AddResult, error) {
	if err := f.call(ctx); err != nil {
		return nil, err
	}
	return make([]provider.AddResult, len(items)), nil
}

func (f *fake) GetAddMulti(ctx context.Context, fetches []provider.Fetch) ([]provider.AddResult, error) {
	if err := f.call(ctx); err != nil {
		return nil, err
	}
	return make([]provider.AddResult, len(fetches)), nil
}

func (f *fake) CompareAndSwapMulti(ctx context.Context, swaps []provider.Swap) ([]bool, error) {
	if err := f.call(ctx); err != nil {
		return nil, err
	}
	return make([]bool, len(swaps)), nil
}

func (f *fake) DeletePattern(ctx context.Context, pattern string) (int, error) {
	return 0, f.call(ctx)
}

func (f *fake) Len(ctx context.Context) (int64, error) { return 0, f.call(ctx) }

// calls returns every method of p but Close, optional ones included when p
// has them, each called with ctx.
func calls(p provider.Provider, ctx context.Context) map[string]func() error {
	m := map[string]func() error{
		"Get":      func() error { _, err := p.Get(ctx, "k"); return err },
		"GetMulti": func() error { _, err := p.GetMulti(ctx, []string{"k"}); return err },
		"Set":      func() error { return p.Set(ctx, "k", []byte("v"), 0) },
		"Add":      func() error { _, _, err := p.Add(ctx, "k", []byte("v"), 0); return err },
		"CompareAndSwap": func() error {
			_, err := p.CompareAndSwap(ctx, "k", []byte("v"), []byte("w"), 0)
			return err
		},
		"Delete": func() error { _, err := p.Delete(ctx, "k"); return err },
		"Ping":   func() error { return p.Ping(ctx) },
	}
	if b, ok := p.(provider.Batcher); ok {
		m["SetMulti"] = func() error { return b.SetMulti(ctx, []provider.Item{{Key: "k"}}) }
	}
	if a, ok := p.(provider.MultiAdder); ok {
		m["AddMulti"] = func() error { _, err := a.AddMulti(ctx, []provider.Item{{Key: "k"}}); return err }
	}
	if g, ok := p.(provider.MultiGetAdder); ok {
		m["GetAddMulti"] = func() error {
			_, err := g.GetAddMulti(ctx, []provider.Fetch{{Key: "k", Add: []byte("v")}, {Key: "j"}})
			return err
		}
	}
	if s, ok := p.(provider.MultiSwapper); ok {
		m["CompareAndSwapMulti"] = func() error {
			_, err := s.CompareAndSwapMulti(ctx, []provider.Swap{{Key: "k", Old: []byte("v"), New: []byte("w")}})
			return err
		}
	}
	if d, ok := p.(provider.PatternDeleter); ok {
		m["DeletePattern"] = func() error { _, err := d.DeletePattern(ctx, "k*"); return err }
	}
	if c, ok := p.(provider.Counter); ok {
		m["Len"] = func() error { _, err := c.Len(ctx); return err }
	}
	if b, ok := p.(provider.Broadcaster); ok {
		m["Publish"] = func() error { _, err := b.Publish(ctx, "c", []byte("m")); return err }
		m["Subscribe"] = func() error {
			s, err := b.Subscribe(ctx, "c")
			if err == nil {
				_ = s.Close()
			}
			return err
		}
	}
	return m
}

// transitions records what OnStateChange reports.
type transitions struct {
	mu   sync.Mutex
	seen []string
}

func (r *transitions) record(from, to circuit.State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, from.String()+" -> "+to.String())
}

func (r *transitions) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// wrap puts inner behind a breaker whose transitions are recorded.
func wrap(t *testing.T, inner provider.Provider, o circuit.Options) (provider.Provider, *circuit.Breaker, *transitions) {
	t.Helper()
	rec := &transitions{}
	o.OnStateChange = rec.record
	p, b, err := circuit.Wrap(inner, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, b, rec
}
