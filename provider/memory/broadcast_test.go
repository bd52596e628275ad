package memory_test

import (
	"testing"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
	"github.com/aside-go/aside/provider/providertest"
)

func TestBroadcaster(t *testing.T) {
	providertest.RunBroadcaster(t, func(t *testing.T) provider.Provider {
		p, err := memory.New(memory.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		return p
	}, providertest.BroadcastOptions{Break: func(t testing.TB, p provider.Provider, channel string) {
		// A receiver that does not read breaks once its buffer is full.
		b := p.(provider.Broadcaster)
		for range memory.SubscriptionBuffer + 1 {
			if _, err := b.Publish(t.Context(), channel, []byte("flood")); err != nil {
				t.Fatal(err)
			}
		}
	}})
}
