package redis_test

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/providertest"
	"github.com/aside-go/aside/provider/redis"
)

func TestConformanceOnStandaloneRedis(t *testing.T) {
	ownDB(t, testDB)
	providertest.Run(t, func(t *testing.T) provider.Provider {
		return newLocal(t, redis.Options{})
	})
}

func TestConformanceOnRedisCluster(t *testing.T) {
	testCluster(t)
	providertest.Run(t, func(t *testing.T) provider.Provider {
		return newClustered(t, redis.Options{})
	})
}

// A caller's client without ContextTimeoutEnabled takes the watched path.
func TestConformanceOnCallersClientWithoutContextTimeouts(t *testing.T) {
	ownDB(t, watchedDB)
	providertest.Run(t, func(t *testing.T) provider.Provider {
		c := goredis.NewClient(&goredis.Options{Addr: redistest.LocalAddr, DB: watchedDB})
		p, err := redis.New(c, redis.Options{CloseClient: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	})
}

func TestConformanceOnRing(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	addrs := map[string]string{}
	for _, name := range []string{"one", "two"} {
		s, err := redistest.StartServer()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		addrs[name] = s.Addr()
	}
	providertest.Run(t, func(t *testing.T) provider.Provider {
		c := goredis.NewRing(&goredis.RingOptions{Addrs: addrs, ContextTimeoutEnabled: true})
		p, err := redis.New(c, redis.Options{CloseClient: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	})
}

func TestConformanceWithAValueLimit(t *testing.T) {
	ownDB(t, testDB)
	const limit = 64 << 10
	providertest.RunWithOptions(t, func(t *testing.T) provider.Provider {
		return newLocal(t, redis.Options{MaxValueSize: limit})
	}, providertest.Options{MaxValueSize: limit})
}

func TestInvalidationRaceOnStandaloneRedis(t *testing.T) {
	ownDB(t, testDB)
	providertest.RunCache(t, func(t *testing.T) provider.Provider {
		return newLocal(t, redis.Options{})
	}, providertest.CacheOptions{})
}

func TestInvalidationRaceOnRedisCluster(t *testing.T) {
	testCluster(t)
	providertest.RunCache(t, func(t *testing.T) provider.Provider {
		return newClustered(t, redis.Options{})
	}, providertest.CacheOptions{})
}

func TestConformanceOnSentinelFailoverClient(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	master, err := redistest.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = master.Close() })
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
		p, err := redis.New(c, redis.Options{CloseClient: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	})
}
