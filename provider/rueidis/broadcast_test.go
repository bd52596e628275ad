package rueidis_test

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/providertest"
	"github.com/aside-go/aside/provider/rueidis"
)

// killPubSub is CLIENT KILL TYPE pubsub on each of addrs: Redis drops every
// subscriber connection, as on a network cut.
func killPubSub(t testing.TB, addrs ...string) {
	t.Helper()
	for _, addr := range addrs {
		c := goredis.NewClient(&goredis.Options{Addr: addr})
		err := c.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err()
		_ = c.Close()
		if err != nil {
			t.Fatalf("CLIENT KILL TYPE pubsub on %s: %v", addr, err)
		}
	}
}

func TestBroadcasterOnStandaloneRedis(t *testing.T) {
	addr := testServer(t).Addr()
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		return newLocal(t, rueidis.Options{})
	}, providertest.BroadcastOptions{Break: func(t testing.TB, _ provider.Provider, _ string) {
		killPubSub(t, addr)
	}})
}

func TestBroadcasterOnRedisCluster(t *testing.T) {
	addrs := testCluster(t).Addrs()
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		return newClustered(t, rueidis.Options{})
	}, providertest.BroadcastOptions{Break: func(t testing.TB, _ provider.Provider, _ string) {
		killPubSub(t, addrs...)
	}})
}

func TestBroadcasterOnCallersClient(t *testing.T) {
	addr := testServer(t).Addr()
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		return newOver(t, callersClient(t, addr, 0), rueidis.Options{CloseClient: true})
	}, providertest.BroadcastOptions{Break: func(t testing.TB, _ provider.Provider, _ string) {
		killPubSub(t, addr)
	}})
}
