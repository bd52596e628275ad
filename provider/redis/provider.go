package redis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider"
)

var (
	_ provider.Provider       = (*Provider)(nil)
	_ provider.Batcher        = (*Provider)(nil)
	_ provider.MultiAdder     = (*Provider)(nil)
	_ provider.MultiGetAdder  = (*Provider)(nil)
	_ provider.MultiSwapper   = (*Provider)(nil)
	_ provider.PatternDeleter = (*Provider)(nil)
	_ provider.Counter        = (*Provider)(nil)
)

// Provider is a provider.Provider over a go-redis client. Build one with
// [New], [NewFromURL], [NewCluster] or [FromURL]. All methods are safe for
// concurrent use.
type Provider struct {
	c goredis.UniversalClient
	o Options

	// sharded is true for clients whose keys live on several nodes
	// (*ClusterClient, *Ring): multi-key work goes through a pipeline that
	// go-redis splits per node, never through one multi-key command.
	sharded bool

	// watch is true when the client does not apply a context's deadline to
	// socket I/O (ContextTimeoutEnabled is false, or the client's options
	// are unknown). Each call then runs on its own goroutine and the caller
	// stops waiting when the bounded context ends; see watch.
	watch bool

	closed atomic.Bool

	// mu orders watched calls against Close, so Close can wait for them.
	mu       sync.Mutex
	inflight sync.WaitGroup
}

// New returns a Provider over client: a *redis.Client (standalone or the
// failover client of NewFailoverClient, for Sentinel), a *redis.ClusterClient
// (Redis Cluster, also NewFailoverClusterClient) or a *redis.Ring. New sends
// nothing to Redis; call Ping to check the connection.
//
// Every call runs under a context cancelled at Options.Timeout, which bounds
// go-redis's waits for a pooled connection, for a dial and between retries,
// whatever the client's PoolTimeout and retry settings. The provider never
// changes the client's options; what it cannot bound is the client's:
//
//   - Set ContextTimeoutEnabled: true. go-redis otherwise ignores a
//     context's deadline while it reads or writes the socket, waiting up to
//     the client's ReadTimeout (5 s by default). The Provider still returns
//     at Options.Timeout then, by running each call on a goroutine it stops
//     waiting for (one goroutine and a copy of written values per call), but
//     the abandoned command keeps its pooled connection until ReadTimeout;
//     on a hung Redis, later calls then find no free connection and time out
//     waiting for one.
//   - Set DialerRetries: 1 and MaxRetries: -1 to fail fast on a Redis that
//     is down. With go-redis's defaults (5 dials 100 ms apart, 3 retries
//     with backoff) a call on a refused connection may spend its whole
//     Timeout before it fails.
//
// The client stays the caller's: Close leaves it open unless
// Options.CloseClient is set.
func New(client goredis.UniversalClient, o Options) (*Provider, error) {
	if client == nil {
		return nil, ErrNilClient
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Provider{c: client, o: o, watch: true}
	switch c := client.(type) {
	case *goredis.Client:
		p.watch = !c.Options().ContextTimeoutEnabled
	case *goredis.ClusterClient:
		p.sharded = true
		p.watch = !c.Options().ContextTimeoutEnabled
	case *goredis.Ring:
		p.sharded = true
		p.watch = !c.Options().ContextTimeoutEnabled
	}
	return p, nil
}

// Ping checks that Redis answers (on a Cluster, the node go-redis picks).
func (p *Provider) Ping(ctx context.Context) error {
	if p.closed.Load() {
		return errClosed
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return err
	}
	defer cancel()
	if p.watch {
		_, err = watch(p, ctx, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, p.c.Ping(ctx).Err()
		})
	} else {
		err = p.c.Ping(ctx).Err()
	}
	if err != nil {
		return fail(ctx, "ping", err)
	}
	return nil
}

// Close marks the provider closed, closes the client if the provider owns
// it, and waits for calls still running on the client's behalf (only when
// the client lacks ContextTimeoutEnabled). It is idempotent.
func (p *Provider) Close() error {
	p.mu.Lock()
	first := p.closed.CompareAndSwap(false, true)
	p.mu.Unlock()
	if !first {
		return nil
	}
	var err error
	if p.o.CloseClient {
		err = p.c.Close()
	}
	p.inflight.Wait()
	return err
}

// noCancel is returned by bound when no new context was made.
func noCancel() {}

// bound returns ctx limited to d from now, with the cancel func to call when
// the call ends, or ctx itself when it already ends at least that soon. It
// fails when ctx is already done, so that no command is sent: go-redis would
// otherwise happily run a command under a cancelled context on a pooled
// connection.
//
// The context must be one whose Done channel closes at the deadline, not one
// that merely reports a deadline: go-redis reads the deadline only for socket
// I/O, and waits on Done everywhere else, for a free pooled connection, for a
// dial to finish and between retries. A context without a firing Done lets
// those waits run on to the client's PoolTimeout, whatever the deadline (the
// 2.3 s calls of issue 8 at 128 callers on a frozen server).
func (p *Provider) bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc, error) {
	if err := ctxErr(ctx); err != nil {
		return ctx, noCancel, fmt.Errorf("aside: redis: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, noCancel, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, nil
}

// watch runs fn on its own goroutine and returns its result, or ctx's error
// as soon as ctx ends. It exists for clients that ignore ctx on socket I/O:
// fn then keeps running until the client's own ReadTimeout, but the caller is
// released on time. Close waits for such stragglers. fn must not use memory
// the caller may reuse after the call returns (callers copy values first).
func watch[T any](p *Provider, ctx context.Context, fn func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	var zero T
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return zero, goredis.ErrClosed
	}
	p.inflight.Add(1)
	p.mu.Unlock()
	ch := make(chan result, 1)
	go func() {
		defer p.inflight.Done()
		v, err := fn(ctx)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
