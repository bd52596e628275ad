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
	// provider's own (250ms for Redis, 500ms for Upstash).
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
	// CACHE_MONTHLY_COMMAND_BUDGET: billed commands a calendar month may
	// use (Upstash's free tier: 500000). Default: no budget.
	MonthlyCommandBudget string `env:"CACHE_MONTHLY_COMMAND_BUDGET"`
	// CACHE_MONTHLY_BANDWIDTH_BUDGET: billed bytes a calendar month may
	// use, as a number of bytes or with a unit: 10GB (decimal, as Upstash
	// bills), 512MiB (binary). Default: no budget.
	MonthlyBandwidthBudget string `env:"CACHE_MONTHLY_BANDWIDTH_BUDGET"`
	// CACHE_BUDGET_WARN_AT: the share of a budget at which Health turns
	// degraded and an alert fires, 0 to 1 ("0.8") or a percentage ("80%").
	// Default 0.8.
	BudgetWarnAt string `env:"CACHE_BUDGET_WARN_AT"`
	// REDIS_CLIENT: the Redis client library, rueidis (default: provider
	// rueidis, auto-pipelining) or go-redis (provider redis). See
	// redisFromEnv for why rueidis is the default.
	RedisClient string `env:"REDIS_CLIENT"`
	// UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN
	// (CACHE_PROVIDER=upstash): the database's REST URL (https://, or
	// http:// to a loopback host such as cmd/upstash-local) and its
	// standard REST token.
	UpstashURL   string `env:"UPSTASH_REDIS_REST_URL"`
	UpstashToken string `env:"UPSTASH_REDIS_REST_TOKEN"`

	// Two stores at once (provider/dual; see env_migrate.go).
	//
	// CACHE_MIGRATE_FROM: memory or redis, the store being moved away
	// from, while CACHE_PROVIDER names the one moved to: every write goes
	// to both. Default empty: no migration.
	MigrateFrom string `env:"CACHE_MIGRATE_FROM"`
	// CACHE_MIGRATE_CUTOVER: false (default) serves from CACHE_MIGRATE_FROM,
	// true from CACHE_PROVIDER (the guide's ENABLE_UPSTASH).
	MigrateCutover string `env:"CACHE_MIGRATE_CUTOVER"`
	// CACHE_FALLBACK: memory serves from an in-process store while
	// CACHE_PROVIDER is unavailable. Default empty: no fallback.
	Fallback string `env:"CACHE_FALLBACK"`

	// The near tier (Options.Near; see env_near.go).
	//
	// CACHE_NEAR_MAX_BYTES turns it on and bounds it: bytes (67108864) or
	// with a unit (64MiB). Default empty: off.
	NearMaxBytes string `env:"CACHE_NEAR_MAX_BYTES"`
	// CACHE_NEAR_MODE: safe (default: each caller decodes its own copy) or
	// shared (one decoded value, read-only for every caller).
	NearMode string `env:"CACHE_NEAR_MODE"`
	// CACHE_NEAR_TTL caps how long another process may serve a replaced
	// value in TTL mode: seconds (5) or a duration (5s).
	NearTTL string `env:"CACHE_NEAR_TTL"`
	// CACHE_NEAR_TTL_ONLY: true runs TTL mode even over pub/sub (no
	// heartbeats: the cheap option on Upstash).
	NearTTLOnly string `env:"CACHE_NEAR_TTL_ONLY"`
	// CACHE_NEAR_LEASE: the lease on the invalidation channel, seconds or a
	// duration. Default 1s; on Upstash setting it accepts its cost.
	NearLease string `env:"CACHE_NEAR_LEASE"`
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
	if o.Budget, err = cfg.budget(); err != nil {
		return o, err
	}
	if o.Near, err = cfg.near(); err != nil {
		return o, err
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
		pr, err := upstashFromEnv(cfg, timeout)
		if err != nil {
			return o, err
		}
		o.Provider = pr
	default:
		return o, fmt.Errorf("%w: CACHE_PROVIDER=%q: want memory, redis or upstash", ErrConfig, cfg.Provider)
	}
	return cfg.dualOptions(o, timeout)
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

// budget reads the CACHE_MONTHLY_* and CACHE_BUDGET_WARN_AT variables.
func (cfg Config) budget() (Budget, error) {
	var b Budget
	if s := strings.TrimSpace(cfg.MonthlyCommandBudget); s != "" {
		n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil || n < 0 {
			return b, fmt.Errorf("%w: CACHE_MONTHLY_COMMAND_BUDGET=%q: want a number of commands, like 500000", ErrConfig, s)
		}
		b.MonthlyCommands = n
	}
	if s := strings.TrimSpace(cfg.MonthlyBandwidthBudget); s != "" {
		n, ok := parseBytes(s)
		if !ok {
			return b, fmt.Errorf("%w: CACHE_MONTHLY_BANDWIDTH_BUDGET=%q: want bytes, like 10GB, 512MiB or 10000000000", ErrConfig, s)
		}
		b.MonthlyBandwidth = n
	}
	if s := strings.TrimSpace(cfg.BudgetWarnAt); s != "" {
		v, pct := strings.CutSuffix(s, "%")
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if pct {
			f /= 100
		}
		if err != nil || !(f > 0 && f <= 1) {
			return b, fmt.Errorf("%w: CACHE_BUDGET_WARN_AT=%q: want a share between 0 and 1 (0.8) or a percentage (80%%)", ErrConfig, s)
		}
		b.WarnAt = f
	}
	return b, nil
}

// byteUnits are the units parseBytes accepts, longest suffix first.
var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// parseBytes reads "10GB", "512 MiB", "1.5GB" or "10000000000".
func parseBytes(s string) (int64, bool) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, unit := range byteUnits {
		if num, ok := strings.CutSuffix(u, unit.suffix); ok {
			u, mult = strings.TrimSpace(num), unit.mult
			break
		}
	}
	f, err := strconv.ParseFloat(u, 64)
	if err != nil || !(f >= 0) || f*float64(mult) >= 1<<63 { // !(f >= 0) also refuses NaN
		return 0, false
	}
	return int64(f * float64(mult)), true
}
