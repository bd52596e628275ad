package aside_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
)

type User struct {
	ID    int64
	Name  string
	Email string
	Roles []string
	Bio   string
}

var ada = User{
	ID: 42, Name: "Ada Lovelace", Email: "ada@example.com", Roles: []string{"admin", "editor"},
	Bio: "Mathematician and writer, chiefly known for her work on Babbage's Analytical Engine.",
}

func newCache(t testing.TB, o aside.Options) *aside.Cache {
	t.Helper()
	c, err := aside.New(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// faulty wraps a provider and fails, stalls or corrupts on demand: the
// provider that is down, slow or returning garbage.
type faulty struct {
	provider.Provider
	fail    atomic.Bool
	garbage atomic.Bool
	stall   atomic.Int64 // nanoseconds each call waits (bounded by ctx)
	calls   atomic.Int64
	// failIf, when set, fails the calls it picks by operation name ("Get",
	// "Add", ...) and first key; wrongType makes Get report
	// provider.ErrWrongType.
	failIf    atomic.Pointer[func(op, key string) bool]
	wrongType atomic.Bool
	ops       sync.Map // op name -> *atomic.Int64
}

var errDown = errors.New("provider down")

func newFaulty(t testing.TB) *faulty {
	m, err := memory.New(memory.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() }) // also when no Cache took it
	return &faulty{Provider: m}
}

// count returns how many times op was called.
func (f *faulty) count(op string) int64 {
	n, ok := f.ops.Load(op)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

// failWhen makes the calls pick chooses fail (nil: none).
func (f *faulty) failWhen(pick func(op, key string) bool) {
	if pick == nil {
		f.failIf.Store(nil)
		return
	}
	f.failIf.Store(&pick)
}

func (f *faulty) gate(ctx context.Context, op, key string) error {
	f.calls.Add(1)
	n, _ := f.ops.LoadOrStore(op, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	if pick := f.failIf.Load(); pick != nil && (*pick)(op, key) {
		return errDown
	}
	if d := time.Duration(f.stall.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.fail.Load() {
		return errDown
	}
	return nil
}

func (f *faulty) Get(ctx context.Context, key string) ([]byte, error) {
	if err := f.gate(ctx, "Get", key); err != nil {
		return nil, err
	}
	if f.wrongType.Load() {
		return nil, provider.ErrWrongType
	}
	if f.garbage.Load() {
		if _, err := f.Provider.Get(ctx, key); err != nil {
			return nil, err
		}
		return []byte{0xAE, 1, 1, 0xff, 0xff, 0xff}, nil
	}
	return f.Provider.Get(ctx, key)
}

func (f *faulty) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if err := f.gate(ctx, "GetMulti", keys[0]); err != nil {
		return nil, err
	}
	return f.Provider.GetMulti(ctx, keys)
}

func (f *faulty) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if err := f.gate(ctx, "Set", key); err != nil {
		return err
	}
	return f.Provider.Set(ctx, key, v, ttl)
}

func (f *faulty) Add(ctx context.Context, key string, v []byte, ttl time.Duration) ([]byte, bool, error) {
	if err := f.gate(ctx, "Add", key); err != nil {
		return nil, false, err
	}
	return f.Provider.Add(ctx, key, v, ttl)
}

func (f *faulty) CompareAndSwap(ctx context.Context, key string, old, v []byte, ttl time.Duration) (bool, error) {
	if err := f.gate(ctx, "CompareAndSwap", key); err != nil {
		return false, err
	}
	return f.Provider.CompareAndSwap(ctx, key, old, v, ttl)
}

func (f *faulty) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := f.gate(ctx, "Delete", firstKey(keys)); err != nil {
		return 0, err
	}
	return f.Provider.Delete(ctx, keys...)
}

func firstKey(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[0]
}
