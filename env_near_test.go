package aside_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
)

func TestNearFromEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    aside.Near
		wantErr string
	}{
		{"nothing set leaves the tier off", map[string]string{}, aside.Near{}, ""},
		{"a size turns it on in safe mode", map[string]string{"CACHE_NEAR_MAX_BYTES": "64MiB"}, aside.Near{MaxBytes: 64 << 20}, ""},
		{"every variable", map[string]string{"CACHE_NEAR_MAX_BYTES": "1048576", "CACHE_NEAR_MODE": "Shared", "CACHE_NEAR_TTL": "5", "CACHE_NEAR_TTL_ONLY": "true", "CACHE_NEAR_LEASE": "10s"},
			aside.Near{MaxBytes: 1 << 20, Mode: aside.NearShared, TTL: 5 * time.Second, TTLOnly: true, Lease: 10 * time.Second}, ""},
		{"a setting without a size names the size", map[string]string{"CACHE_NEAR_MODE": "shared"}, aside.Near{}, "CACHE_NEAR_MODE is set but CACHE_NEAR_MAX_BYTES is not"},
		{"a bad size is named", map[string]string{"CACHE_NEAR_MAX_BYTES": "lots"}, aside.Near{}, "CACHE_NEAR_MAX_BYTES=\"lots\""},
		{"a bad mode is named", map[string]string{"CACHE_NEAR_MAX_BYTES": "1MiB", "CACHE_NEAR_MODE": "fast"}, aside.Near{}, "CACHE_NEAR_MODE=\"fast\": want safe or shared"},
		{"TTL only without a TTL is refused", map[string]string{"CACHE_NEAR_MAX_BYTES": "1MiB", "CACHE_NEAR_TTL_ONLY": "true"}, aside.Near{}, "Near.TTLOnly needs Near.TTL"},
		{"a bad lease is named", map[string]string{"CACHE_NEAR_MAX_BYTES": "1MiB", "CACHE_NEAR_LEASE": "-1s"}, aside.Near{}, "CACHE_NEAR_LEASE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := aside.OptionsFromEnv(tc.env)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, aside.ErrConfig)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, o.Near)
		})
	}
}

// The near tier over Upstash from the environment: the cost must be chosen
// there too, and TTL mode starts.
func TestNearOverUpstashFromEnv(t *testing.T) {
	f := newUpstashFleet(t)
	base := map[string]string{"CACHE_PROVIDER": "upstash", "UPSTASH_REDIS_REST_URL": f.url, "UPSTASH_REDIS_REST_TOKEN": "near-test-token", "CACHE_NEAR_MAX_BYTES": "1MiB"}
	o, err := aside.OptionsFromEnv(base)
	require.NoError(t, err)
	_, err = aside.New(o)
	require.ErrorIs(t, err, aside.ErrInvalidOption)
	require.ErrorContains(t, err, "Near.TTLOnly")
	require.NoError(t, o.Provider.Close())

	base["CACHE_NEAR_TTL_ONLY"], base["CACHE_NEAR_TTL"] = "true", "2s"
	o, err = aside.OptionsFromEnv(base)
	require.NoError(t, err)
	c, err := aside.New(o)
	require.NoError(t, err)
	require.True(t, c.Stats().Near.On)
	require.NoError(t, c.Close())
}
