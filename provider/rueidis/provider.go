package rueidis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	rue "github.com/redis/rueidis"

	"github.com/aside-go/aside/provider"
)

var (
	_ provider.Provider       = (*Provider)(nil)
	_ provider.Batcher        = (*Provider)(nil)
	_ provider.MultiAdder     = (*Provider)(nil)
	_ provider.PatternDeleter = (*Provider)(nil)
	_ provider.Counter        = (*Provider)(nil)
)

// Provider is a provider.Provider over a rueidis client. Build one with
// [New], [NewFromURL], [NewCluster] or [FromURL]. All methods are safe for
// concurrent use.
type Provider struct {
	o Options

	// c is the client once there is one: at once for New, after the first
	// successful connection for the URL constructors (rueidis connects in
	// NewClient, and a Redis that is down at start must not fail ours).
	c atomic.Pointer[rue.Client]

	// own is true when Close closes the client.
	own bool

	// slots holds one token per command handed to rueidis and not yet
	// answered (see Options.MaxInFlight).
	slots chan struct{}

	closed atomic.Bool
	done   chan struct{} // closed by Close

	// troubleUntil is when, in Unix nanoseconds, the provider stops running
	// calls on goroutines of their own (see do); troubleFor is how long
	// after a call gave up on Redis: long enough for rueidis to have either
	// received the replies of every command abandoned before, or dropped
	// their connection (its ping interval plus ConnWriteTimeout).
	troubleUntil atomic.Int64
	troubleFor   time.Duration

	// mu guards dialing and orders it against Close.
	mu      sync.Mutex
	opt     rue.ClientOption // how to build the client; unused for New
	dialing *attempt         // the connection attempt running, if any
	dialers sync.WaitGroup   // attempts Close waits for

	// subscribing counts the Subscribe calls still setting up a
	// subscription (see Subscribe); Close waits for them.
	subscribing sync.WaitGroup
}

// attempt is one rueidis.NewClient call, shared by the calls that wait for
// it.
type attempt struct {
	done chan struct{}
	err  error
}

// New returns a Provider over client, a rueidis.Client to one server, a
// Sentinel-managed master or a Redis Cluster (whatever rueidis.NewClient
// built). New sends nothing to Redis; call Ping to check the connection.
//
// Every call returns by Options.Timeout, whatever the client's options. What
// the provider cannot choose for a client it did not build: how fast rueidis
// gives up on a hung connection (ConnWriteTimeout, 10 s by default, after
// its ping interval, Dialer.KeepAlive, 1 s by default; the provider assumes
// these defaults or shorter, see do), and whether it retries a failed read
// (set DisableRetry, as the URL constructors do, to fail fast). A client
// whose RingScaleEachConn is below rueidis's default of 10 needs
// Options.MaxInFlight below half its ring (2^RingScaleEachConn/2)
// for the bound to hold on a hung Redis. The provider never uses
// client-side caching, so DisableCache may be set.
//
// The client stays the caller's: Close leaves it open unless
// Options.CloseClient is set.
func New(client rue.Client, o Options) (*Provider, error) {
	if client == nil {
		return nil, ErrNilClient
	}
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	p := &Provider{o: o, own: o.CloseClient, slots: make(chan struct{}, o.MaxInFlight), done: make(chan struct{}),
		troubleFor: callersTroubleFor}
	p.c.Store(&client)
	return p, nil
}

// callersTroubleFor is troubleFor for a client given to New, whose settings
// the provider cannot read: rueidis's default ping interval (1 s) plus its
// default ConnWriteTimeout (10 s), plus a second.
const callersTroubleFor = 12 * time.Second

// newLazy returns a Provider that builds its client from opt on first use.
func newLazy(opt rue.ClientOption, o Options) *Provider {
	return &Provider{o: o, own: true, opt: opt, slots: make(chan struct{}, o.MaxInFlight), done: make(chan struct{}),
		troubleFor: opt.Dialer.KeepAlive + opt.ConnWriteTimeout + time.Second}
}

// client returns the rueidis client, connecting first if there is none yet.
// It waits for the connection at most until ctx ends; the attempt goes on
// in the background (bounded by the dial timeout) and the next call uses
// it or starts another.
func (p *Provider) client(ctx context.Context) (rue.Client, error) {
	if c := p.c.Load(); c != nil {
		return *c, nil
	}
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return nil, rue.ErrClosing
	}
	if c := p.c.Load(); c != nil {
		p.mu.Unlock()
		return *c, nil
	}
	a := p.dialing
	if a == nil {
		a = &attempt{done: make(chan struct{})}
		p.dialing = a
		p.dialers.Add(1)
		go p.connect(a)
	}
	p.mu.Unlock()
	select {
	case <-a.done:
		if c := p.c.Load(); c != nil {
			return *c, nil
		}
		return nil, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// connect runs one connection attempt.
func (p *Provider) connect(a *attempt) {
	defer p.dialers.Done()
	c, err := rue.NewClient(p.opt)
	p.mu.Lock()
	switch {
	case err != nil:
		// A standalone client is returned along with its failed first dial;
		// the next call tries afresh.
		if c != nil {
			c.Close()
		}
		a.err = err
	case p.closed.Load():
		c.Close()
		a.err = rue.ErrClosing
	default:
		p.c.Store(&c)
	}
	p.dialing = nil
	p.mu.Unlock()
	close(a.done)
}

// Ping checks that Redis answers (on a Cluster, a node rueidis picks).
func (p *Provider) Ping(ctx context.Context) error {
	_, err := do(p, ctx, p.o.Timeout, "ping", func(ctx context.Context, c rue.Client) (struct{}, error) {
		return struct{}{}, c.Do(ctx, c.B().Ping().Build()).Error()
	})
	return err
}

// Close marks the provider closed and, if it owns its client, closes it and
// waits for the commands still running on it to end (closing the client
// ends them at once). It is idempotent.
func (p *Provider) Close() error {
	p.mu.Lock()
	first := p.closed.CompareAndSwap(false, true)
	p.mu.Unlock()
	if !first {
		return nil
	}
	close(p.done)
	p.dialers.Wait()
	if !p.own {
		return nil
	}
	if c := p.c.Load(); c != nil {
		(*c).Close()
	}
	p.subscribing.Wait()
	// Every command holds a slot until rueidis returns it: taking them all
	// waits for the last one.
	for range cap(p.slots) {
		p.slots <- struct{}{}
	}
	return nil
}

// noCancel is returned by bound when no new context was made.
func noCancel() {}

// bound returns ctx limited to d from now, with the cancel func to call when
// the call ends, or ctx itself when it already ends at least that soon. It
// fails when ctx is already done, so that no command is sent.
func (p *Provider) bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc, error) {
	if err := ctxErr(ctx); err != nil {
		return ctx, noCancel, fmt.Errorf("aside: rueidis: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, noCancel, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, nil
}

type result[T any] struct {
	v   T
	err error
}

// do is one provider call: it bounds ctx by d, takes an in-flight slot, runs
// fn and maps its error for op. fn must not use memory the caller may reuse
// after the call returns (rueidis may still hold a command the caller gave
// up on).
//
// Normally fn runs on the caller's goroutine with the bounded context, which
// rueidis honours: it stops waiting for the reply when the context ends. One
// wait of rueidis ignores the context: a command that finds the ring of its
// connection full (1024 commands, counting those whose callers gave up)
// waits for a free place until the connection answers or is dropped. So
// once a call has given up on Redis, the provider is "troubled" for a while
// (see troubleFor) and runs each call on a goroutine of its own instead: the
// caller waits on a channel it leaves when its context ends, and the
// goroutine gives rueidis a context that never ends (see detached), so that
// rueidis keeps the command until the reply or the connection's end rather
// than abandoning it, and gives its slot back only then. The slots therefore
// count every command rueidis holds for the provider, except those
// abandoned before the trouble began, which were at most MaxInFlight: the
// ring never holds more than 2 x MaxInFlight of them, below its 1024. The
// goroutine costs a serial call about as much as the round trip itself on a
// loaded 2-core machine, which is why it is not the normal path.
func do[T any](p *Provider, ctx context.Context, d time.Duration, op string, fn func(context.Context, rue.Client) (T, error)) (T, error) {
	var zero T
	if p.closed.Load() {
		return zero, errClosed
	}
	ctx, cancel, err := p.bound(ctx, d)
	if err != nil {
		return zero, err
	}
	defer cancel()
	c, err := p.client(ctx)
	if err != nil {
		return zero, fail(ctx, op, err)
	}
	select {
	case p.slots <- struct{}{}:
	default:
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			p.troubled()
			return zero, fail(ctx, op, ctx.Err())
		case <-p.done:
			return zero, errClosed
		}
	}
	if p.closed.Load() {
		<-p.slots
		return zero, errClosed
	}
	if time.Now().UnixNano() >= p.troubleUntil.Load() {
		v, err := fn(ctx, c)
		if err != nil && ctxErr(ctx) != nil {
			// Before the slot is given back, so that no call takes it and
			// this path before the provider is troubled.
			p.troubled()
		}
		<-p.slots
		if err != nil {
			return zero, fail(ctx, op, err)
		}
		return v, nil
	}
	ch := make(chan result[T], 1)
	go func() {
		v, err := fn(detached{ctx}, c)
		<-p.slots
		ch <- result[T]{v, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return zero, fail(ctx, op, r.err)
		}
		return r.v, nil
	case <-ctx.Done():
		p.troubled()
		return zero, fail(ctx, op, ctx.Err())
	}
}

// detached is a context with the deadline and values of its parent that is
// never done. rueidis, given it, keeps a queued command until the reply or
// the connection's end rather than abandoning it when the deadline passes,
// but still bounds by the deadline what it does itself on the caller's
// behalf: a dial and its handshake (which other calls may be waiting on),
// and the socket wait of a command sent on an idle connection.
type detached struct{ parent context.Context }

func (d detached) Deadline() (time.Time, bool) { return d.parent.Deadline() }
func (detached) Done() <-chan struct{}         { return nil }
func (detached) Err() error                    { return nil }
func (d detached) Value(key any) any           { return d.parent.Value(key) }

// troubled records that a call gave up on Redis: for troubleFor from now,
// calls run on goroutines of their own (see do).
func (p *Provider) troubled() {
	until := time.Now().Add(p.troubleFor).UnixNano()
	for {
		cur := p.troubleUntil.Load()
		if cur >= until || p.troubleUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}
