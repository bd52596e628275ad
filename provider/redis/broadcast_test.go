package redis_test

import (
	"errors"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/providertest"
	"github.com/aside-go/aside/provider/redis"
)

func TestBroadcasterOnStandaloneRedis(t *testing.T) {
	addr := testServer(t).Addr()
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		return newLocal(t, conformance)
	}, providertest.BroadcastOptions{Break: func(t testing.TB, _ provider.Provider, _ string) {
		redistest.KillPubSub(t, addr)
	}})
}

func TestBroadcasterOnRedisCluster(t *testing.T) {
	addrs := testCluster(t).Addrs()
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		return newClustered(t, conformance)
	}, providertest.BroadcastOptions{Break: func(t testing.TB, _ provider.Provider, _ string) {
		redistest.KillPubSub(t, addrs...)
	}})
}

// A caller's client without ContextTimeoutEnabled publishes on the watched
// path.
func TestBroadcasterOnCallersClientWithoutContextTimeouts(t *testing.T) {
	addr := testServer(t).Addr()
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		c := goredis.NewClient(&goredis.Options{Addr: addr})
		p, err := redis.New(c, redis.Options{Timeout: conformance.Timeout, CloseClient: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}, providertest.BroadcastOptions{Break: func(t testing.TB, _ provider.Provider, _ string) {
		redistest.KillPubSub(t, addr)
	}})
}

func TestBroadcasterIsNotSupportedOnRing(t *testing.T) {
	c := goredis.NewRing(&goredis.RingOptions{Addrs: map[string]string{"one": testServer(t).Addr()}})
	p, err := redis.New(c, redis.Options{CloseClient: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Publish(t.Context(), "c", nil); !errors.Is(err, provider.ErrNotSupported) {
		t.Fatalf("Publish on a Ring: %v", err)
	}
	if _, err := p.Subscribe(t.Context(), "c"); !errors.Is(err, provider.ErrNotSupported) {
		t.Fatalf("Subscribe on a Ring: %v", err)
	}
}
