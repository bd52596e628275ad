package redis_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/providertest"
	"github.com/aside-go/aside/provider/redis"
)

// conformance is the provider options of the conformance and invalidation
// runs. They check semantics, not speed: a 4 MiB value, or a Cluster UNLINK
// pipeline, can take longer than the default Timeout under -race on a loaded
// 2-core machine, and the invalidation check counts a timed-out invalidation
// as a violation.
var conformance = redis.Options{Timeout: 5 * time.Second}

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

// A caller's client without ContextTimeoutEnabled takes the watched path.
func TestConformanceOnCallersClientWithoutContextTimeouts(t *testing.T) {
	addr := testServer(t).Addr()
	providertest.Run(t, func(t *testing.T) provider.Provider {
		c := goredis.NewClient(&goredis.Options{Addr: addr, DB: 10})
		p, err := redis.New(c, redis.Options{Timeout: conformance.Timeout, CloseClient: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	})
}

func TestConformanceOnRing(t *testing.T) {
	addrs := map[string]string{}
	for _, name := range []string{"one", "two"} {
		addrs[name] = ownServer(t).Addr()
	}
	providertest.Run(t, func(t *testing.T) provider.Provider {
		c := goredis.NewRing(&goredis.RingOptions{Addrs: addrs, ContextTimeoutEnabled: true})
		p, err := redis.New(c, redis.Options{Timeout: conformance.Timeout, CloseClient: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	})
}

func TestConformanceWithAValueLimit(t *testing.T) {
	testServer(t)
	const limit = 64 << 10
	providertest.RunWithOptions(t, func(t *testing.T) provider.Provider {
		return newLocal(t, redis.Options{Timeout: conformance.Timeout, MaxValueSize: limit})
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

func TestBatchInvalidationRaceOnStandaloneRedis(t *testing.T) {
	testServer(t)
	providertest.RunCacheBatch(t, func(t *testing.T) provider.Provider {
		return newLocal(t, conformance)
	}, providertest.CacheOptions{})
}

func TestBatchInvalidationRaceOnRedisCluster(t *testing.T) {
	testCluster(t)
	providertest.RunCacheBatch(t, func(t *testing.T) provider.Provider {
		return newClustered(t, conformance)
	}, providertest.CacheOptions{})
}

func TestConformanceOnSentinelFailoverClient(t *testing.T) {
	master := ownServer(t)
	sentinel, err := redistest.StartSentinel("aside", master.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sentinel.Close() })
	providertest.Run(t, func(t *testing.T) provider.Provider {
		c := goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: "aside", SentinelAddrs: []string{sentinel.Addr()},
			ContextTimeoutEnabled: true,
		})
		p, err := redis.New(c, redis.Options{Timeout: conformance.Timeout, CloseClient: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	})
}
