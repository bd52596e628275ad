package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider"
)

var _ provider.Broadcaster = (*Provider)(nil)

// errNoPubSub is Publish's and Subscribe's error on a *redis.Ring: a Ring
// routes each channel by its own hashing, which other clients of the same
// servers need not share, so it cannot promise that every process meets on
// one server.
var errNoPubSub = fmt.Errorf("%w: pub/sub over a redis.Ring", provider.ErrNotSupported)

// Publish sends msg on channel: PUBLISH, or SPUBLISH on a Cluster (the node
// owning the channel's slot), under Options.Timeout.
func (p *Provider) Publish(ctx context.Context, channel string, msg []byte) (int64, error) {
	if p.closed.Load() {
		return 0, errClosed
	}
	if _, ring := p.c.(*goredis.Ring); ring {
		return 0, errNoPubSub
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return 0, err
	}
	defer cancel()
	publish := func(ctx context.Context, msg []byte) (int64, error) {
		if p.sharded {
			return p.c.SPublish(ctx, channel, msg).Result()
		}
		return p.c.Publish(ctx, channel, msg).Result()
	}
	var n int64
	if p.watch {
		m := append([]byte(nil), msg...)
		n, err = watch(p, ctx, func(ctx context.Context) (int64, error) { return publish(ctx, m) })
	} else {
		n, err = publish(ctx, msg)
	}
	if err != nil {
		return 0, fail(ctx, "publish", err)
	}
	return n, nil
}

// Subscribe subscribes to channel on a connection of its own (SUBSCRIBE, or
// SSUBSCRIBE on a Cluster, on the node owning the channel's slot) and
// returns once Redis confirmed it, waiting at most Options.Timeout.
//
// The subscription reads its connection with go-redis's low-level Receive,
// not PubSub.Channel: on a broken connection Channel reconnects and
// resubscribes by itself, silently losing what was published meanwhile,
// and drops a message its reader has not taken within a minute. Here the
// first error, or an unsubscribe notice from the server (a Cluster slot
// that moved), ends the subscription and closes its Messages channel. A
// receiver that stops reading stalls the connection until Redis's
// client-output-buffer-limit for pub/sub disconnects it.
func (p *Provider) Subscribe(ctx context.Context, channel string) (provider.Subscription, error) {
	if p.closed.Load() {
		return nil, errClosed
	}
	var ps *goredis.PubSub
	switch c := p.c.(type) {
	case *goredis.Ring:
		return nil, errNoPubSub
	case *goredis.ClusterClient:
		ps = c.SSubscribe(context.WithoutCancel(ctx))
	default:
		ps = p.c.Subscribe(context.WithoutCancel(ctx))
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		_ = ps.Close()
		return nil, err
	}
	defer cancel()
	s := &subscription{ps: ps, ch: make(chan []byte, 256), done: make(chan struct{})}
	// go-redis applies ctx's deadline to the socket only with
	// ContextTimeoutEnabled; without it a frozen Redis holds the connection's
	// set-up and the confirmation for the client's ReadTimeout (and the
	// PubSub's lock with them, so even Close waits). The confirmation then
	// runs on a goroutine the caller stops waiting for at ctx's end, as
	// watch does for commands; it closes what it made, and Close waits for it.
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		_ = ps.Close()
		return nil, errClosed
	}
	p.inflight.Add(1)
	p.mu.Unlock()
	confirmed := make(chan error)
	abandoned := make(chan struct{})
	go func() {
		defer p.inflight.Done()
		err := s.confirm(ctx, channel, p.sharded)
		select {
		case confirmed <- err:
		case <-abandoned:
			_ = ps.Close()
		}
	}()
	select {
	case err = <-confirmed:
	case <-ctx.Done():
		close(abandoned)
		return nil, fail(ctx, "subscribe", ctx.Err())
	}
	if err != nil {
		_ = ps.Close()
		return nil, fail(ctx, "subscribe", err)
	}
	// The subscription's reads are bounded by nothing but Close: its
	// context is cancelled by Close, and Close closes the connection a
	// blocked read is waiting on.
	rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx))
	s.cancel = rcancel
	s.wg.Add(1)
	go s.read(rctx)
	return s, nil
}

// subscription is a Subscribe's: one goroutine reads ps and feeds ch.
type subscription struct {
	ps     *goredis.PubSub
	ch     chan []byte
	done   chan struct{} // closed by Close
	cancel context.CancelFunc
	once   sync.Once
	wg     sync.WaitGroup
}

// confirm sends the (S)SUBSCRIBE and waits for Redis's confirmation.
func (s *subscription) confirm(ctx context.Context, channel string, sharded bool) error {
	var err error
	if sharded {
		err = s.ps.SSubscribe(ctx, channel)
	} else {
		err = s.ps.Subscribe(ctx, channel)
	}
	if err != nil {
		return err
	}
	for {
		m, err := s.ps.Receive(ctx)
		if err != nil {
			return err
		}
		switch m := m.(type) {
		case *goredis.Subscription:
			if (m.Kind == "subscribe" || m.Kind == "ssubscribe") && m.Channel == channel {
				return nil
			}
			return fmt.Errorf("unexpected %s of %q while subscribing", m.Kind, m.Channel)
		case *goredis.Pong:
			// A reply to someone's PING: keep waiting.
		default:
			return errors.New("a message arrived before the subscription was confirmed")
		}
	}
}

// read delivers messages until the first error or unsubscribe notice, then
// closes the PubSub (before go-redis's own reconnection can deliver
// anything on a new connection) and the Messages channel.
func (s *subscription) read(ctx context.Context) {
	defer s.wg.Done()
	defer close(s.ch)
	defer func() { _ = s.ps.Close() }()
	for {
		m, err := s.ps.Receive(ctx)
		if err != nil {
			return
		}
		switch m := m.(type) {
		case *goredis.Message:
			select {
			case s.ch <- []byte(m.Payload):
			case <-s.done:
				return
			}
		case *goredis.Subscription:
			if m.Kind != "subscribe" && m.Kind != "ssubscribe" {
				return // the server unsubscribed us
			}
		}
	}
}

func (s *subscription) Messages() <-chan []byte { return s.ch }

// Close cancels the reader's context and closes the connection under it,
// which ends a blocked read at once; it waits for the reader to return.
func (s *subscription) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.cancel()
		_ = s.ps.Close()
	})
	s.wg.Wait()
	return nil
}
