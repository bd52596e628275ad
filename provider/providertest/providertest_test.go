package providertest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/providertest"
)

// ref is a small, correct provider over a map. Each bug makes it break one
// rule of the contract the way a sloppy adapter would; the suite must catch
// every one of them.
type ref struct {
	bug    string
	mu     sync.Mutex
	m      map[string]refEntry
	closed bool
}

type refEntry struct {
	v   []byte
	exp time.Time // zero: no expiry
}

var (
	_ provider.Provider = (*ref)(nil)
	_ provider.Batcher  = (*ref)(nil)
	_ provider.Counter  = (*ref)(nil)
)

func newRef(bug string) *ref { return &ref{bug: bug, m: map[string]refEntry{}} }

func (r *ref) check(ctx context.Context, keys ...string) error {
	if r.closed && r.bug != "works after Close" {
		return provider.ErrClosed
	}
	if r.bug != "ignores the context" {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	for _, k := range keys {
		if k == "" || (len(k) > provider.MaxKeyLen && r.bug != "accepts long keys") {
			return provider.ErrInvalidKey
		}
	}
	return nil
}

func (r *ref) checkTTL(ttl time.Duration) error {
	if ttl < 0 && r.bug != "treats a negative TTL as no expiry" {
		return provider.ErrInvalidTTL
	}
	return nil
}

func (r *ref) entry(v []byte, ttl time.Duration) refEntry {
	if r.bug != "retains the caller's slice" {
		v = append([]byte{}, v...)
	}
	if r.bug == "rounds a sub-millisecond TTL down" {
		ttl = ttl.Truncate(time.Millisecond)
	} else if rem := ttl % time.Millisecond; rem != 0 {
		ttl += time.Millisecond - rem
	}
	e := refEntry{v: v}
	if ttl > 0 {
		e.exp = time.Now().Add(ttl)
	}
	return e
}

// live returns key's entry if present and not expired; r.mu is held.
func (r *ref) live(key string) (refEntry, bool) {
	e, ok := r.m[key]
	if !ok {
		return e, false
	}
	slack := time.Duration(0)
	if r.bug == "serves expired keys for a while" {
		slack = 5 * time.Second
	}
	if !e.exp.IsZero() && !time.Now().Before(e.exp.Add(slack)) {
		delete(r.m, key)
		return e, false
	}
	return e, true
}

func (r *ref) Get(ctx context.Context, key string) ([]byte, error) {
	if err := r.check(ctx, key); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.live(key); ok {
		return e.v, nil
	}
	return nil, provider.ErrNotFound
}

func (r *ref) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if err := r.check(ctx, keys...); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if e, ok := r.live(k); ok {
			out[i] = e.v
			if len(e.v) == 0 && r.bug == "returns an empty value as nil" {
				out[i] = nil
			}
		}
	}
	return out, nil
}

func (r *ref) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := r.check(ctx, key); err != nil {
		return err
	}
	if err := r.checkTTL(ttl); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[key] = r.entry(value, ttl)
	return nil
}

func (r *ref) Add(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, bool, error) {
	if err := r.check(ctx, key); err != nil {
		return nil, false, err
	}
	if err := r.checkTTL(ttl); err != nil {
		return nil, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.live(key); ok {
		if r.bug == "gives a present key the TTL of a refused Add" {
			r.m[key] = refEntry{v: e.v, exp: r.entry(nil, ttl).exp}
		}
		return e.v, false, nil
	}
	r.m[key] = r.entry(value, ttl)
	return nil, true, nil
}

func (r *ref) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	if err := r.check(ctx, key); err != nil {
		return false, err
	}
	if err := r.checkTTL(ttl); err != nil {
		return false, err
	}
	match := func(cur []byte) bool {
		if r.bug == "matches a prefix in CompareAndSwap" {
			return bytes.HasPrefix(cur, old)
		}
		return bytes.Equal(cur, old)
	}
	r.mu.Lock()
	e, ok := r.live(key)
	if !ok || !match(e.v) {
		r.mu.Unlock()
		return false, nil
	}
	if r.bug == "compares and swaps in two steps" {
		r.mu.Unlock()
		time.Sleep(200 * time.Microsecond)
		r.mu.Lock()
	}
	defer r.mu.Unlock()
	r.m[key] = r.entry(new, ttl)
	return true, nil
}

func (r *ref) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := r.check(ctx, keys...); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, k := range keys {
		if _, ok := r.live(k); ok || r.bug == "counts missing keys as deleted" {
			n++
		}
		delete(r.m, k)
	}
	return n, nil
}

func (r *ref) SetMulti(ctx context.Context, items []provider.Item) error {
	for _, it := range items {
		if err := r.check(ctx, it.Key); err != nil {
			return err
		}
		if err := r.checkTTL(it.TTL); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, it := range items {
		r.m[it.Key] = r.entry(it.Value, it.TTL)
	}
	return nil
}

func (r *ref) Len(ctx context.Context) (int64, error) {
	if err := r.check(ctx); err != nil {
		return 0, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return int64(len(r.m)), nil
}

func (r *ref) Ping(ctx context.Context) error { return r.check(ctx) }

func (r *ref) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

func factory(bug string) func(t *testing.T) provider.Provider {
	return func(t *testing.T) provider.Provider {
		p := newRef(bug)
		t.Cleanup(func() { _ = p.Close() })
		return p
	}
}

func TestReferenceProviderPassesTheSuite(t *testing.T) {
	providertest.Run(t, factory(""))
}

const bugEnv = "PROVIDERTEST_BUG"

// TestSloppyProvider runs the suite against one broken provider when the
// test binary is re-executed by TestSuiteCatchesSloppyProviders.
func TestSloppyProvider(t *testing.T) {
	bug := os.Getenv(bugEnv)
	if bug == "" {
		t.Skip("run by TestSuiteCatchesSloppyProviders")
	}
	providertest.Run(t, factory(bug))
}

func TestSuiteCatchesSloppyProviders(t *testing.T) {
	if os.Getenv(bugEnv) != "" {
		t.Skip("already inside a re-executed test binary")
	}
	for _, tc := range []struct {
		bug, group, failing string
	}{
		{"retains the caller's slice", "Values", "the_provider_does_not_retain_the_caller's_slice"},
		{"returns an empty value as nil", "Values", "an_empty_value_is_stored_and_distinct_from_a_missing_key"},
		{"rounds a sub-millisecond TTL down", "TTL", "a_sub-millisecond_TTL_rounds_up"},
		{"serves expired keys for a while", "TTL", "a_key_with_a_TTL_is_present_until_the_TTL_and_gone_after_it"},
		{"treats a negative TTL as no expiry", "TTL", "a_negative_TTL_fails_with_ErrInvalidTTL_and_stores_nothing"},
		{"counts missing keys as deleted", "Basics", "Delete_counts_only_keys_that_existed"},
		{"gives a present key the TTL of a refused Add", "Add", "Add_on_a_present_key_does_not_give_it_the_new_TTL"},
		{"matches a prefix in CompareAndSwap", "CompareAndSwap", "CompareAndSwap_fails_on_a_mismatch_and_leaves_the_value"},
		{"compares and swaps in two steps", "CompareAndSwap", "CompareAndSwap_is_atomic_under_contention"},
		{"accepts long keys", "Keys", "a_key_longer_than_MaxKeyLen_fails_with_ErrInvalidKey"},
		{"ignores the context", "Context", "a_cancelled_context_fails_every_method_with_context.Canceled"},
		{"works after Close", "Close", "after_Close_every_method_returns_ErrClosed"},
	} {
		t.Run("the suite fails a provider that "+tc.bug, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestSloppyProvider$/^"+tc.group+"$/^"+regexp.QuoteMeta(tc.failing), "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), bugEnv+"="+tc.bug)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a provider that %s (err %v):\n%s", tc.bug, err, out)
			}
			want := "--- FAIL: TestSloppyProvider/" + tc.group + "/" + tc.failing
			if !strings.Contains(string(out), want) {
				t.Fatalf("want a line starting %q in:\n%s", want, out)
			}
		})
	}
}
