package memory_test

import (
	"testing"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
	"github.com/aside-go/aside/provider/providertest"
)

func TestCacheConformance(t *testing.T) {
	p, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	providertest.RunCache(t, func(t *testing.T) provider.Provider { return p }, providertest.CacheOptions{})
}

// Under memory pressure the store evicts entries and tag records, those of
// invalidations included: a read that finds no record must never take it
// for "never invalidated".
func TestCacheConformanceUnderMemoryPressure(t *testing.T) {
	p, err := memory.New(memory.Options{MaxBytes: 1500})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	providertest.RunCache(t, func(t *testing.T) provider.Provider { return p }, providertest.CacheOptions{})
}

func TestCacheBatchConformance(t *testing.T) {
	p, err := memory.New(memory.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	providertest.RunCacheBatch(t, func(t *testing.T) provider.Provider { return p }, providertest.CacheOptions{})
}
