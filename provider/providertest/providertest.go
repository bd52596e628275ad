package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
)

// Options describes what an adapter's store allows, so that the suite checks
// the right limits. The zero value suits a private store without a value limit
// below the suite's largest value (4 MiB).
type Options struct {
	// MaxValueSize is the largest value, in bytes, the adapter accepts under
	// the suite's keys. When set, values up to it must be stored and a value
	// one byte larger must fail with provider.ErrTooLarge and store nothing;
	// the suite's large values above it are skipped. Zero means no limit below
	// 4 MiB.
	MaxValueSize int

	// SharedStore reports that other clients may add and remove keys in the
	// store while the suite runs (a shared Redis database). Counter.Len is then
	// only checked to count at least the suite's own keys, not exactly.
	SharedStore bool
}

// Run runs the conformance suite against the providers newProvider returns,
// with the zero Options.
func Run(t *testing.T, newProvider func(t *testing.T) provider.Provider) {
	t.Helper()
	RunWithOptions(t, newProvider, Options{})
}

// RunWithOptions runs the conformance suite against the providers newProvider
// returns, with the store limits described by opts.
func RunWithOptions(t *testing.T, newProvider func(t *testing.T) provider.Provider, opts Options) {
	t.Helper()
	s := &suite{newProvider: newProvider, opts: opts}
	for _, g := range []struct {
		name  string
		tests []test
	}{
		{"Basics", s.basicTests()},
		{"Values", s.valueTests()},
		{"Keys", s.keyTests()},
		{"TTL", s.ttlTests()},
		{"Add", s.addTests()},
		{"CompareAndSwap", s.casTests()},
		{"Context", s.contextTests()},
		{"Concurrency", s.concurrencyTests()},
		{"Close", s.closeTests()},
		{"Batcher", s.batcherTests()},
		{"MultiAdder", s.multiAdderTests()},
		{"MultiGetAdder", s.multiGetAdderTests()},
		{"MultiSwapper", s.multiSwapperTests()},
		{"PatternDeleter", s.patternTests()},
		{"Counter", s.counterTests()},
	} {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, s.env(t))
				})
			}
		})
	}
}

type suite struct {
	newProvider func(t *testing.T) provider.Provider
	opts        Options
}

type test struct {
	name string
	run  func(t *testing.T, e *env)
}

// env is what one subtest works with: its own provider and key prefix.
type env struct {
	p      provider.Provider
	prefix string
	ctx    context.Context
	opts   Options
}

func (s *suite) env(t *testing.T) *env {
	t.Helper()
	p := s.newProvider(t)
	if p == nil {
		t.Fatal("the factory returned a nil provider")
	}
	return &env{p: p, prefix: newPrefix(t), ctx: t.Context(), opts: s.opts}
}

// newPrefix returns a random key prefix free of glob metacharacters and of
// Redis Cluster hash-tag braces, so that pattern tests can use it verbatim.
func newPrefix(t *testing.T) string {
	t.Helper()
	var b [8]byte
	_, err := rand.Read(b[:])
	noError(t, err)
	return "providertest:" + hex.EncodeToString(b[:]) + ":"
}

// key returns name under the subtest's prefix.
func (e *env) key(name string) string { return e.prefix + name }

// mustSet stores value and fails the test on error.
func (e *env) mustSet(t *testing.T, key string, value []byte, ttl time.Duration) {
	t.Helper()
	noError(t, e.p.Set(e.ctx, key, value, ttl), "Set(%q)", key)
}

// requireValue checks that key holds exactly want.
func (e *env) requireValue(t *testing.T, key string, want []byte) {
	t.Helper()
	got, err := e.p.Get(e.ctx, key)
	noError(t, err, "Get(%q)", key)
	equal(t, len(want), len(got), "Get(%q) returned a value of the wrong length", key)
	equal(t, want, got, "Get(%q) returned the wrong bytes", key)
}

// requireMissing checks that Get reports key missing.
func (e *env) requireMissing(t *testing.T, key string) {
	t.Helper()
	got, err := e.p.Get(e.ctx, key)
	errorIs(t, err, provider.ErrNotFound, "Get(%q) should report a missing key, got value %q", key, got)
}

// present reports whether key exists, failing on any error but ErrNotFound.
func (e *env) present(t *testing.T, key string) bool {
	t.Helper()
	_, err := e.p.Get(e.ctx, key)
	if errors.Is(err, provider.ErrNotFound) {
		return false
	}
	noError(t, err, "Get(%q)", key)
	return true
}

// expiryGrace is how long past its TTL a key may linger before the suite
// calls it a failure. It is generous so that slow CI machines and network
// stores pass; what the suite is strict about is keys vanishing early.
const expiryGrace = 3 * time.Second

// requireExpires checks that key, written at or after setAt with the given
// TTL, stays present until setAt+ttl and is gone within expiryGrace after.
// It polls instead of sleeping an exact amount.
func (e *env) requireExpires(t *testing.T, key string, setAt time.Time, ttl time.Duration) {
	t.Helper()
	deadline := setAt.Add(ttl + expiryGrace)
	for {
		ok := e.present(t, key)
		now := time.Now()
		if !ok {
			// The key was written no earlier than setAt, so it may only be gone
			// once setAt+ttl has passed; now is later than the check itself.
			isFalse(t, now.Before(setAt.Add(ttl)),
				"key %q with TTL %v was gone after only %v", key, ttl, now.Sub(setAt))
			return
		}
		isTrue(t, now.Before(deadline),
			"key %q with TTL %v still present after %v", key, ttl, now.Sub(setAt))
		time.Sleep(5 * time.Millisecond)
	}
}

// bigValue returns n pseudo-random bytes (every byte value appears, and no
// run of zeros that a sloppy adapter could truncate at).
func bigValue(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}
