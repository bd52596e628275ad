package rueidis_test

import (
	"testing"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/providertest"
	"github.com/aside-go/aside/provider/rueidis"
)

func TestBroadcasterOnStandaloneRedis(t *testing.T) {
	addr := testServer(t).Addr()
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		return newLocal(t, rueidis.Options{})
	}, providertest.BroadcastOptions{Break: func(t testing.TB, _ provider.Provider, _ string) {
		redistest.KillPubSub(t, addr)
	}})
}

func TestBroadcasterOnRedisCluster(t *testing.T) {
	addrs := testCluster(t).Addrs()
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		return newClustered(t, rueidis.Options{})
	}, providertest.BroadcastOptions{Break: func(t testing.TB, _ provider.Provider, _ string) {
		redistest.KillPubSub(t, addrs...)
	}})
}

func TestBroadcasterOnCallersClient(t *testing.T) {
	addr := testServer(t).Addr()
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		return newOver(t, callersClient(t, addr, 0), rueidis.Options{CloseClient: true})
	}, providertest.BroadcastOptions{Break: func(t testing.TB, _ provider.Provider, _ string) {
		redistest.KillPubSub(t, addr)
	}})
}
