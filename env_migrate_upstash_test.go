package aside_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/keys"
	"github.com/aside-go/aside/provider/dual"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

// The guide's migration, from the in-memory provider to Upstash, with the
// environment alone: before the cut-over memory serves and Upstash is
// written; after it Upstash serves and memory is written.
func TestMigrationFromMemoryToUpstashFromEnv(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	require.NoError(t, err)
	defer srv.Close()
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Protocol: 2, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer rdb.Close()
	const token = "AXmigrate-test-token"
	emu, err := emulator.New(rdb, emulator.Options{Token: token})
	require.NoError(t, err)
	hs := httptest.NewServer(emu)
	defer hs.Close()

	ctx := context.Background()
	kb, err := keys.New(keys.Options{Namespace: "shop"})
	require.NoError(t, err)
	stored, err := kb.Entry("greeting")
	require.NoError(t, err)

	for _, tc := range []struct {
		name             string
		cutover          string
		primary, standby string
	}{
		{"before the cut-over memory serves and Upstash is written", "", "memory", "upstash"},
		{"after the cut-over Upstash serves and memory is written", "true", "upstash", "memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := aside.OptionsFromEnv(map[string]string{
				"CACHE_PROVIDER": "upstash", "UPSTASH_REDIS_REST_URL": hs.URL, "UPSTASH_REDIS_REST_TOKEN": token,
				"CACHE_TIMEOUT": "2s", "CACHE_NAMESPACE": "shop",
				"CACHE_MIGRATE_FROM": "memory", "CACHE_MIGRATE_CUTOVER": tc.cutover,
			})
			require.NoError(t, err)
			require.IsType(t, &dual.Migrator{}, o.Provider)
			c, err := aside.New(o)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, aside.Set(ctx, c, "greeting", "hello", aside.TTL(time.Minute)))
			n, err := rdb.Exists(ctx, stored).Result()
			require.NoError(t, err)
			require.EqualValues(t, 1, n, "Upstash took the write")
			v, found, err := aside.Get[string](ctx, c, "greeting")
			require.NoError(t, err)
			require.True(t, found)
			require.Equal(t, "hello", v)
			s, ok := dual.StatsOf(c.Provider())
			require.True(t, ok)
			require.Equal(t, tc.primary, s.Primary.Name)
			require.Equal(t, tc.standby, s.Secondary.Name)
			require.EqualValues(t, 1, s.Primary.Hits)
			require.NoError(t, c.Delete(ctx, "greeting"))
			n, err = rdb.Exists(ctx, stored).Result()
			require.NoError(t, err)
			require.Zero(t, n, "the delete reached Upstash")
		})
	}
}
