package aside

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/redis"
	"github.com/aside-go/aside/provider/rueidis"
)

// redisFromEnv builds the Redis provider named by REDIS_URL and
// REDIS_CLUSTER_ADDRS, over the client REDIS_CLIENT names. It does not wait
// for Redis: a Redis that is down at start is a miss like any other (check
// c.Ping for readiness). Only a URL naming a database other than 0 costs
// one round trip at start, bounded by the timeout, so that a database the
// server lacks fails here.
//
// The default client is rueidis (provider/rueidis): its auto-pipelining
// sends concurrent reads together, which on the 2-core test machine gave
// 1.6-1.7x (8 goroutines), 2.1-2.6x (32) and 2.9-4.2x (128) the GET-hit
// throughput of a bare go-redis GET (the go-redis provider: 0.7-1.1x), and
// the same serial latency (provider/rueidis/NOTES.md has the
// figures and the commands). REDIS_CLIENT=go-redis keeps provider/redis,
// for programs that want go-redis's behaviour or its process-wide logger.
//
// For go-redis it also points go-redis's process-wide logger, which writes
// failed dials to standard error by default, at logger (LOG_LEVEL's; nil
// drops them): FromEnv is a program's edge, the one place where the
// library may set it. rueidis logs nothing.
func redisFromEnv(cfg Config, timeout time.Duration, logger *slog.Logger) (provider.Provider, error) {
	url := strings.TrimSpace(cfg.RedisURL)
	var seeds []string
	for _, a := range strings.Split(cfg.RedisClusterAddrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			seeds = append(seeds, a)
		}
	}
	client := strings.ToLower(strings.TrimSpace(cfg.RedisClient))
	if client != "" && client != "rueidis" && client != "go-redis" {
		return nil, fmt.Errorf("%w: REDIS_CLIENT=%q: want rueidis (the default) or go-redis", ErrConfig, cfg.RedisClient)
	}
	if url == "" && len(seeds) == 0 {
		return nil, fmt.Errorf("%w: REDIS_URL is empty (required when CACHE_PROVIDER=redis; for a Cluster set REDIS_CLUSTER_ADDRS)", ErrConfig)
	}
	name := "REDIS_URL"
	if len(seeds) > 0 {
		name = "REDIS_URL/REDIS_CLUSTER_ADDRS"
	}
	// Neither package's errors quote the URL or its password.
	if client == "go-redis" {
		p, err := redis.FromURL(url, seeds, redis.Options{Timeout: timeout})
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
		}
		goredis.SetLogger(redis.NewLogger(logger))
		return p, nil
	}
	p, err := rueidis.FromURL(url, seeds, rueidis.Options{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	return p, nil
}
