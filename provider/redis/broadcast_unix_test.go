//go:build unix

package redis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider/redis"
)

// On a frozen Redis (SIGSTOP), Publish and Subscribe return within the
// provider's Timeout, with or without ContextTimeoutEnabled, and a
// subscription made before the freeze neither closes nor delivers: it is
// the caller's heartbeat that must notice (package internal/coherence).
func TestPubSubOnAFrozenRedisIsBounded(t *testing.T) {
	for _, cto := range []bool{true, false} {
		t.Run(map[bool]string{true: "ContextTimeoutEnabled", false: "without ContextTimeoutEnabled"}[cto], func(t *testing.T) {
			s := ownServer(t)
			c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), ContextTimeoutEnabled: cto, DialerRetries: 1, MaxRetries: -1})
			p, err := redis.New(c, redis.Options{Timeout: 200 * time.Millisecond, CloseClient: true})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			sub, err := p.Subscribe(t.Context(), "frozen")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Pause(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Resume() }()
			for name, call := range map[string]func() error{
				"Publish": func() error { _, err := p.Publish(context.Background(), "frozen", []byte("m")); return err },
				"Subscribe": func() error {
					s, err := p.Subscribe(context.Background(), "frozen2")
					if err == nil {
						s.Close()
					}
					return err
				},
			} {
				began := time.Now()
				if err := call(); err == nil {
					t.Fatalf("%s on a frozen Redis succeeded", name)
				}
				if took := time.Since(began); took > time.Second {
					t.Fatalf("%s took %v with a 200ms Timeout", name, took)
				}
			}
			select {
			case m, ok := <-sub.Messages():
				t.Fatalf("the old subscription delivered %q (open %v) while Redis was frozen", m, ok)
			case <-time.After(100 * time.Millisecond):
			}
			began := time.Now()
			if err := sub.Close(); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(began); took > time.Second {
				t.Fatalf("Close of a subscription on a frozen Redis took %v", took)
			}
		})
	}
}
