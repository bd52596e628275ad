package circuit_test

import (
	"testing"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
	"github.com/aside-go/aside/provider/memory"
	"github.com/aside-go/aside/provider/providertest"
)

// guardedMemory returns a memory provider behind a breaker with the default
// options, closed by the test's cleanup.
func guardedMemory(t *testing.T) provider.Provider {
	t.Helper()
	m, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := circuit.Wrap(m, circuit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func TestConformance(t *testing.T) {
	providertest.Run(t, guardedMemory)
}

// TestConformanceWithoutOptionalAbilities runs the suite over a guarded
// provider whose store has none of the optional abilities, so that the
// wrapper must not claim them.
func TestConformanceWithoutOptionalAbilities(t *testing.T) {
	providertest.Run(t, func(t *testing.T) provider.Provider {
		m, err := memory.New(memory.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p, _, err := circuit.Wrap(struct{ provider.Provider }{m}, circuit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	})
}

func TestCacheConformance(t *testing.T) {
	p := guardedMemory(t)
	providertest.RunCache(t, func(t *testing.T) provider.Provider { return p }, providertest.CacheOptions{})
}

func TestCacheBatchConformance(t *testing.T) {
	p := guardedMemory(t)
	providertest.RunCacheBatch(t, func(t *testing.T) provider.Provider { return p }, providertest.CacheOptions{})
}

// A batch over a store without the batch abilities (it keeps only
// DeletePattern, which the test's invalidations use): the breaker emulates
// them, and the guarantee holds all the same.
func TestCacheBatchConformanceWithoutBatchAbilities(t *testing.T) {
	m, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := circuit.Wrap(struct {
		provider.Provider
		provider.PatternDeleter
	}{m, m}, circuit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	providertest.RunCacheBatch(t, func(t *testing.T) provider.Provider { return p }, providertest.CacheOptions{})
}

func TestBroadcaster(t *testing.T) {
	providertest.RunBroadcaster(t, guardedMemory, providertest.BroadcastOptions{
		Break: func(t testing.TB, p provider.Provider, channel string) {
			for range memory.SubscriptionBuffer + 1 {
				if _, err := p.(provider.Broadcaster).Publish(t.Context(), channel, []byte("flood")); err != nil {
					t.Fatal(err)
				}
			}
		},
	})
}

// Over a provider that cannot broadcast, the guarded one says
// provider.ErrNotSupported, and the suite skips.
func TestBroadcasterWithoutTheAbility(t *testing.T) {
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		m, err := memory.New(memory.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p, _, err := circuit.Wrap(struct{ provider.Provider }{m}, circuit.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}, providertest.BroadcastOptions{})
}
