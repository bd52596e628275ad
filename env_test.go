package aside_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/codec"
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
		{"a redis URL of another scheme", map[string]string{"CACHE_PROVIDER": "redis", "REDIS_URL": "http://user:AXsecret@127.0.0.1:6379"}, "REDIS_URL"},
		{"a bad timeout", map[string]string{"CACHE_PROVIDER": "redis", "REDIS_URL": "redis://127.0.0.1:6379", "CACHE_TIMEOUT": "fast"}, "CACHE_TIMEOUT"},
		{"a bad timeout with the memory provider", map[string]string{"CACHE_TIMEOUT": "abc"}, "CACHE_TIMEOUT"},
		{"upstash, not built yet", map[string]string{"CACHE_PROVIDER": "upstash", "UPSTASH_REDIS_REST_TOKEN": "AXsecret"}, "upstash"},
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
	o, err := aside.OptionsFromEnv(map[string]string{
		"CACHE_PROVIDER": "redis", "REDIS_URL": "redis://127.0.0.1:6379/11", "CACHE_TIMEOUT": "500",
		"CACHE_NAMESPACE": "envtest",
	})
	require.NoError(t, err)
	c, err := aside.New(o)
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs Redis at 127.0.0.1:6379: %v", err)
		}
		t.Skipf("no Redis at 127.0.0.1:6379: %v", err)
	}
	require.NoError(t, aside.Set(ctx, c, "k", "v", aside.TTL(time.Minute)))
	v, found, err := aside.Get[string](ctx, c, "k")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, "v", v)
	require.NoError(t, c.Delete(ctx, "k"))
}
