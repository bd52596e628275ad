package aside

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/upstash"
)

// upstashFromEnv builds the Upstash REST provider named by
// UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN. It does not connect:
// a database that is unreachable at start is a miss like any other (check
// c.Ping for readiness).
func upstashFromEnv(cfg Config, timeout time.Duration) (provider.Provider, error) {
	url := strings.TrimSpace(cfg.UpstashURL)
	token := strings.TrimSpace(cfg.UpstashToken)
	if url == "" {
		return nil, fmt.Errorf("%w: UPSTASH_REDIS_REST_URL is empty (required when CACHE_PROVIDER=upstash: "+
			"the database's REST URL, https://<name>.upstash.io, or http://127.0.0.1:8079 for go run ./cmd/upstash-local)", ErrConfig)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: UPSTASH_REDIS_REST_TOKEN is empty (required when CACHE_PROVIDER=upstash: "+
			"the database's standard REST token)", ErrConfig)
	}
	p, err := upstash.New(url, token, upstash.Options{Timeout: timeout})
	if err != nil {
		name := "UPSTASH_REDIS_REST_TOKEN"
		if errors.Is(err, upstash.ErrInvalidURL) {
			name = "UPSTASH_REDIS_REST_URL"
		}
		// upstash's errors never quote the URL or the token.
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	return p, nil
}
