package providertest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
)

// BroadcastOptions tune RunBroadcaster.
type BroadcastOptions struct {
	// Break breaks every subscription of channel that p's store holds now,
	// as the store would on its own (Redis: CLIENT KILL TYPE pubsub on every
	// node; in process: overflowing the receivers' buffers with Publish).
	// Messages Break publishes itself must not be 8 bytes long (the suite's
	// own are). Nil skips the cases that need it.
	Break func(t testing.TB, p provider.Provider, channel string)
}

// RunBroadcaster checks the provider.Broadcaster ability of the providers
// newProvider returns: delivery in publish order, the receiver count that
// Publish reports, separate channels, any bytes, Close, and — the property
// the near cache rests on — that a broken subscription closes its Messages
// channel after delivering a gapless prefix of what was published, instead
// of reconnecting silently and skipping messages. A provider that is no
// Broadcaster, or answers provider.ErrNotSupported, skips the suite.
func RunBroadcaster(t *testing.T, newProvider func(t *testing.T) provider.Provider, o BroadcastOptions) {
	t.Helper()
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, b provider.Broadcaster, channel string)
	}{
		{"messages arrive in publish order", bcOrder},
		{"Publish counts every subscriber of the channel", bcCount},
		{"a subscription receives only its own channel", bcSeparate},
		{"messages carry any bytes", bcBytes},
		{"Close closes Messages and stops delivery", bcClose},
		{"Subscribe with a done context fails", bcDoneContext},
		{"a broken subscription closes Messages after a gapless prefix", func(t *testing.T, b provider.Broadcaster, ch string) {
			if o.Break == nil {
				t.Skip("no BroadcastOptions.Break for this store")
			}
			bcBreak(t, b, ch, func(t testing.TB) { o.Break(t, b.(provider.Provider), ch) })
		}},
		{"a subscription survives the break of another one and resubscribing works", func(t *testing.T, b provider.Broadcaster, ch string) {
			if o.Break == nil {
				t.Skip("no BroadcastOptions.Break for this store")
			}
			bcResubscribe(t, b, ch, func(t testing.TB) { o.Break(t, b.(provider.Provider), ch) })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvider(t)
			b, ok := p.(provider.Broadcaster)
			if !ok {
				t.Skip("the provider does not implement provider.Broadcaster")
			}
			if _, err := b.Publish(t.Context(), "providertest:probe", nil); errors.Is(err, provider.ErrNotSupported) {
				t.Skip("the provider answers provider.ErrNotSupported")
			}
			tc.run(t, b, newChannel(t))
		})
	}
	t.Run("after Close of the provider both fail with ErrClosed", func(t *testing.T) {
		p := newProvider(t)
		b, ok := p.(provider.Broadcaster)
		if !ok {
			t.Skip("the provider does not implement provider.Broadcaster")
		}
		if _, err := b.Publish(t.Context(), "providertest:probe", nil); errors.Is(err, provider.ErrNotSupported) {
			t.Skip("the provider answers provider.ErrNotSupported")
		}
		noError(t, p.Close())
		_, err := b.Publish(t.Context(), newChannel(t), []byte("x"))
		errorIs(t, err, provider.ErrClosed, "Publish after Close")
		_, err = b.Subscribe(t.Context(), newChannel(t))
		errorIs(t, err, provider.ErrClosed, "Subscribe after Close")
	})
}

// newChannel is a channel no other test uses (the store may be shared).
func newChannel(t *testing.T) string {
	var b [8]byte
	_, err := rand.Read(b[:])
	noError(t, err)
	return "providertest:bc:" + hex.EncodeToString(b[:])
}

// bcWait bounds every wait of the suite; generous, as a miss is a failure.
const bcWait = 5 * time.Second

func subscribe(t *testing.T, b provider.Broadcaster, ch string) provider.Subscription {
	t.Helper()
	s, err := b.Subscribe(t.Context(), ch)
	noError(t, err, "Subscribe(%q)", ch)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// receive returns the next message, failing after bcWait or on a closed
// channel.
func receive(t *testing.T, s provider.Subscription) []byte {
	t.Helper()
	select {
	case m, ok := <-s.Messages():
		isTrue(t, ok, "Messages was closed while a message was due")
		return m
	case <-time.After(bcWait):
		t.Fatalf("no message within %v", bcWait)
		return nil
	}
}

// requireClosed drains s and fails unless Messages is closed within bcWait.
// It returns what it drained.
func requireClosed(t *testing.T, s provider.Subscription) [][]byte {
	t.Helper()
	var got [][]byte
	deadline := time.After(bcWait)
	for {
		select {
		case m, ok := <-s.Messages():
			if !ok {
				return got
			}
			got = append(got, m)
		case <-deadline:
			t.Fatalf("Messages not closed within %v", bcWait)
		}
	}
}

func seqMsg(i uint64) []byte { return binary.BigEndian.AppendUint64(nil, i) }

func bcOrder(t *testing.T, b provider.Broadcaster, ch string) {
	s := subscribe(t, b, ch)
	const n = 300
	done := make(chan error, 1)
	go func() {
		for i := range uint64(n) {
			if c, err := b.Publish(context.Background(), ch, seqMsg(i)); err != nil || c != 1 {
				done <- errors.Join(err, errors.New("Publish did not report exactly 1 receiver"))
				return
			}
		}
		done <- nil
	}()
	for i := range uint64(n) {
		m := receive(t, s)
		equal(t, seqMsg(i), m, "message %d", i)
	}
	noError(t, <-done)
}

func bcCount(t *testing.T, b provider.Broadcaster, ch string) {
	c, err := b.Publish(t.Context(), ch, []byte("nobody"))
	noError(t, err)
	equal(t, int64(0), c, "Publish on a channel nobody subscribed")
	subs := []provider.Subscription{subscribe(t, b, ch), subscribe(t, b, ch), subscribe(t, b, ch)}
	c, err = b.Publish(t.Context(), ch, []byte("all"))
	noError(t, err)
	equal(t, int64(3), c, "Publish with three subscriptions")
	for _, s := range subs {
		equal(t, []byte("all"), receive(t, s))
	}
}

func bcSeparate(t *testing.T, b provider.Broadcaster, ch string) {
	other := newChannel(t)
	a, o := subscribe(t, b, ch), subscribe(t, b, other)
	_, err := b.Publish(t.Context(), other, []byte("for other"))
	noError(t, err)
	_, err = b.Publish(t.Context(), ch, []byte("for a"))
	noError(t, err)
	equal(t, []byte("for a"), receive(t, a), "the first message on a")
	equal(t, []byte("for other"), receive(t, o))
}

func bcBytes(t *testing.T, b provider.Broadcaster, ch string) {
	s := subscribe(t, b, ch)
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	msgs := [][]byte{{}, all, []byte("\r\n$3\r\n*1\r\n"), bigValue(256 << 10)}
	for _, m := range msgs {
		buf := append([]byte(nil), m...)
		_, err := b.Publish(t.Context(), ch, buf)
		noError(t, err)
		for i := range buf {
			buf[i] = 'X' // the provider must not have kept it
		}
	}
	for _, m := range msgs {
		got := receive(t, s)
		equal(t, len(m), len(got))
		equal(t, m, got)
	}
}

func bcClose(t *testing.T, b provider.Broadcaster, ch string) {
	s := subscribe(t, b, ch)
	noError(t, s.Close())
	noError(t, s.Close(), "a second Close")
	requireClosed(t, s)
	// The store may take a moment to notice a closed connection.
	deadline := time.Now().Add(bcWait)
	for {
		c, err := b.Publish(t.Context(), ch, []byte("after close"))
		noError(t, err)
		if c == 0 {
			return
		}
		isTrue(t, time.Now().Before(deadline), "Publish still reports %d receivers after Close", c)
		time.Sleep(10 * time.Millisecond)
	}
}

func bcDoneContext(t *testing.T, b provider.Broadcaster, ch string) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s, err := b.Subscribe(ctx, ch)
	if err == nil {
		_ = s.Close()
	}
	errorIs(t, err, context.Canceled)
}

// bcBreak publishes a numbered stream while the store breaks the
// subscription: what the subscription delivered before Messages closed
// must be 0, 1, 2... with no gap. An adapter that reconnects silently
// delivers a gap (or never closes).
func bcBreak(t *testing.T, b provider.Broadcaster, ch string, breakAll func(testing.TB)) {
	s := subscribe(t, b, ch)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = b.Publish(context.Background(), ch, seqMsg(i))
			if i%64 == 63 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	first := receive(t, s) // the stream flows
	breakAll(t)
	got := append([][]byte{first}, requireClosed(t, s)...)
	// Keep publishing a little longer: a silently reconnected subscription
	// would deliver these.
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	var i uint64
	for _, m := range got {
		if len(m) != 8 {
			continue // one of Break's own
		}
		equal(t, seqMsg(i), m, "numbered message %d delivered before the break", i)
		i++
	}
	select {
	case _, ok := <-s.Messages():
		isTrue(t, !ok, "a message arrived after Messages was closed")
	default:
		t.Fatal("Messages reopened")
	}
}

func bcResubscribe(t *testing.T, b provider.Broadcaster, ch string, breakAll func(testing.TB)) {
	old := subscribe(t, b, ch)
	breakAll(t)
	requireClosed(t, old)
	s := subscribe(t, b, ch)
	c, err := b.Publish(t.Context(), ch, []byte("again"))
	noError(t, err)
	equal(t, int64(1), c, "Publish after resubscribing")
	equal(t, []byte("again"), receive(t, s))
}
