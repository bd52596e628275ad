package aside

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/aside-go/aside/codec"
)

// Config is the environment FromEnv reads, variable by variable. Every field
// is a string so that a bad value fails with a message naming its variable
// (and never echoing a secret).
type Config struct {
	// CACHE_PROVIDER: memory (default), redis or upstash.
	Provider string `env:"CACHE_PROVIDER"`
	// CACHE_DEFAULT_TTL: seconds ("3600") or a Go duration ("1h"). Default 1h.
	DefaultTTL string `env:"CACHE_DEFAULT_TTL"`
	// CACHE_STALE_WHILE_REVALIDATE: like CACHE_DEFAULT_TTL. Default off.
	StaleWhileRevalidate string `env:"CACHE_STALE_WHILE_REVALIDATE"`
	// CACHE_NAMESPACE: prefix separating this app's keys. Default empty.
	Namespace string `env:"CACHE_NAMESPACE"`
	// CACHE_COMPRESSION: zstd (default), s2, gzip or none.
	Compression string `env:"CACHE_COMPRESSION"`
	// CACHE_MEMORY_MAX_BYTES: bound of the memory provider, in bytes.
	MemoryMaxBytes string `env:"CACHE_MEMORY_MAX_BYTES"`
	// CACHE_TIMEOUT: bound on each call to a network provider, in
	// milliseconds ("250") or a Go duration ("250ms"). Default: the
	// provider's own (250ms for Redis).
	Timeout string `env:"CACHE_TIMEOUT"`
	// LOG_LEVEL: debug, info, warn or error. When set, the cache logs to
	// standard error at that level; unset, it logs nothing. With
	// CACHE_PROVIDER=redis and REDIS_CLIENT=go-redis this covers go-redis's
	// own lines (failed dials, at warn), through its process-wide logger;
	// rueidis, the default client, logs nothing.
	LogLevel string `env:"LOG_LEVEL"`
	// REDIS_URL: redis:// or rediss:// URL, password and DB included
	// (CACHE_PROVIDER=redis).
	RedisURL string `env:"REDIS_URL"`
	// REDIS_CLUSTER_ADDRS: comma-separated host:port seeds of a Redis
	// Cluster; when set, REDIS_URL supplies only credentials and TLS.
	RedisClusterAddrs string `env:"REDIS_CLUSTER_ADDRS"`
	// REDIS_CLIENT: the Redis client library, rueidis (default: provider
	// rueidis, auto-pipelining) or go-redis (provider redis). See
	// redisFromEnv for why rueidis is the default.
	RedisClient string `env:"REDIS_CLIENT"`
	// UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN
	// (CACHE_PROVIDER=upstash).
	UpstashURL   string `env:"UPSTASH_REDIS_REST_URL"`
	UpstashToken string `env:"UPSTASH_REDIS_REST_TOKEN"`
}

// FromEnv builds a Cache from environment variables; see Config for each
// one. It is meant for main: the library itself never reads the environment.
func FromEnv() (*Cache, error) {
	o, err := OptionsFromEnv(nil)
	if err != nil {
		return nil, err
	}
	return New(o)
}

// OptionsFromEnv reads Config from environ (nil means the process
// environment) and turns it into Options, connecting to the named provider.
func OptionsFromEnv(environ map[string]string) (Options, error) {
	var cfg Config
	if environ == nil {
		environ = env.ToMap(os.Environ())
	}
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: environ}); err != nil {
		return Options{}, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return cfg.Options()
}

// Options validates cfg and returns the Options it describes.
func (cfg Config) Options() (Options, error) {
	var o Options
	var err error
	if o.DefaultTTL, err = parseSeconds("CACHE_DEFAULT_TTL", cfg.DefaultTTL, false); err != nil {
		return o, err
	}
	if o.StaleWhileRevalidate, err = parseSeconds("CACHE_STALE_WHILE_REVALIDATE", cfg.StaleWhileRevalidate, true); err != nil {
		return o, err
	}
	o.Namespace = cfg.Namespace
	if s := strings.TrimSpace(cfg.Compression); s != "" {
		if o.Compression, err = codec.ParseAlgorithm(s); err != nil {
			return o, fmt.Errorf("%w: CACHE_COMPRESSION=%q: want zstd, s2, gzip or none", ErrConfig, s)
		}
	}
	if s := strings.TrimSpace(cfg.MemoryMaxBytes); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return o, fmt.Errorf("%w: CACHE_MEMORY_MAX_BYTES=%q: want a positive number of bytes, like 67108864", ErrConfig, s)
		}
		o.MemoryMaxBytes = n
	}
	if s := strings.TrimSpace(cfg.LogLevel); s != "" {
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(s)); err != nil {
			return o, fmt.Errorf("%w: LOG_LEVEL=%q: want debug, info, warn or error", ErrConfig, s)
		}
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	}
	// Every variable is checked whatever the provider, so that a typo fails
	// now rather than on the day the provider changes.
	var timeout time.Duration
	if s := strings.TrimSpace(cfg.Timeout); s != "" {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 {
			timeout = time.Duration(ms) * time.Millisecond
		} else if timeout, err = time.ParseDuration(s); err != nil || timeout <= 0 {
			return o, fmt.Errorf("%w: CACHE_TIMEOUT=%q: want milliseconds (250) or a positive duration (250ms)", ErrConfig, s)
		}
	}
	switch p := strings.ToLower(strings.TrimSpace(cfg.Provider)); p {
	case "", "memory":
	case "redis":
		pr, err := redisFromEnv(cfg, timeout, o.Logger)
		if err != nil {
			return o, err
		}
		o.Provider = pr
	case "upstash":
		return o, fmt.Errorf("%w: CACHE_PROVIDER=upstash: the Upstash REST provider is not built yet; use memory or redis", ErrConfig)
	default:
		return o, fmt.Errorf("%w: CACHE_PROVIDER=%q: want memory, redis or upstash", ErrConfig, cfg.Provider)
	}
	return o, nil
}

// parseSeconds accepts whole seconds ("3600") or a Go duration ("1h30m").
func parseSeconds(name, s string, zeroOK bool) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > int64(1<<63-1)/int64(time.Second) {
			return 0, fmt.Errorf("%w: %s=%q is too large", ErrConfig, name, s)
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("%w: %s=%q: want seconds (3600) or a duration (1h)", ErrConfig, name, s)
	}
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, fmt.Errorf("%w: %s=%q: must be positive", ErrConfig, name, s)
	}
	return d, nil
}
