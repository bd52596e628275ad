package rueidis_test

import (
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/providertest"
	"github.com/aside-go/aside/provider/rueidis"
)

// conformance is the provider options of the conformance and invalidation
// runs. They check semantics, not speed: a 4 MiB value can take longer than
// the default Timeout under -race on a loaded 2-core machine, and the
// invalidation check counts a timed-out invalidation as a violation.
var conformance = rueidis.Options{Timeout: 5 * time.Second}

func TestConformanceOnStandaloneRedis(t *testing.T) {
	testServer(t)
	providertest.Run(t, func(t *testing.T) provider.Provider {
		return newLocal(t, conformance)
	})
}

func TestConformanceOnRedisCluster(t *testing.T) {
	testCluster(t)
	providertest.Run(t, func(t *testing.T) provider.Provider {
		return newClustered(t, conformance)
	})
}

// A caller's own rueidis client, with rueidis's defaults (retries, client
// tracking, 10 s ConnWriteTimeout).
func TestConformanceOnCallersClient(t *testing.T) {
	addr := testServer(t).Addr()
	providertest.Run(t, func(t *testing.T) provider.Provider {
		return newOver(t, callersClient(t, addr, 11), rueidis.Options{Timeout: conformance.Timeout, CloseClient: true})
	})
}

func TestConformanceWithAValueLimit(t *testing.T) {
	testServer(t)
	const limit = 64 << 10
	providertest.RunWithOptions(t, func(t *testing.T) provider.Provider {
		return newLocal(t, rueidis.Options{Timeout: conformance.Timeout, MaxValueSize: limit})
	}, providertest.Options{MaxValueSize: limit})
}

func TestInvalidationRaceOnStandaloneRedis(t *testing.T) {
	testServer(t)
	providertest.RunCache(t, func(t *testing.T) provider.Provider {
		return newLocal(t, conformance)
	}, providertest.CacheOptions{})
}

func TestInvalidationRaceOnRedisCluster(t *testing.T) {
	testCluster(t)
	providertest.RunCache(t, func(t *testing.T) provider.Provider {
		return newClustered(t, conformance)
	}, providertest.CacheOptions{})
}
