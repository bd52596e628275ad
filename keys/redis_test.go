package keys

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/internal/redistest"
)

// The tests check Match against a real Redis: one redis-server this test
// binary starts and stops (see redistest.Shared), never the user's.
func TestMain(m *testing.M) { os.Exit(redistest.WithShared(m).Run()) }

// redisClient connects to the test binary's own Redis. Without the
// redis-server binary it skips, except in CI (CI=true), where it fails.
func redisClient(t *testing.T) *redis.Client {
	t.Helper()
	return redistest.Shared(t).Client(t, 0)
}

func uniquePrefix(t *testing.T, name string) string {
	var b [8]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return name + "-" + hex.EncodeToString(b[:])
}

// setKeys writes keys and deletes them when the test ends, so that the next
// test's SCAN walks only its own.
func setKeys(t *testing.T, c *redis.Client, keys []string) {
	t.Helper()
	ctx := context.Background()
	pipe := c.Pipeline()
	for _, k := range keys {
		pipe.Set(ctx, k, "1", 0)
	}
	_, err := pipe.Exec(ctx)
	require.NoError(t, err)
	t.Cleanup(func() {
		for i := 0; i < len(keys); i += 500 {
			_ = c.Del(context.Background(), keys[i:min(i+500, len(keys))]...).Err()
		}
	})
}

// scanAll returns the set of keys SCAN MATCH pattern visits.
func scanAll(t *testing.T, c *redis.Client, pattern string) map[string]bool {
	t.Helper()
	ctx := context.Background()
	found := make(map[string]bool)
	var cursor uint64
	for {
		ks, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
		require.NoError(t, err)
		for _, k := range ks {
			found[k] = true
		}
		if next == 0 {
			return found
		}
		cursor = next
	}
}

func TestMatchAgreesWithRedis(t *testing.T) {
	c := redisClient(t)
	// The prefix is plain text with no glob metacharacter, so prefix+p over
	// prefix+s is p over s, except that s = "" becomes a non-empty key.
	prefix := uniquePrefix(t, "aside-keys-matchtest") + ":"

	r := mrand.New(mrand.NewPCG(7, 8))
	subjects := map[string]bool{"": true, "user:42": true, "user:42:profile": true, "product:7:reviews": true}
	var patterns []string
	for _, mc := range matchCases {
		subjects[mc.s] = true
		patterns = append(patterns, mc.pattern)
	}
	for range 300 {
		subjects[randomSubject(r, 6)] = true
		patterns = append(patterns, randomGlob(r, 6))
	}
	var stored []string
	for s := range subjects {
		stored = append(stored, prefix+s)
	}
	setKeys(t, c, stored)

	mismatches := 0
	for _, p := range patterns {
		full := prefix + p
		found := scanAll(t, c, full)
		for s := range subjects {
			got := Match(full, prefix+s)
			if s != "" {
				require.Equal(t, Match(p, s), got, "prefixing changed the result of %q on %q", p, s)
			}
			if found[prefix+s] != got {
				mismatches++
				t.Errorf("pattern %q on %q: Redis says %v, Match says %v", clip(p), clip(s), found[prefix+s], got)
			}
		}
		for k := range found {
			require.True(t, strings.HasPrefix(k, prefix) || Match(full, k), "Redis returned %q for %q", k, full)
		}
	}
	require.Zero(t, mismatches)
}

func TestEntryPatternAgreesWithRedis(t *testing.T) {
	c := redisClient(t)
	// The namespace holds glob metacharacters, which the pattern must quote.
	ns := uniquePrefix(t, "aside-keys-patterntest") + ":*[ns]"
	b := mustNew(t, Options{Namespace: ns})

	r := mrand.New(mrand.NewPCG(9, 10))
	logical := map[string]bool{}
	for range 300 {
		if k := plainKey(r, 8); k != "" {
			logical[k] = true
		}
	}
	var stored []string
	storedOf := map[string]string{}
	for k := range logical {
		s, err := b.Entry(k)
		require.NoError(t, err)
		stored = append(stored, s)
		storedOf[k] = s
	}
	// Another version and the tags must never be matched.
	other := mustNew(t, Options{Namespace: ns, Version: 2})
	var decoys []string
	for k := range logical {
		tg, _ := b.Tag(k)
		decoys = append(decoys, tg)
	}
	o, _ := other.Entry("user:1")
	decoys = append(decoys, o)
	setKeys(t, c, append(stored, decoys...))

	checked := 0
	for range 150 {
		g := plainGlob(r, 6)
		sg, err := b.EntryPattern(g)
		if err != nil {
			continue
		}
		checked++
		found := scanAll(t, c, sg)
		for k, s := range storedOf {
			require.Equal(t, Match(g, k), found[s], "glob %q (stored %q) on key %q", g, sg, k)
		}
		for _, d := range decoys {
			require.False(t, found[d], "glob %q matched %q", g, d)
		}
	}
	require.Greater(t, checked, 100)
}

// clip shortens long test inputs in failure messages.
func clip(s string) string {
	if len(s) <= 60 {
		return s
	}
	return s[:60] + "...(" + strconv.Itoa(len(s)) + " bytes)"
}
