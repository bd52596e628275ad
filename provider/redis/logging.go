package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Logger carries go-redis's own log lines to a *slog.Logger.
//
// go-redis v9 logs (a failed dial, a connection its pool could not use) through
// one process-wide logger, set with redis.SetLogger, that writes to standard
// error by default; it has no per-client logger. The provider never sets it:
// doing so from a constructor would change the logging of every go-redis
// client in the program behind its author's back. A program sets it once, at
// its edge, in main:
//
//	goredis.SetLogger(redis.NewLogger(logger))
//
// aside.FromEnv does this for REDIS_URL, with the logger LOG_LEVEL selects,
// so that go-redis is as quiet as the cache when LOG_LEVEL is unset.
type Logger struct {
	l *slog.Logger
}

// NewLogger returns a Logger that writes go-redis's lines to l at level
// Warn, or drops them when l is nil. go-redis's lines hold addresses and
// Redis's replies, never a password.
func NewLogger(l *slog.Logger) *Logger { return &Logger{l: l} }

// Printf implements go-redis's logging interface (redis.SetLogger).
func (g *Logger) Printf(ctx context.Context, format string, v ...any) {
	if g.l == nil || !g.l.Enabled(ctx, slog.LevelWarn) {
		return
	}
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	g.l.LogAttrs(ctx, slog.LevelWarn, msg, slog.String("component", "go-redis"))
}
