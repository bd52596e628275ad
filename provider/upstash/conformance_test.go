package upstash_test

import (
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/providertest"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

// conformanceTimeout leaves room for the suite's 4 MiB values under -race,
// where the emulator parses their JSON slowly; the default bound is checked
// by the fault tests.
const conformanceTimeout = 20 * time.Second

func TestConformance(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	providertest.RunWithOptions(t, func(t *testing.T) provider.Provider {
		return f.provider(t, upstash.Options{Timeout: conformanceTimeout, ScanTimeout: conformanceTimeout})
	}, providertest.Options{SharedStore: true})
}

// Without auto-pipelining's batching (one command per request) and with it
// forced (requests wait for company), the contract holds the same.
func TestConformanceOneCommandPerRequest(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	providertest.RunWithOptions(t, func(t *testing.T) provider.Provider {
		return f.provider(t, upstash.Options{Timeout: conformanceTimeout, ScanTimeout: conformanceTimeout, MaxBatch: 1, MaxInFlight: 64})
	}, providertest.Options{SharedStore: true})
}

func TestConformanceOneRequestAtATime(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	providertest.RunWithOptions(t, func(t *testing.T) provider.Provider {
		return f.provider(t, upstash.Options{Timeout: conformanceTimeout, ScanTimeout: conformanceTimeout, MaxInFlight: 1})
	}, providertest.Options{SharedStore: true})
}

func TestConformanceWithAValueLimit(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	const limit = 64 << 10
	providertest.RunWithOptions(t, func(t *testing.T) provider.Provider {
		return f.provider(t, upstash.Options{Timeout: conformanceTimeout, MaxValueSize: limit})
	}, providertest.Options{MaxValueSize: limit, SharedStore: true})
}

// raceTimeout bounds calls in the invalidation races, whose writers fail
// the test on any error: under -race on a loaded machine a request through
// the emulator can take longer than the default bound.
const raceTimeout = 5 * time.Second

func TestInvalidationRace(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	providertest.RunCache(t, func(t *testing.T) provider.Provider {
		return f.provider(t, upstash.Options{Timeout: raceTimeout})
	}, providertest.CacheOptions{})
}

// Two emulators over one Redis stand for two regions of one database: the
// caches share the store but not the REST endpoint.
func TestInvalidationRaceAcrossEndpoints(t *testing.T) {
	a, b := newFixture(t, emulator.Options{}), newFixture(t, emulator.Options{})
	n := 0
	providertest.RunCache(t, func(t *testing.T) provider.Provider {
		n++
		if n%2 == 1 {
			return a.provider(t, upstash.Options{Timeout: raceTimeout})
		}
		return b.provider(t, upstash.Options{Timeout: raceTimeout})
	}, providertest.CacheOptions{Rounds: 200})
}

func TestBatchInvalidationRace(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	providertest.RunCacheBatch(t, func(t *testing.T) provider.Provider {
		return f.provider(t, upstash.Options{Timeout: raceTimeout})
	}, providertest.CacheOptions{})
}

// The streaming subscribe through the emulator, broken by killing the
// emulator's Redis subscriptions (CLIENT KILL TYPE pubsub on the test
// binary's redis-server, where only this package's subscriptions live).
func TestBroadcasterConformance(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		return f.provider(t, upstash.Options{})
	}, providertest.BroadcastOptions{Break: func(t testing.TB, _ provider.Provider, _ string) {
		if err := f.rdb.Do(t.Context(), "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
	}})
}
