package dual_test

import (
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
	"github.com/aside-go/aside/provider/dual"
	"github.com/aside-go/aside/provider/providertest"
)

// fallback returns a Fallback over primary with a short cool-down, closed
// when the test ends.
func fallback(t testing.TB, primary provider.Provider, o dual.FallbackOptions) *dual.Fallback {
	t.Helper()
	if o.Breaker.CoolDown == 0 {
		o.Breaker.CoolDown = 20 * time.Millisecond
	}
	f, err := dual.NewFallback(primary, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// migrator returns a Migrator, closed when the test ends.
func migrator(t testing.TB, primary, secondary provider.Provider, o dual.MigrateOptions) *dual.Migrator {
	t.Helper()
	if o.Breaker.CoolDown == 0 {
		o.Breaker.CoolDown = 20 * time.Millisecond
	}
	m, err := dual.NewMigrator(primary, secondary, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestConformanceFallback(t *testing.T) {
	t.Run("over a memory primary that is up", func(t *testing.T) {
		providertest.Run(t, func(t *testing.T) provider.Provider {
			return fallback(t, newMemory(t, 0), dual.FallbackOptions{})
		})
	})
	t.Run("while the primary is down, from the secondary", func(t *testing.T) {
		providertest.Run(t, func(t *testing.T) provider.Provider {
			p := newFaulty(newMemory(t, 0))
			p.down.Store(true)
			return fallback(t, p, dual.FallbackOptions{})
		})
	})
	t.Run("over a Redis primary that is up", func(t *testing.T) {
		providertest.RunWithOptions(t, func(t *testing.T) provider.Provider {
			return fallback(t, newRedis(t), dual.FallbackOptions{})
		}, providertest.Options{SharedStore: true})
	})
}

func TestConformanceMigrate(t *testing.T) {
	t.Run("memory to memory", func(t *testing.T) {
		providertest.Run(t, func(t *testing.T) provider.Provider {
			return migrator(t, newMemory(t, 0), newMemory(t, 0), dual.MigrateOptions{})
		})
	})
	t.Run("memory to memory, reading through and backfilling", func(t *testing.T) {
		providertest.Run(t, func(t *testing.T) provider.Provider {
			return migrator(t, newMemory(t, 0), newMemory(t, 0), dual.MigrateOptions{ReadThrough: true, ShadowReads: 0.5})
		})
	})
	t.Run("memory primary, Redis secondary, reading through and backfilling", func(t *testing.T) {
		providertest.RunWithOptions(t, func(t *testing.T) provider.Provider {
			return migrator(t, newMemory(t, 0), newRedis(t), dual.MigrateOptions{ReadThrough: true})
		}, providertest.Options{SharedStore: true})
	})
	t.Run("Redis primary, memory secondary (after the cut-over)", func(t *testing.T) {
		providertest.RunWithOptions(t, func(t *testing.T) provider.Provider {
			return migrator(t, newRedis(t), newMemory(t, 0), dual.MigrateOptions{ShadowReads: 1})
		}, providertest.Options{SharedStore: true})
	})
	t.Run("while the secondary is down", func(t *testing.T) {
		providertest.Run(t, func(t *testing.T) provider.Provider {
			s := newFaulty(newMemory(t, 0))
			s.down.Store(true)
			return migrator(t, newMemory(t, 0), s, dual.MigrateOptions{ReadThrough: true, Breaker: circuit.Options{Failures: 1}})
		})
	})
}

// fastBreaker opens on the first failure and probes every 10 ms, so that a
// test sees many outages.
var fastBreaker = circuit.Options{Failures: 1, CoolDown: 10 * time.Millisecond}
