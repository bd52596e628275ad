package memory

import (
	"context"
	"sync"

	"github.com/aside-go/aside/provider"
)

// SubscriptionBuffer is how many messages a subscription holds for a
// receiver that has not read them yet. A Publish that finds it full breaks
// that subscription (its Messages channel is closed) instead of blocking or
// dropping the message, as Redis does with a client over its pub/sub output
// buffer limit.
const SubscriptionBuffer = 1024

// bus is the in-process fan-out behind Publish and Subscribe. Its zero value
// is ready; one mutex orders every Publish against every other, so all
// subscriptions of a channel see the same order.
type bus struct {
	mu     sync.Mutex
	closed bool
	subs   map[string]map[*subscription]struct{}
}

// subscription is one Subscribe's; its channel is closed exactly once, under
// bus.mu, by whichever of Close, an overflowing Publish or the provider's
// Close comes first.
type subscription struct {
	b       *bus
	channel string
	ch      chan []byte
	done    bool // guarded by b.mu
}

// Publish delivers a copy of msg to every subscription of channel, in
// process order, and reports how many it reached. A subscription whose
// buffer is full is broken, not counted, and never blocks the publisher.
func (p *Provider) Publish(ctx context.Context, channel string, msg []byte) (int64, error) {
	if err := p.check(ctx); err != nil {
		return 0, err
	}
	b := &p.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, provider.ErrClosed
	}
	var n int64
	for s := range b.subs[channel] {
		select {
		case s.ch <- append([]byte(nil), msg...):
			n++
		default:
			b.drop(s)
		}
	}
	return n, nil
}

// Subscribe subscribes to channel; in process, it is confirmed at once.
func (p *Provider) Subscribe(ctx context.Context, channel string) (provider.Subscription, error) {
	if err := p.check(ctx); err != nil {
		return nil, err
	}
	b := &p.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, provider.ErrClosed
	}
	s := &subscription{b: b, channel: channel, ch: make(chan []byte, SubscriptionBuffer)}
	if b.subs == nil {
		b.subs = map[string]map[*subscription]struct{}{}
	}
	if b.subs[channel] == nil {
		b.subs[channel] = map[*subscription]struct{}{}
	}
	b.subs[channel][s] = struct{}{}
	return s, nil
}

func (s *subscription) Messages() <-chan []byte { return s.ch }

func (s *subscription) Close() error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.drop(s)
	return nil
}

// drop ends s; b.mu must be held.
func (b *bus) drop(s *subscription) {
	if s.done {
		return
	}
	s.done = true
	close(s.ch)
	delete(b.subs[s.channel], s)
	if len(b.subs[s.channel]) == 0 {
		delete(b.subs, s.channel)
	}
}

// close ends every subscription; later calls fail with ErrClosed.
func (b *bus) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, m := range b.subs {
		for s := range m {
			b.drop(s)
		}
	}
}
