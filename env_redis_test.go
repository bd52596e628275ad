package aside_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/redis"
	"github.com/aside-go/aside/provider/rueidis"
)

func TestREDIS_CLIENTChoosesTheProvider(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	require.NoError(t, err)
	defer srv.Close()
	for _, tc := range []struct {
		client string
		check  func(t *testing.T, o aside.Options)
	}{
		{"", func(t *testing.T, o aside.Options) { require.IsType(t, &rueidis.Provider{}, o.Provider) }},
		{"rueidis", func(t *testing.T, o aside.Options) { require.IsType(t, &rueidis.Provider{}, o.Provider) }},
		{"go-redis", func(t *testing.T, o aside.Options) { require.IsType(t, &redis.Provider{}, o.Provider) }},
	} {
		t.Run("REDIS_CLIENT="+tc.client, func(t *testing.T) {
			o, err := aside.OptionsFromEnv(map[string]string{
				"CACHE_PROVIDER": "redis", "REDIS_URL": srv.URL(3), "REDIS_CLIENT": tc.client,
			})
			require.NoError(t, err)
			tc.check(t, o)
			c, err := aside.New(o)
			require.NoError(t, err)
			defer c.Close()
			ctx := context.Background()
			require.NoError(t, aside.Set(ctx, c, "k", tc.client, aside.TTL(time.Minute)))
			v, found, err := aside.Get[string](ctx, c, "k")
			require.NoError(t, err)
			require.True(t, found)
			require.Equal(t, tc.client, v)
		})
	}
	_, err = aside.OptionsFromEnv(map[string]string{"CACHE_PROVIDER": "redis", "REDIS_URL": srv.URL(0), "REDIS_CLIENT": "jedis"})
	require.ErrorIs(t, err, aside.ErrConfig)
	require.Contains(t, err.Error(), "REDIS_CLIENT")
}
