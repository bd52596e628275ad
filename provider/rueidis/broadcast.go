package rueidis

import (
	"context"
	"errors"
	"sync"

	rue "github.com/redis/rueidis"

	"github.com/aside-go/aside/provider"
)

var _ provider.Broadcaster = (*Provider)(nil)

// Publish sends msg on channel: PUBLISH, or SPUBLISH on a Cluster (the node
// owning the channel's slot), under Options.Timeout.
func (p *Provider) Publish(ctx context.Context, channel string, msg []byte) (int64, error) {
	m := string(msg) // the command may outlive the call (see do)
	return do(p, ctx, p.o.Timeout, "publish", func(ctx context.Context, c rue.Client) (int64, error) {
		if c.Mode() == rue.ClientModeCluster {
			return c.Do(ctx, c.B().Spublish().Channel(channel).Message(m).Build()).AsInt64()
		}
		return c.Do(ctx, c.B().Publish().Channel(channel).Message(m).Build()).AsInt64()
	})
}

// Subscribe subscribes to channel on a dedicated connection (SUBSCRIBE, or
// SSUBSCRIBE on a Cluster, on the node owning the channel's slot) and
// returns once Redis confirmed it, waiting at most Options.Timeout.
//
// It uses rueidis's pub/sub hooks on a dedicated connection, never
// Client.Receive's retry loop: when the connection breaks, or the server
// unsubscribes it (a Cluster slot that moved), the subscription ends and
// its Messages channel is closed; the connection is closed, not put back in
// rueidis's pool. A receiver that stops reading stalls the connection until
// Redis's client-output-buffer-limit for pub/sub disconnects it.
func (p *Provider) Subscribe(ctx context.Context, channel string) (provider.Subscription, error) {
	// Not through do: a subscription made on a goroutine that do stopped
	// waiting for would be left open. subscribe itself returns at ctx's end.
	if p.closed.Load() {
		return nil, errClosed
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	c, err := p.client(ctx)
	if err != nil {
		return nil, fail(ctx, "subscribe", err)
	}
	// rueidis may hold a dedicated connection's set-up or its teardown on a
	// frozen Redis past ctx's end (its dial and write timeouts): subscribe
	// runs on a goroutine the caller stops waiting for at ctx's end, which
	// closes what it made, and Close waits for it.
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return nil, errClosed
	}
	p.subscribing.Add(1)
	p.mu.Unlock()
	type made struct {
		s   *subscription
		err error
	}
	done := make(chan made)
	abandoned := make(chan struct{})
	go func() {
		defer p.subscribing.Done()
		s, err := subscribe(ctx, c, channel, &p.subscribing)
		select {
		case done <- made{s, err}:
		case <-abandoned:
			if s != nil {
				_ = s.Close()
			}
		}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fail(ctx, "subscribe", r.err)
		}
		return r.s, nil
	case <-ctx.Done():
		close(abandoned)
		return nil, fail(ctx, "subscribe", ctx.Err())
	}
}

// subscription is a Subscribe's. rueidis calls the hooks on the
// connection's reading goroutine, one at a time; onMessage blocks it until
// the receiver takes the message or the subscription stops.
type subscription struct {
	dc       rue.DedicatedClient
	release  func()
	channel  string
	ch       chan []byte
	stop     chan struct{} // closed once, by Close or a server unsubscribe
	stopOnce sync.Once
	ok       chan struct{} // closed on the subscription's confirmation
	okOnce   sync.Once
}

// subscribe makes a subscription; its teardown goroutine counts in wg.
func subscribe(ctx context.Context, c rue.Client, channel string, wg *sync.WaitGroup) (*subscription, error) {
	dc, release := c.Dedicate()
	s := &subscription{dc: dc, release: release, channel: channel, ch: make(chan []byte, 256),
		stop: make(chan struct{}), ok: make(chan struct{})}
	errs := dc.SetPubSubHooks(rue.PubSubHooks{OnMessage: s.onMessage, OnSubscription: s.onSubscription})
	var err error
	if c.Mode() == rue.ClientModeCluster {
		err = dc.Do(ctx, dc.B().Ssubscribe().Channel(channel).Build()).Error()
	} else {
		err = dc.Do(ctx, dc.B().Subscribe().Channel(channel).Build()).Error()
	}
	if err == nil {
		select {
		case <-s.ok:
		case e, open := <-errs:
			err = e
			if !open || err == nil {
				err = errors.New("the connection ended before the subscription was confirmed")
			}
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		s.halt()
		dc.Close()
		release()
		return nil, err
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.watch(errs)
	}()
	return s, nil
}

func (s *subscription) onSubscription(m rue.PubSubSubscription) {
	if m.Channel != s.channel {
		return
	}
	switch m.Kind {
	case "subscribe", "ssubscribe":
		s.okOnce.Do(func() { close(s.ok) })
	default:
		s.halt() // the server unsubscribed us: the stream has a gap from here
	}
}

func (s *subscription) onMessage(m rue.PubSubMessage) {
	select {
	case <-s.stop:
		return
	default:
	}
	select {
	case s.ch <- []byte(m.Message):
	case <-s.stop:
	}
}

func (s *subscription) halt() { s.stopOnce.Do(func() { close(s.stop) }) }

// watch ends the subscription when rueidis reports the connection gone or
// the subscription stops, and closes Messages once rueidis promises that
// no hook runs any more (its error channel is closed).
func (s *subscription) watch(errs <-chan error) {
	select {
	case <-errs:
	case <-s.stop:
	}
	s.halt()
	s.dc.Close()
	s.release()
	for range errs {
	}
	close(s.ch)
}

func (s *subscription) Messages() <-chan []byte { return s.ch }

// Close stops delivery at once and leaves the teardown to the subscription's
// goroutine: rueidis's close of a connection waits up to a second for a
// frozen Redis to answer a PING. Messages is closed when it is done; the
// Provider's Close waits for it when the Provider owns the client.
func (s *subscription) Close() error {
	s.halt()
	return nil
}
