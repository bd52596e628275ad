package aside_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/keys"
	"github.com/aside-go/aside/provider/dual"
)

func TestMigrationFromEnv(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	require.NoError(t, err)
	defer srv.Close()
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
		{"before the cut-over memory serves and Redis is written", "", "memory", "redis"},
		{"after the cut-over Redis serves and memory is written", "true", "redis", "memory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := aside.OptionsFromEnv(map[string]string{
				"CACHE_PROVIDER": "redis", "REDIS_URL": srv.URL(0), "CACHE_NAMESPACE": "shop",
				"CACHE_MIGRATE_FROM": "memory", "CACHE_MIGRATE_CUTOVER": tc.cutover,
			})
			require.NoError(t, err)
			require.IsType(t, &dual.Migrator{}, o.Provider)
			c, err := aside.New(o)
			require.NoError(t, err)
			defer c.Close()
			require.NoError(t, aside.Set(ctx, c, "greeting", "hello", aside.TTL(time.Minute)))
			n, err := srv.Client(t, 0).Exists(ctx, stored).Result()
			require.NoError(t, err)
			require.EqualValues(t, 1, n, "Redis took the write")
			v, found, err := aside.Get[string](ctx, c, "greeting")
			require.NoError(t, err)
			require.True(t, found)
			require.Equal(t, "hello", v)
			s, ok := dual.StatsOf(c.Provider())
			require.True(t, ok)
			require.Equal(t, tc.primary, s.Primary.Name)
			require.Equal(t, tc.standby, s.Secondary.Name)
			require.EqualValues(t, 1, s.Primary.Hits)
			if tc.cutover == "true" {
				require.EqualValues(t, 1, s.ShadowReads, "memory answers every read as a shadow after the cut-over")
			}
			require.NoError(t, c.Delete(ctx, "greeting"))
		})
	}
}

func TestFallbackFromEnv(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	require.NoError(t, err)
	defer srv.Close()
	ctx := context.Background()
	o, err := aside.OptionsFromEnv(map[string]string{
		"CACHE_PROVIDER": "redis", "REDIS_URL": srv.URL(0), "CACHE_TIMEOUT": "100",
		"CACHE_FALLBACK": "Memory",
	})
	require.NoError(t, err)
	require.IsType(t, &dual.Fallback{}, o.Provider)
	c, err := aside.New(o)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, srv.Stop())
	require.NoError(t, aside.Set(ctx, c, "k", "during the outage", aside.TTL(time.Minute)))
	v, found, err := aside.Get[string](ctx, c, "k")
	require.NoError(t, err)
	require.True(t, found, "served by the in-process fallback")
	require.Equal(t, "during the outage", v)
	s, _ := dual.StatsOf(c.Provider())
	require.Equal(t, dual.Secondary, s.State)
	require.Equal(t, "redis", s.Primary.Name)
	require.NoError(t, srv.Start())
}

func TestBadDualEnvironmentNamesTheVariable(t *testing.T) {
	redis := map[string]string{"CACHE_PROVIDER": "redis", "REDIS_URL": "redis://:AXsecret@redis.invalid:6379/0"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range redis {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"a migration from an unknown store", with("CACHE_MIGRATE_FROM", "memcached"), "CACHE_MIGRATE_FROM"},
		{"a migration from the store it goes to", with("CACHE_MIGRATE_FROM", "redis"), "CACHE_MIGRATE_FROM"},
		{"a cut-over flag that is not a boolean", with("CACHE_MIGRATE_FROM", "memory", "CACHE_MIGRATE_CUTOVER", "soon"), "CACHE_MIGRATE_CUTOVER"},
		{"a cut-over without a migration", with("CACHE_MIGRATE_CUTOVER", "true"), "CACHE_MIGRATE_FROM"},
		{"a migration and a fallback at once", with("CACHE_MIGRATE_FROM", "memory", "CACHE_FALLBACK", "memory"), "CACHE_FALLBACK"},
		{"a fallback to an unknown store", with("CACHE_FALLBACK", "disk"), "CACHE_FALLBACK"},
		{"a fallback for the memory provider", map[string]string{"CACHE_FALLBACK": "memory"}, "CACHE_FALLBACK"},
		{"a migration from redis without a URL", map[string]string{"CACHE_MIGRATE_FROM": "redis"}, "REDIS_URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := aside.OptionsFromEnv(tc.env)
			require.ErrorIs(t, err, aside.ErrConfig)
			require.Contains(t, err.Error(), tc.want)
			require.NotContains(t, err.Error(), "AXsecret")
		})
	}
}
