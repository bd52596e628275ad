package aside_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/codec"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/keys"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

func TestOptionsFromEnv(t *testing.T) {
	o, err := aside.OptionsFromEnv(map[string]string{
		"CACHE_PROVIDER":         "Memory",
		"CACHE_DEFAULT_TTL":      "90",
		"CACHE_NAMESPACE":        "shop",
		"CACHE_COMPRESSION":      "s2",
		"CACHE_MEMORY_MAX_BYTES": "1048576",
		"LOG_LEVEL":              "debug",
	})
	require.NoError(t, err)
	require.Equal(t, 90*time.Second, o.DefaultTTL)
	require.Equal(t, "shop", o.Namespace)
	require.Equal(t, codec.S2, o.Compression)
	require.EqualValues(t, 1<<20, o.MemoryMaxBytes)
	require.NotNil(t, o.Logger)

	o, err = aside.OptionsFromEnv(map[string]string{"CACHE_DEFAULT_TTL": "1h30m"})
	require.NoError(t, err)
	require.Equal(t, 90*time.Minute, o.DefaultTTL)
	require.Nil(t, o.Logger, "no LOG_LEVEL, no logging")
}

func TestBadEnvironmentNamesTheVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"an unknown provider", map[string]string{"CACHE_PROVIDER": "memcached"}, "CACHE_PROVIDER"},
		{"a TTL that is not a duration", map[string]string{"CACHE_DEFAULT_TTL": "soon"}, "CACHE_DEFAULT_TTL"},
		{"a negative TTL", map[string]string{"CACHE_DEFAULT_TTL": "-5"}, "CACHE_DEFAULT_TTL"},
		{"a zero TTL", map[string]string{"CACHE_DEFAULT_TTL": "0"}, "CACHE_DEFAULT_TTL"},
		{"an unknown compression", map[string]string{"CACHE_COMPRESSION": "lz4"}, "CACHE_COMPRESSION"},
		{"a memory bound that is not a number", map[string]string{"CACHE_MEMORY_MAX_BYTES": "64MB"}, "CACHE_MEMORY_MAX_BYTES"},
		{"an unknown log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"redis without a URL", map[string]string{"CACHE_PROVIDER": "redis"}, "REDIS_URL"},
		{"a malformed redis URL, without echoing its password", map[string]string{"CACHE_PROVIDER": "redis", "REDIS_URL": "redis://user:AXsecret@host:notaport/0"}, "REDIS_URL"},
		{"a redis URL of another scheme", map[string]string{"CACHE_PROVIDER": "redis", "REDIS_URL": "http://user:AXsecret@redis.invalid:6379"}, "REDIS_URL"},
		{"a bad timeout", map[string]string{"CACHE_PROVIDER": "redis", "REDIS_URL": "redis://redis.invalid:6379", "CACHE_TIMEOUT": "fast"}, "CACHE_TIMEOUT"},
		{"a bad timeout with the memory provider", map[string]string{"CACHE_TIMEOUT": "abc"}, "CACHE_TIMEOUT"},
		{"upstash without a URL", map[string]string{"CACHE_PROVIDER": "upstash", "UPSTASH_REDIS_REST_TOKEN": "AXsecret"}, "UPSTASH_REDIS_REST_URL is empty"},
		{"upstash without a token", map[string]string{"CACHE_PROVIDER": "upstash", "UPSTASH_REDIS_REST_URL": "https://eu1.upstash.io"}, "UPSTASH_REDIS_REST_TOKEN is empty"},
		{"an upstash token that cannot be a header, without echoing it", map[string]string{"CACHE_PROVIDER": "upstash",
			"UPSTASH_REDIS_REST_URL": "https://eu1.upstash.io", "UPSTASH_REDIS_REST_TOKEN": "AXsecret with space"}, "UPSTASH_REDIS_REST_TOKEN"},
		{"an upstash URL with credentials, without echoing them", map[string]string{"CACHE_PROVIDER": "upstash",
			"UPSTASH_REDIS_REST_URL": "https://default:AXsecret@eu1.upstash.io", "UPSTASH_REDIS_REST_TOKEN": "AXsecret"}, "UPSTASH_REDIS_REST_URL"},
		{"an upstash URL in plain http to another host", map[string]string{"CACHE_PROVIDER": "upstash",
			"UPSTASH_REDIS_REST_URL": "http://eu1.upstash.io", "UPSTASH_REDIS_REST_TOKEN": "AXsecret"}, "UPSTASH_REDIS_REST_URL"},
		{"an upstash URL of another scheme", map[string]string{"CACHE_PROVIDER": "upstash",
			"UPSTASH_REDIS_REST_URL": "rediss://default:AXsecret@eu1.upstash.io:6379", "UPSTASH_REDIS_REST_TOKEN": "AXsecret"}, "UPSTASH_REDIS_REST_URL"},
		{"a bad timeout with upstash", map[string]string{"CACHE_PROVIDER": "upstash",
			"UPSTASH_REDIS_REST_URL": "https://eu1.upstash.io", "UPSTASH_REDIS_REST_TOKEN": "AXsecret", "CACHE_TIMEOUT": "-1s"}, "CACHE_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := aside.OptionsFromEnv(tt.env)
			require.ErrorIs(t, err, aside.ErrConfig)
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), "AXsecret")
		})
	}
}

func TestFromEnvConnectsToRedis(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	require.NoError(t, err)
	defer srv.Close()

	const db = 11 // not 0, to see that the URL's database is used
	o, err := aside.OptionsFromEnv(map[string]string{
		"CACHE_PROVIDER": "redis", "REDIS_URL": srv.URL(db), "CACHE_TIMEOUT": "500",
		"CACHE_NAMESPACE": "envtest",
	})
	require.NoError(t, err)
	c, err := aside.New(o)
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx))
	require.NoError(t, aside.Set(ctx, c, "k", "v", aside.TTL(time.Minute)))
	v, found, err := aside.Get[string](ctx, c, "k")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "v", v)

	kb, err := keys.New(keys.Options{Namespace: "envtest"})
	require.NoError(t, err)
	stored, err := kb.Entry("k")
	require.NoError(t, err)
	n, err := srv.Client(t, db).Exists(ctx, stored).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the entry %s is in database %d", stored, db)
	n, err = srv.Client(t, 0).DBSize(ctx).Result()
	require.NoError(t, err)
	require.Zero(t, n, "nothing in database 0")

	require.NoError(t, c.Delete(ctx, "k"))
}

func TestFromEnvConnectsToUpstash(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	require.NoError(t, err)
	defer srv.Close()
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), Protocol: 2, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer rdb.Close()
	const token = "AXenv-test-token"
	emu, err := emulator.New(rdb, emulator.Options{Token: token})
	require.NoError(t, err)
	hs := httptest.NewServer(emu)
	defer hs.Close()

	o, err := aside.OptionsFromEnv(map[string]string{
		"CACHE_PROVIDER": "upstash", "UPSTASH_REDIS_REST_URL": hs.URL, "UPSTASH_REDIS_REST_TOKEN": " " + token + "\n",
		"CACHE_TIMEOUT": "2s", "CACHE_NAMESPACE": "envtest",
	})
	require.NoError(t, err)
	c, err := aside.New(o)
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx))
	require.NoError(t, aside.Set(ctx, c, "k", "v", aside.TTL(time.Minute)))
	v, found, err := aside.Get[string](ctx, c, "k")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "v", v)

	kb, err := keys.New(keys.Options{Namespace: "envtest"})
	require.NoError(t, err)
	stored, err := kb.Entry("k")
	require.NoError(t, err)
	n, err := rdb.Exists(ctx, stored).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the entry %s is in the Redis behind the emulator", stored)
	require.Positive(t, emu.Stats().Commands)

	require.NoError(t, c.Delete(ctx, "k"))

	// A wrong token is a failing store, named in the error, never shown.
	o, err = aside.OptionsFromEnv(map[string]string{
		"CACHE_PROVIDER": "upstash", "UPSTASH_REDIS_REST_URL": hs.URL, "UPSTASH_REDIS_REST_TOKEN": "AXsecret-wrong",
	})
	require.NoError(t, err)
	bad, err := aside.New(o)
	require.NoError(t, err)
	defer bad.Close()
	err = bad.Ping(ctx)
	require.ErrorIs(t, err, upstash.ErrUnauthorized)
	require.NotContains(t, err.Error(), "AXsecret-wrong")
}
