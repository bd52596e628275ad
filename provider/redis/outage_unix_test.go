//go:build unix

package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/redis"
)

// A hung Redis (SIGSTOP: connections open, nothing answered) is where
// ContextTimeoutEnabled matters: without the provider's bound, go-redis would
// wait for its 5 s ReadTimeout.
func TestHungRedisTimesOutThenRecovers(t *testing.T) {
	runOutage(t, (*redistest.Server).Pause, (*redistest.Server).Resume, context.DeadlineExceeded)
}

func TestACallerDeadlineShorterThanTheTimeoutWins(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	s, err := redistest.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := redis.NewFromURL("redis://"+s.Addr(), redis.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Resume() }()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Get(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Get took %v with a 100ms caller deadline and a 5s provider timeout", took)
	}
}
