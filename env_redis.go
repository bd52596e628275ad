package aside

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/redis"
)

// redisFromEnv builds the Redis provider named by REDIS_URL and
// REDIS_CLUSTER_ADDRS. It does not wait for Redis: a Redis that is down at
// start is a miss like any other (check c.Ping for readiness). Only a URL
// naming a database other than 0 costs one PING, bounded by the timeout, so
// that a database the server lacks fails here.
//
// It also points go-redis's process-wide logger, which writes failed dials to
// standard error by default, at logger (LOG_LEVEL's; nil drops them): FromEnv
// is a program's edge, the one place where the library may set it.
func redisFromEnv(cfg Config, timeout time.Duration, logger *slog.Logger) (provider.Provider, error) {
	url := strings.TrimSpace(cfg.RedisURL)
	var seeds []string
	for _, a := range strings.Split(cfg.RedisClusterAddrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			seeds = append(seeds, a)
		}
	}
	if url == "" && len(seeds) == 0 {
		return nil, fmt.Errorf("%w: REDIS_URL is empty (required when CACHE_PROVIDER=redis; for a Cluster set REDIS_CLUSTER_ADDRS)", ErrConfig)
	}
	p, err := redis.FromURL(url, seeds, redis.Options{Timeout: timeout})
	if err != nil {
		name := "REDIS_URL"
		if len(seeds) > 0 {
			name = "REDIS_URL/REDIS_CLUSTER_ADDRS"
		}
		// redis's errors never quote the URL or its password.
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	goredis.SetLogger(redis.NewLogger(logger))
	return p, nil
}
