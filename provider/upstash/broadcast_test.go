package upstash_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

func receive(t *testing.T, s provider.Subscription) ([]byte, bool) {
	t.Helper()
	select {
	case m, ok := <-s.Messages():
		return m, ok
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received within 5 s")
		return nil, false
	}
}

func TestBroadcastDeliversBytesInOrder(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{})
	ctx := ctxFor(t)
	ch := prefix(t) + "near"
	s1, err := p.Subscribe(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := f.provider(t, upstash.Options{}).Subscribe(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()

	f.emu.ResetStats()
	var sent [][]byte
	for i := range 50 {
		// Binary messages with line breaks, commas and NULs survive.
		m := fmt.Appendf(nil, "%d\n,\x00\xff\r\n%s", i, bytes.Repeat([]byte{byte(i)}, i*7))
		n, err := p.Publish(ctx, ch, m)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("Publish reached %d subscribers, want 2", n)
		}
		sent = append(sent, m)
	}
	for _, s := range []provider.Subscription{s1, s2} {
		for i, want := range sent {
			got, ok := receive(t, s)
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("message %d: got %q (open %v), want %q", i, got, ok, want)
			}
		}
	}
	if st := f.emu.Stats(); st.Commands != 50 || st.CommandsByName["publish"] != 50 {
		t.Fatalf("billed %d commands (%v), want 50 PUBLISH", st.Commands, st.CommandsByName)
	}
	// Another client's message that is not base64 is skipped, not delivered garbled.
	if err := f.rdb.Publish(ctx, ch, "not base64 !").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(ctx, ch, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if got, _ := receive(t, s1); string(got) != "after" {
		t.Fatalf("got %q after a foreign message, want %q", got, "after")
	}
}

func TestSubscriptionClosesWhenItsStreamBreaks(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{})
	ctx := ctxFor(t)
	ch := prefix(t) + "near"
	s, err := p.Subscribe(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The emulator's Redis subscription is killed: the stream ends, and
	// the subscription must say so rather than resubscribe quietly.
	if err := f.rdb.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	if m, ok := receive(t, s); ok {
		t.Fatalf("received %q after the subscription broke", m)
	}

	// Close closes Messages too, and is idempotent; so does Provider.Close.
	s2, err := p.Subscribe(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-s2.Messages(); ok {
		t.Fatal("Messages open after Close")
	}
	_ = s2.Close()
	s3, err := p.Subscribe(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	if _, ok := receive(t, s3); ok {
		t.Fatal("Messages open after the provider closed")
	}
	if _, err := p.Subscribe(ctx, ch); !errors.Is(err, provider.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
}

func TestSubscribeIsBoundedByItsContext(t *testing.T) {
	f := newFixture(t, emulator.Options{Faults: emulator.Faults{Latency: time.Second}})
	p := f.provider(t, upstash.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Subscribe(ctx, prefix(t)+"near")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Subscribe to a hung server: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Subscribe returned after %v with a 150 ms context", d)
	}
}

func TestSubscribeRejectedTokenIsNamed(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p, err := upstash.New(f.url, "AXwrong-secret-token", upstash.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Subscribe(ctxFor(t), "c")
	if !errors.Is(err, upstash.ErrUnauthorized) {
		t.Fatalf("got %v", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte("AXwrong-secret-token")) {
		t.Fatal("the token is in the error")
	}
}
