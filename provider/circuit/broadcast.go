package circuit

import (
	"context"
	"fmt"

	"github.com/aside-go/aside/provider"
)

var _ provider.Broadcaster = (*guarded)(nil)

var errNoBroadcast = fmt.Errorf("%w: the wrapped provider is not a provider.Broadcaster", provider.ErrNotSupported)

// Publish is the wrapped provider's, through the breaker, or
// provider.ErrNotSupported.
func (g *guarded) Publish(ctx context.Context, channel string, msg []byte) (n int64, err error) {
	if err := g.check(ctx); err != nil {
		return 0, err
	}
	b, ok := g.p.(provider.Broadcaster)
	if !ok {
		return 0, errNoBroadcast
	}
	err = g.b.do(ctx, func() error {
		n, err = b.Publish(ctx, channel, msg)
		return err
	})
	return n, err
}

// Subscribe is the wrapped provider's, through the breaker, or
// provider.ErrNotSupported. Only the call that subscribes is judged: the
// subscription's later break (its Messages channel closing) is not a call
// and counts for nothing; the resubscription that follows is judged again.
func (g *guarded) Subscribe(ctx context.Context, channel string) (s provider.Subscription, err error) {
	if err := g.check(ctx); err != nil {
		return nil, err
	}
	b, ok := g.p.(provider.Broadcaster)
	if !ok {
		return nil, errNoBroadcast
	}
	err = g.b.do(ctx, func() error {
		s, err = b.Subscribe(ctx, channel)
		return err
	})
	return s, err
}
