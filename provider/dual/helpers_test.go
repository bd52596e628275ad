package dual_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
	"github.com/aside-go/aside/provider/redis"
)

// errDown is what a store that is down answers.
var errDown = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

// faulty wraps a store that the test can take down (every call fails at
// once with errDown) and bring back, with every optional ability passed on.
type faulty struct {
	p     provider.Provider
	down  atomic.Bool
	calls atomic.Int64
	// readOnly fails every write (a replica, a store out of memory) while
	// reads still work.
	readOnly atomic.Bool
}

func newFaulty(p provider.Provider) *faulty { return &faulty{p: p} }

var (
	_ provider.Batcher        = (*faulty)(nil)
	_ provider.MultiAdder     = (*faulty)(nil)
	_ provider.MultiGetAdder  = (*faulty)(nil)
	_ provider.MultiSwapper   = (*faulty)(nil)
	_ provider.PatternDeleter = (*faulty)(nil)
	_ provider.Counter        = (*faulty)(nil)
)

func (f *faulty) check(ctx context.Context) error {
	f.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.down.Load() {
		return errDown
	}
	return nil
}

// checkWrite is check for calls that write.
func (f *faulty) checkWrite(ctx context.Context) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	if f.readOnly.Load() {
		return errors.New("READONLY You can't write against a read only replica.")
	}
	return nil
}

func (f *faulty) Get(ctx context.Context, key string) ([]byte, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	return f.p.Get(ctx, key)
}

func (f *faulty) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	return f.p.GetMulti(ctx, keys)
}

func (f *faulty) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if err := f.checkWrite(ctx); err != nil {
		return err
	}
	return f.p.Set(ctx, key, v, ttl)
}

func (f *faulty) Add(ctx context.Context, key string, v []byte, ttl time.Duration) ([]byte, bool, error) {
	if err := f.checkWrite(ctx); err != nil {
		return nil, false, err
	}
	return f.p.Add(ctx, key, v, ttl)
}

func (f *faulty) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	if err := f.checkWrite(ctx); err != nil {
		return false, err
	}
	return f.p.CompareAndSwap(ctx, key, old, new, ttl)
}

func (f *faulty) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := f.checkWrite(ctx); err != nil {
		return 0, err
	}
	return f.p.Delete(ctx, keys...)
}

func (f *faulty) Ping(ctx context.Context) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.p.Ping(ctx)
}

func (f *faulty) Close() error { return f.p.Close() }

func (f *faulty) SetMulti(ctx context.Context, items []provider.Item) error {
	if err := f.checkWrite(ctx); err != nil {
		return err
	}
	return f.p.(provider.Batcher).SetMulti(ctx, items)
}

func (f *faulty) AddMulti(ctx context.Context, items []provider.Item) ([]provider.AddResult, error) {
	if err := f.checkWrite(ctx); err != nil {
		return nil, err
	}
	if a, ok := f.p.(provider.MultiAdder); ok {
		return a.AddMulti(ctx, items)
	}
	res := make([]provider.AddResult, len(items))
	for i, it := range items {
		existing, added, err := f.p.Add(ctx, it.Key, it.Value, it.TTL)
		if err != nil {
			return nil, err
		}
		res[i] = provider.AddResult{Added: added, Existing: existing}
	}
	return res, nil
}

// GetAddMulti is the store's (every store these tests wrap has it); a
// read-only store refuses it, as it may add.
func (f *faulty) GetAddMulti(ctx context.Context, fetches []provider.Fetch) ([]provider.AddResult, error) {
	if err := f.checkWrite(ctx); err != nil {
		return nil, err
	}
	return f.p.(provider.MultiGetAdder).GetAddMulti(ctx, fetches)
}

func (f *faulty) CompareAndSwapMulti(ctx context.Context, swaps []provider.Swap) ([]bool, error) {
	if err := f.checkWrite(ctx); err != nil {
		return nil, err
	}
	return f.p.(provider.MultiSwapper).CompareAndSwapMulti(ctx, swaps)
}

func (f *faulty) DeletePattern(ctx context.Context, pattern string) (int, error) {
	if err := f.checkWrite(ctx); err != nil {
		return 0, err
	}
	return f.p.(provider.PatternDeleter).DeletePattern(ctx, pattern)
}

func (f *faulty) Len(ctx context.Context) (int64, error) {
	if err := f.check(ctx); err != nil {
		return 0, err
	}
	return f.p.(provider.Counter).Len(ctx)
}

// newMemory returns a memory provider bounded at maxBytes (0: the
// default), closed when the test ends.
func newMemory(t testing.TB, maxBytes int64) *memory.Provider {
	t.Helper()
	m, err := memory.New(memory.Options{MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// newRedis returns a provider on the test binary's shared redis-server,
// closed when the test ends. Tests write only under keys of their own.
func newRedis(t testing.TB) *redis.Provider {
	t.Helper()
	return redisOn(t, redistest.Shared(t))
}

// redisOn returns a provider on srv, closed when the test ends. Its
// timeout is generous: these tests are about semantics, and a 4 MiB value
// under the race detector on a loaded machine can take longer than the
// 250 ms default (the soak tests use the default).
func redisOn(t testing.TB, srv *redistest.Server) *redis.Provider {
	t.Helper()
	p, err := redis.NewFromURL(srv.URL(0), redis.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// ownServer starts a redis-server of the test's own, which it may pause,
// stop and restart.
func ownServer(t testing.TB) *redistest.Server {
	t.Helper()
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// eventually polls cond every 5 ms until it holds or d has passed.
func eventually(t testing.TB, d time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, msg)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// forgetful is an in-process store that evicts values behind the
// composite's back: each read of a cache entry or lease (bytes starting
// with the Cache's envelope magic, 0xAE) drops it first one time in four,
// so that reads miss and go through to the secondary. It never drops a tag
// record: see TestMemoryEvictionLosesInvalidations for why.
type forgetful struct {
	*memory.Provider
	mu  sync.Mutex
	rng *rand.Rand
}

func newForgetful(t testing.TB) *forgetful {
	return &forgetful{Provider: newMemory(t, 0), rng: rand.New(rand.NewPCG(3, 4))}
}

func (f *forgetful) forget(ctx context.Context, key string, v []byte) bool {
	if len(v) == 0 || v[0] != 0xAE {
		return false
	}
	f.mu.Lock()
	drop := f.rng.IntN(4) == 0
	f.mu.Unlock()
	if drop {
		_, _ = f.Provider.Delete(ctx, key)
	}
	return drop
}

func (f *forgetful) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := f.Provider.Get(ctx, key)
	if err == nil && f.forget(ctx, key, v) {
		return nil, fmt.Errorf("evicted: %w", provider.ErrNotFound)
	}
	return v, err
}

func (f *forgetful) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	vals, err := f.Provider.GetMulti(ctx, keys)
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		if f.forget(ctx, keys[i], v) {
			vals[i] = nil
		}
	}
	return vals, nil
}
