package aside

import (
	"fmt"
	"strconv"
	"strings"
)

// near reads the CACHE_NEAR_* variables. Whether the tier can run over the
// provider (pub/sub, cost) is New's to judge, with the same errors as in code.
func (cfg Config) near() (Near, error) {
	var n Near
	s := strings.TrimSpace(cfg.NearMaxBytes)
	if s == "" {
		for _, v := range []struct{ name, val string }{
			{"CACHE_NEAR_MODE", cfg.NearMode}, {"CACHE_NEAR_TTL", cfg.NearTTL},
			{"CACHE_NEAR_TTL_ONLY", cfg.NearTTLOnly}, {"CACHE_NEAR_LEASE", cfg.NearLease},
		} {
			if strings.TrimSpace(v.val) != "" {
				return n, fmt.Errorf("%w: %s is set but CACHE_NEAR_MAX_BYTES is not: set it (like 64MiB) to turn the near tier on", ErrConfig, v.name)
			}
		}
		return n, nil
	}
	b, ok := parseBytes(s)
	if !ok || b <= 0 {
		return n, fmt.Errorf("%w: CACHE_NEAR_MAX_BYTES=%q: want a positive size, like 67108864 or 64MiB", ErrConfig, s)
	}
	n.MaxBytes = b
	switch m := strings.ToLower(strings.TrimSpace(cfg.NearMode)); m {
	case "", "safe":
	case "shared":
		n.Mode = NearShared
	default:
		return n, fmt.Errorf("%w: CACHE_NEAR_MODE=%q: want safe or shared", ErrConfig, cfg.NearMode)
	}
	var err error
	if n.TTL, err = parseSeconds("CACHE_NEAR_TTL", cfg.NearTTL, false); err != nil {
		return n, err
	}
	if n.Lease, err = parseSeconds("CACHE_NEAR_LEASE", cfg.NearLease, false); err != nil {
		return n, err
	}
	if s := strings.TrimSpace(cfg.NearTTLOnly); s != "" {
		if n.TTLOnly, err = strconv.ParseBool(s); err != nil {
			return n, fmt.Errorf("%w: CACHE_NEAR_TTL_ONLY=%q: want true or false", ErrConfig, s)
		}
	}
	if err := n.validate(); err != nil {
		return n, fmt.Errorf("%w: CACHE_NEAR_*: %w", ErrConfig, err)
	}
	return n, nil
}
