//go:build unix

package rueidis_test

import (
	"context"
	"testing"
	"time"

	"github.com/aside-go/aside/provider/rueidis"
)

// On a frozen Redis (SIGSTOP), Publish and Subscribe return within the
// provider's Timeout, and a subscription made before the freeze neither
// closes nor delivers: it is the caller's heartbeat that must notice
// (package internal/coherence). Closing it does not wait for Redis.
func TestPubSubOnAFrozenRedisIsBounded(t *testing.T) {
	s := ownServer(t)
	p, err := rueidis.NewFromURL("redis://"+s.Addr(), rueidis.Options{Timeout: 200 * time.Millisecond})
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
				_ = s.Close()
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
		// rueidis pings its connections: a frozen server fails the ping
		// after ConnWriteTimeout and the subscription may end; it must
		// not deliver anything.
		if ok {
			t.Fatalf("the old subscription delivered %q while Redis was frozen", m)
		}
	case <-time.After(100 * time.Millisecond):
	}
	began := time.Now()
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > time.Second {
		t.Fatalf("Close of a subscription on a frozen Redis took %v", took)
	}
}
