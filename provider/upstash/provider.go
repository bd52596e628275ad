package upstash

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/provider"
)

var (
	_ provider.Provider       = (*Provider)(nil)
	_ provider.Batcher        = (*Provider)(nil)
	_ provider.MultiAdder     = (*Provider)(nil)
	_ provider.PatternDeleter = (*Provider)(nil)
	_ provider.Counter        = (*Provider)(nil)
	_ provider.Meter          = (*Provider)(nil)
)

// Provider is a provider.Provider over the Upstash Redis REST API. Make one
// with [New]. All methods are safe for concurrent use.
type Provider struct {
	o      Options
	base   string // scheme://host/path, no trailing slash
	auth   string // the Authorization header value
	client *http.Client
	own    *http.Transport // the transport New built, closed by Close; nil for Options.HTTPClient

	// life is cancelled by Close: requests in flight and retry backoffs
	// end with it.
	life context.Context
	stop context.CancelFunc

	mu       sync.Mutex
	closed   atomic.Bool // set under mu
	queue    []*call     // commands waiting for a request, oldest first
	inflight int         // sender goroutines, at most Options.MaxInFlight
	timer    *time.Timer // BatchWait's, when armed
	senders  sync.WaitGroup

	syncToken atomic.Pointer[string] // the latest upstash-sync-token seen

	cas, setMulti, addMulti, getAdd, casMulti *script

	stats counters
}

// New returns a Provider for the database at restURL (the REST URL of the
// Upstash console, https://<name>.upstash.io) with its REST token (the
// standard one: the read-only token cannot write). Nothing is sent until
// the first call; Ping checks the URL and the token.
//
// restURL must be https://, or http:// to a loopback host (the local
// emulator, cmd/upstash-local) unless Options.AllowHTTP is set; it may not
// carry user information, a query or a fragment. Errors match
// [ErrInvalidURL], [ErrNoToken] or [ErrInvalidOptions] and never quote the
// URL or the token.
func New(restURL, token string, o Options) (*Provider, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	base, err := checkURL(restURL, o.AllowHTTP)
	if err != nil {
		return nil, err
	}
	if err := checkToken(token); err != nil {
		return nil, err
	}
	p := &Provider{o: o, base: base, auth: "Bearer " + token, client: o.HTTPClient}
	if p.client == nil {
		p.own = newTransport(o)
		p.client = &http.Client{
			Transport: p.own,
			// A redirect would resend the command (and a cross-host one
			// would drop the token): answer it as an unexpected status.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	p.life, p.stop = context.WithCancel(context.Background())
	p.cas = newScript(casScript, !o.GlobalScriptLock)
	p.setMulti = newScript(setMultiScript, !o.GlobalScriptLock)
	p.addMulti = newScript(addMultiScript, !o.GlobalScriptLock)
	p.getAdd = newScript(getAddScript, !o.GlobalScriptLock)
	p.casMulti = newScript(casMultiScript, !o.GlobalScriptLock)
	return p, nil
}

// newTransport is the provider's own HTTP transport: one keep-alive pool
// for the database's host, HTTP/2 when the server offers it over TLS.
func newTransport(o Options) *http.Transport {
	tc := o.TLSConfig.Clone()
	if tc == nil {
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          max(16, 4*o.MaxInFlight),
		MaxIdleConnsPerHost:   max(16, 4*o.MaxInFlight),
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Ping sends PING: it checks that the URL answers and accepts the token.
func (p *Provider) Ping(ctx context.Context) error {
	if p.closed.Load() {
		return errClosed
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return err
	}
	defer cancel()
	v, err := p.run(ctx, newCmd("PING", 0).done(), true)
	if err != nil {
		return fail(ctx, "ping", err)
	}
	if v.kind != kStr {
		return fail(ctx, "ping", errShape("PING", v))
	}
	return nil
}

// Close ends the provider: calls waiting for a request fail with
// provider.ErrClosed, requests in flight are abandoned, and the provider's
// own idle connections are closed. It waits for the goroutines that send
// requests and is idempotent.
func (p *Provider) Close() error {
	p.mu.Lock()
	if p.closed.Load() {
		p.mu.Unlock()
		return nil
	}
	p.closed.Store(true)
	queued := p.queue
	p.queue = nil
	if p.timer != nil {
		p.timer.Stop()
	}
	p.mu.Unlock()
	p.stop()
	for _, c := range queued {
		c.finish(outcome{}, errClosed)
	}
	p.senders.Wait()
	if p.own != nil {
		p.own.CloseIdleConnections()
	}
	return nil
}

// noCancel is bound's cancel when it made no context.
func noCancel() {}

// bound returns ctx limited to d from now, or ctx itself when its deadline
// is already that close. It fails at once when ctx is done, so that no
// command is sent.
func (p *Provider) bound(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc, error) {
	if err := ctxErr(ctx); err != nil {
		return ctx, noCancel, fail(ctx, "call", err)
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return ctx, noCancel, nil
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	return ctx, cancel, nil
}

// Stats are the provider's counters since it was made: what the database
// bills (provider.Usage) and what the provider did about failures.
type Stats struct {
	provider.Usage

	// Unconfirmed is the number of commands sent in requests whose reply
	// was lost or cut: they may have run, and been billed, without being
	// counted in Commands.
	Unconfirmed int64 `json:"unconfirmed"`
	// Retries is the number of commands sent again (see Options.Retries).
	Retries int64 `json:"retries"`
	// QuotaErrors is the number of commands refused for a quota
	// ([ErrQuota]), and Unauthorized of requests answered 401.
	QuotaErrors  int64 `json:"quota_errors"`
	Unauthorized int64 `json:"unauthorized"`
	// Pipelines is the number of requests that carried more than one
	// command (to /pipeline); Requests less Pipelines carried one.
	Pipelines int64 `json:"pipelines"`
}

// Usage returns what the database bills for the provider's work so far:
// commands (each command inside a pipeline counts once, as Upstash bills
// it), requests, and request and response body bytes. Commands counts the
// commands whose reply arrived and says they ran; see Stats.Unconfirmed for
// the others. It never blocks.
func (p *Provider) Usage() provider.Usage { return p.stats.usage() }

// Stats returns a snapshot of the provider's counters.
func (p *Provider) Stats() Stats { return p.stats.snapshot() }

// counters is the live form of Stats.
type counters struct {
	commands, requests, sent, received     atomic.Int64
	unconfirmed, retries, quota, forbidden atomic.Int64
	pipelines                              atomic.Int64
}

func (c *counters) usage() provider.Usage {
	return provider.Usage{
		Commands:      c.commands.Load(),
		Requests:      c.requests.Load(),
		BytesSent:     c.sent.Load(),
		BytesReceived: c.received.Load(),
	}
}

func (c *counters) snapshot() Stats {
	return Stats{
		Usage:        c.usage(),
		Unconfirmed:  c.unconfirmed.Load(),
		Retries:      c.retries.Load(),
		QuotaErrors:  c.quota.Load(),
		Unauthorized: c.forbidden.Load(),
		Pipelines:    c.pipelines.Load(),
	}
}
