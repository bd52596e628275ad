package aside_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
)

func TestLogKeyCutsQueriesAndHeadersAndLongKeys(t *testing.T) {
	tests := []struct {
		name, key, want string
	}{
		{"a short key without a query is shown whole", "user:42:summary", "user:42:summary"},
		{"a URL key keeps its path only", "mw:http://shop.example/products?token=s3cret&page=2 Accept-Language=en", "mw:http://shop.example/products...#"},
		{"a key with a header part and no query keeps what precedes it", "mw:http://shop.example/products Accept-Language=en", "mw:http://shop.example/products...#"},
		{"a name=value pair is cut at its '='", "session=abc123:cart", "session...#"},
		{"a long key is cut at 96 bytes", strings.Repeat("k", 200), strings.Repeat("k", 96) + "...#"},
		{"a cut never splits a rune", strings.Repeat("k", 95) + "é" + strings.Repeat("k", 10), strings.Repeat("k", 95) + "...#"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := aside.LogKey(tt.key)
			if !strings.HasSuffix(tt.want, "#") {
				require.Equal(t, tt.want, got)
				return
			}
			require.True(t, strings.HasPrefix(got, tt.want), got)
			require.Len(t, got, len(tt.want)+16, "16 hex digits of hash")
		})
	}
	a := aside.LogKey("mw:http://shop.example/products?token=a")
	b := aside.LogKey("mw:http://shop.example/products?token=b")
	require.NotEqual(t, a, b, "the hash tells keys apart")
	require.Equal(t, a, aside.LogKey("mw:http://shop.example/products?token=a"), "and is stable")
}

// lockedBuffer is a log destination for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDebugLogsAreOneLinePerOperationAndNeverShowAQuery drives every
// operation that logs a key with a key carrying a secret in its query.
func TestDebugLogsAreOneLinePerOperationAndNeverShowAQuery(t *testing.T) {
	var out lockedBuffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFaulty(t)
	c := newCache(t, aside.Options{Provider: f, Logger: log, Breaker: aside.Breaker{Disabled: true}})
	ctx := context.Background()
	const secret = "s3cretT0ken"
	key := "mw:http://shop.example/account?api_key=" + secret + " Authorization=Bearer%20" + secret

	_, err := aside.Remember(ctx, c, key, func(context.Context) (string, error) { return "v", nil }) // MISS, SET
	require.NoError(t, err)
	_, err = aside.Remember(ctx, c, key, func(context.Context) (string, error) { return "v", nil }) // HIT
	require.NoError(t, err)
	require.NoError(t, c.InvalidateTags(ctx, "t"))                 // INVALIDATE
	mem := newCache(t, aside.Options{Logger: log})                 // the faulty provider cannot delete by pattern
	_, err = mem.InvalidatePattern(ctx, "mw:*api_key="+secret+"*") // INVALIDATE pattern
	require.NoError(t, err)
	require.NoError(t, c.Delete(ctx, key)) // DELETE
	f.fail.Store(true)
	_, _, err = aside.Get[string](ctx, c, key) // a failing read: a warning
	require.NoError(t, err)
	err = aside.Set(ctx, c, key, "v") // a failing write: a warning and an error
	require.Error(t, err)
	require.NotContains(t, err.Error(), secret)
	f.fail.Store(false)
	_, err = aside.Remember(ctx, c, key, func(context.Context) (string, error) { return "", errors.New("db down") })
	require.Error(t, err)

	logged := out.String()
	require.NotContains(t, logged, secret)
	require.NotContains(t, logged, "Authorization=")
	for _, op := range []string{"cache MISS", "cache SET", "cache HIT", "cache INVALIDATE", "cache INVALIDATE pattern", "cache DELETE", "cache GET failed", "cache SET failed"} {
		require.Contains(t, logged, "msg=\""+op, "no %q line in\n%s", op, logged)
	}
	require.Equal(t, 1, strings.Count(logged, "msg=\"cache HIT\""), "one line per operation")
	require.Contains(t, logged, "key=mw:http://shop.example/account...#")
}
