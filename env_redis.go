package aside

import (
	"fmt"
	"strings"

	"github.com/aside-go/aside/provider"
)

// redisFromEnv connects the Redis provider named by REDIS_URL and
// REDIS_CLUSTER_ADDRS.
func redisFromEnv(cfg Config) (provider.Provider, error) {
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
	return nil, fmt.Errorf("%w: CACHE_PROVIDER=redis: the Redis provider is not built yet", ErrConfig)
}
