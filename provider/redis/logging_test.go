package redis_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider/redis"
)

// lockedBuffer is a bytes.Buffer safe for go-redis's background goroutines.
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

func TestLoggerWritesGoRedisLinesAtWarn(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		level slog.Level
		want  string
	}{
		{"a logger at debug gets the line as a warning", slog.LevelDebug,
			`level=WARN msg="connection pool: failed to dial after 1 attempts: refused" component=go-redis`},
		{"a logger at warn gets it", slog.LevelWarn, "level=WARN"},
		{"a logger at error drops it", slog.LevelError, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf lockedBuffer
			l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level}))
			redis.NewLogger(l).Printf(ctx, "redis: connection pool: failed to dial after %d attempts: %v", 1, "refused")
			if got := buf.String(); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Fatalf("logged %q, want a line containing %q", got, tc.want)
			}
		})
	}
	t.Run("a nil logger drops everything", func(t *testing.T) {
		redis.NewLogger(nil).Printf(ctx, "redis: %s", "anything")
	})
}

// Through go-redis's process-wide logger, as a program's main sets it, a
// failed dial reaches the slog logger instead of standard error.
func TestLoggerReceivesGoRedisDialFailures(t *testing.T) {
	var buf lockedBuffer
	goredis.SetLogger(redis.NewLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	t.Cleanup(func() { goredis.SetLogger(redis.NewLogger(nil)) })

	s := ownServer(t)
	addr := s.Addr()
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	p, err := redis.NewFromURL("redis://"+addr, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Get(ctxFor(t), "k"); err == nil {
		t.Fatal("Get succeeded on a stopped server")
	}
	if got := buf.String(); !strings.Contains(got, "failed to dial") || !strings.Contains(got, addr) {
		t.Fatalf("the slog logger got %q; want go-redis's failed dial to %s", got, addr)
	}
}
