package aside_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

// upstashFleet is an Upstash emulator over a test-owned redis-server and a
// way to open Caches on it, each with its own provider (a process of a
// fleet).
type upstashFleet struct {
	emu *emulator.Emulator
	url string
}

func newUpstashFleet(t *testing.T) *upstashFleet {
	t.Helper()
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Protocol: 2, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	emu, err := emulator.New(rdb, emulator.Options{Token: "near-test-token"})
	require.NoError(t, err)
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	return &upstashFleet{emu: emu, url: hs.URL}
}

func (f *upstashFleet) cache(t *testing.T, near aside.Near) (*aside.Cache, error) {
	t.Helper()
	p, err := upstash.New(f.url, "near-test-token", upstash.Options{Timeout: 5 * time.Second})
	require.NoError(t, err)
	c, err := aside.New(aside.Options{Provider: p, Namespace: "near", Near: near})
	if err != nil {
		_ = p.Close()
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, nil
}

// Upstash bills every heartbeat: Near over it asks for a choice instead of
// starting a lease protocol that costs ~13M commands a month per process.
func TestNearOverUpstashAsksForTheCostToBeChosen(t *testing.T) {
	f := newUpstashFleet(t)
	_, err := f.cache(t, aside.Near{MaxBytes: 1 << 20})
	require.ErrorIs(t, err, aside.ErrInvalidOption)
	for _, want := range []string{"billed PUBLISH", "13M commands a month", "Near.TTLOnly", "Near.Lease"} {
		require.True(t, strings.Contains(err.Error(), want), "the error says %q: %v", want, err)
	}

	// TTL mode sends nothing between calls.
	f.emu.ResetStats()
	_, err = f.cache(t, aside.Near{MaxBytes: 1 << 20, TTL: 2 * time.Second, TTLOnly: true})
	require.NoError(t, err)
	time.Sleep(500 * time.Millisecond)
	require.Zero(t, f.emu.Stats().CommandsByName["publish"], "no heartbeats in TTL mode")
}

// With a Lease chosen, the near tier runs over Upstash's streaming pub/sub:
// a write through one process ends what another serves from its tier
// before the write returns, and the heartbeats cost what the docs say.
func TestNearOverUpstashPubSub(t *testing.T) {
	f := newUpstashFleet(t)
	const lease = 300 * time.Millisecond
	near := aside.Near{MaxBytes: 1 << 20, Lease: lease}
	w, err := f.cache(t, near)
	require.NoError(t, err)
	r, err := f.cache(t, near)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return w.Stats().Near.Serving && r.Stats().Near.Serving }, 10*time.Second, 5*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Heartbeats: 5 per lease per process, each a billed PUBLISH.
	f.emu.ResetStats()
	time.Sleep(time.Second)
	perProcess := float64(f.emu.Stats().CommandsByName["publish"]) / 2
	want := float64(time.Second) / float64(lease) * 5
	t.Logf("billed PUBLISH per process per second with a %v lease: %.1f (5 per lease: %.1f)", lease, perProcess, want)
	require.InDelta(t, want, perProcess, want/2)

	get := func() (string, bool) {
		v, found, err := aside.Get[string](ctx, r, "k", aside.Tags("group"))
		require.NoError(t, err)
		return v, found
	}
	require.NoError(t, aside.Set(ctx, w, "k", "v1", aside.TTL(time.Minute), aside.Tags("group")))
	for range 2 { // the first read fills the tier, the second is served by it
		v, found := get()
		require.True(t, found)
		require.Equal(t, "v1", v)
	}
	require.Positive(t, r.Stats().Near.Hits, "the reader served from its near tier")

	f.emu.ResetStats()
	require.NoError(t, aside.Set(ctx, w, "k", "v2", aside.TTL(time.Minute), aside.Tags("group")))
	v, found := get()
	require.True(t, found)
	require.Equal(t, "v2", v, "a Set that returned is never followed by the old value")

	get() // fill again
	require.NoError(t, w.InvalidateTags(ctx, "group"))
	_, found = get()
	require.False(t, found, "an InvalidateTags that returned ends the entry everywhere")

	require.NoError(t, aside.Set(ctx, w, "k", "v3", aside.TTL(time.Minute), aside.Tags("group")))
	get() // fill again
	require.NoError(t, w.Delete(ctx, "k"))
	_, found = get()
	require.False(t, found, "a Delete that returned ends the entry everywhere")
}
