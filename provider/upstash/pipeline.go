package upstash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/provider"
)

// Auto-pipelining. Every command becomes a call in one FIFO queue. While
// fewer than Options.MaxInFlight requests run, a new call starts a sender
// goroutine at once; otherwise it waits, and the next sender to finish
// takes every call queued meanwhile (up to MaxBatch and MaxBatchBytes) into
// one /pipeline request, in queue order. Upstash runs a pipeline in order,
// so a read queued after a write never overtakes it; there is one queue for
// reads and writes alike. A call whose caller has gone before it is taken
// is dropped unsent.
//
// Retries (Options.Retries): a request that failed before reaching the
// server (the connection could not be made) is sent again whole; one whose
// reply was lost, cut or a 5xx may have run, so only its read-only calls are
// sent again, and the others fail. Nothing that answered (a 4xx, a command
// error, a quota) is retried.

// Upstash's header names.
const (
	syncTokenHeader = "Upstash-Sync-Token"
	encodingHeader  = "Upstash-Encoding"
)

// call is one command waiting for its outcome.
type call struct {
	cmd      []byte    // the command as a JSON array
	idem     bool      // read-only: may be sent again after a lost reply
	b64      bool      // asks for base64 strings in the reply
	deadline time.Time // the caller's
	tries    int       // sends so far, less one

	state atomic.Uint32 // queued, taken or abandoned
	gone  atomic.Bool   // the caller stopped waiting
	done  chan struct{}
	out   outcome
	err   error
}

const (
	queued uint32 = iota
	taken
	abandoned
)

func (c *call) finish(o outcome, err error) {
	c.out, c.err = o, err
	close(c.done)
}

// cmdBuf builds a command's JSON array.
type cmdBuf struct{ b []byte }

func newCmd(name string, size int) *cmdBuf {
	b := make([]byte, 0, 8+len(name)+size)
	b = append(b, '[')
	b = appendString(b, name)
	return &cmdBuf{b}
}

func (c *cmdBuf) key(k string) *cmdBuf {
	c.b = appendKey(append(c.b, ','), k)
	return c
}

func (c *cmdBuf) str(s string) *cmdBuf {
	c.b = appendString(append(c.b, ','), s)
	return c
}

func (c *cmdBuf) val(v []byte) *cmdBuf {
	c.b = appendValue(append(c.b, ','), v)
	return c
}

func (c *cmdBuf) num(n int64) *cmdBuf {
	c.b = strconv.AppendInt(append(c.b, ','), n, 10)
	return c
}

func (c *cmdBuf) done() []byte { return append(c.b, ']') }

// run sends one command through the queue and waits for its result, or for
// ctx (already bounded by the caller) to end. A command error comes back as
// the error serverError makes of it.
func (p *Provider) run(ctx context.Context, cmd []byte, idem bool) (value, error) {
	o, err := p.send(ctx, &call{cmd: cmd, idem: idem})
	if err != nil {
		return value{}, err
	}
	if o.isErr {
		return value{}, serverError(o.err)
	}
	return o.val, nil
}

// send queues c (its cmd, idem and b64 set) and waits for its outcome.
func (p *Provider) send(ctx context.Context, c *call) (outcome, error) {
	if len(c.cmd) > p.o.MaxRequestBytes {
		return outcome{}, fmt.Errorf("%w: the command needs a %d-byte request, more than Options.MaxRequestBytes (%d)", provider.ErrTooLarge, len(c.cmd), p.o.MaxRequestBytes)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(p.o.Timeout)
	}
	c.deadline, c.done = dl, make(chan struct{})
	direct, ok := p.enqueue(c)
	if !ok {
		return outcome{}, errClosed
	}
	if direct {
		// A free slot and nobody waiting: the caller sends its own
		// command, sparing two goroutine switches. The request is bound to
		// the caller's ctx as well as to the provider's life.
		rctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(p.life, cancel)
		p.exchangeWithRetries(rctx, []*call{c})
		stop()
		cancel()
		p.release()
		return c.out, c.err
	}
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
		c.gone.Store(true)
		c.state.CompareAndSwap(queued, abandoned)
		return outcome{}, ctx.Err()
	}
}

// enqueue queues c, or, when a request slot is free, no call waits and
// BatchWait is off, takes the slot for c and reports direct: the caller
// then sends c itself and calls release. ok is false once closed.
func (p *Provider) enqueue(c *call) (direct, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		return false, false
	}
	if len(p.queue) == 0 && p.inflight < p.o.MaxInFlight && p.o.BatchWait == 0 {
		p.inflight++
		p.senders.Add(1)
		c.state.Store(taken)
		return true, true
	}
	p.queue = append(p.queue, c)
	p.kick()
	return false, true
}

// release gives back the slot of a direct send, and hands it to the calls
// that queued meanwhile.
func (p *Provider) release() {
	p.mu.Lock()
	p.inflight--
	p.startSender() // before Done, so that the count never drops to zero between them
	p.senders.Done()
	p.mu.Unlock()
}

// kick starts a sender if a request slot is free and the queue is ready to
// go (at once, or after BatchWait). p.mu is held.
func (p *Provider) kick() {
	if p.closed.Load() || len(p.queue) == 0 || p.inflight >= p.o.MaxInFlight {
		return
	}
	if p.o.BatchWait > 0 && len(p.queue) < p.o.MaxBatch && p.timer == nil {
		p.timer = time.AfterFunc(p.o.BatchWait, func() {
			p.mu.Lock()
			p.timer = nil
			p.startSender()
			p.mu.Unlock()
		})
		return
	}
	if p.timer != nil {
		if len(p.queue) < p.o.MaxBatch {
			return // the timer will start it
		}
		p.timer.Stop()
		p.timer = nil
	}
	p.startSender()
}

// startSender starts a sender goroutine if the provider is open, a slot is
// free and calls wait. p.mu is held.
func (p *Provider) startSender() {
	if p.closed.Load() || len(p.queue) == 0 || p.inflight >= p.o.MaxInFlight {
		return
	}
	p.inflight++
	p.senders.Add(1)
	go p.sender()
}

// sender sends batches until the queue is empty.
func (p *Provider) sender() {
	defer p.senders.Done()
	for {
		batch := p.take()
		if batch == nil {
			return
		}
		p.exchangeWithRetries(p.life, batch)
	}
}

// take removes the next batch from the queue, or gives up the sender's
// slot and returns nil when none waits.
func (p *Provider) take() []*call {
	p.mu.Lock()
	defer p.mu.Unlock()
	var batch []*call
	size, i := 2, 0
	for ; i < len(p.queue) && len(batch) < p.o.MaxBatch; i++ {
		c := p.queue[i]
		if len(batch) > 0 && (size+len(c.cmd)+1 > p.o.MaxBatchBytes || c.b64 != batch[0].b64) {
			break
		}
		if !c.state.CompareAndSwap(queued, taken) {
			continue // its caller left
		}
		batch = append(batch, c)
		size += len(c.cmd) + 1
	}
	n := copy(p.queue, p.queue[i:])
	clear(p.queue[n:])
	p.queue = p.queue[:n]
	if len(batch) == 0 {
		p.inflight--
		return nil
	}
	return batch
}

// failure is why a request got no outcomes, and what may be done about it.
type failure struct {
	err  error
	mode int
}

const (
	final     = iota // answered, or cannot succeed: no retry
	unsent           // never reached the server: every call may go again
	ambiguous        // may have run: only read-only calls may go again
)

func (f *failure) Error() string { return f.err.Error() }
func (f *failure) Unwrap() error { return f.err }

// exchangeWithRetries sends batch, and sends again what may be sent again,
// within each call's deadline, then gives every call its outcome. The
// requests end with ctx: the provider's life, or a direct caller's context.
func (p *Provider) exchangeWithRetries(ctx context.Context, batch []*call) {
	for {
		outs, f := p.exchange(ctx, batch)
		if f == nil {
			for i, c := range batch {
				c.finish(outs[i], nil)
			}
			return
		}
		var again []*call
		backoff := p.backoff(batch[0].tries)
		for _, c := range batch {
			switch {
			case f.mode == final || c.gone.Load() || c.tries >= p.o.Retries:
			case f.mode == ambiguous && !c.idem:
			case time.Until(c.deadline) < backoff+time.Millisecond:
			default:
				c.tries++
				again = append(again, c)
				continue
			}
			err := f.err
			if f.mode == ambiguous && !c.idem {
				err = fmt.Errorf("%w; the command may have run, so it is not sent again", err)
			}
			c.finish(outcome{}, err)
		}
		if len(again) == 0 {
			return
		}
		p.stats.retries.Add(int64(len(again)))
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			err := ctx.Err()
			if p.life.Err() != nil {
				err = errClosed
			}
			for _, c := range again {
				c.finish(outcome{}, err)
			}
			return
		}
		batch = again
	}
}

// backoff is the wait before the try'th resend: 10 ms doubling, each with
// ±50% jitter, at most 160 ms.
func (p *Provider) backoff(try int) time.Duration {
	d := 10 * time.Millisecond << min(try, 4)
	return d/2 + rand.N(d)
}

// exchange sends batch in one request (POST / for one command, /pipeline
// for more) and returns one outcome per call, or why there are none.
func (p *Provider) exchange(ctx context.Context, batch []*call) ([]outcome, *failure) {
	var body []byte
	path := "/"
	if len(batch) == 1 {
		body = batch[0].cmd
	} else {
		path = "/pipeline"
		n := 1
		for _, c := range batch {
			n += len(c.cmd) + 1
		}
		body = make([]byte, 0, n)
		body = append(body, '[')
		for i, c := range batch {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, c.cmd...)
		}
		body = append(body, ']')
	}
	deadline := batch[0].deadline
	for _, c := range batch[1:] {
		if c.deadline.After(deadline) {
			deadline = c.deadline
		}
	}
	status, resp, f := p.post(ctx, deadline, path, body, batch[0].b64, len(batch))
	if f != nil {
		return nil, f
	}
	return p.outcomes(status, resp, len(batch))
}

// post sends one request and reads its reply. b64 asks for base64 strings
// in the reply (Upstash-Encoding). n is the number of commands it carries,
// for the counters.
func (p *Provider) post(base context.Context, deadline time.Time, path string, body []byte, b64 bool, n int) (int, []byte, *failure) {
	ctx, cancel := context.WithDeadline(base, deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, &failure{fmt.Errorf("%w: cannot build the request", ErrInvalidURL), final}
	}
	req.Header.Set("Authorization", p.auth)
	req.Header.Set("Content-Type", "application/json")
	if tok := p.syncToken.Load(); tok != nil {
		req.Header.Set(syncTokenHeader, *tok)
	}
	if b64 {
		req.Header.Set(encodingHeader, "base64")
	}
	res, err := p.client.Do(req)
	if err != nil {
		err = transportErr(err)
		if neverSent(err) {
			if ctx.Err() != nil || p.life.Err() != nil {
				return 0, nil, p.ended(ctx, err)
			}
			return 0, nil, &failure{fmt.Errorf("cannot reach the server: %w", err), unsent}
		}
		// It may have reached the server, which bills what it runs even
		// when nobody waits for the reply.
		p.count(body, n)
		p.stats.unconfirmed.Add(int64(n))
		if ctx.Err() != nil || p.life.Err() != nil {
			return 0, nil, p.ended(ctx, err)
		}
		return 0, nil, &failure{fmt.Errorf("the request failed without a reply: %w", err), ambiguous}
	}
	p.count(body, n)
	defer res.Body.Close()
	if tok := res.Header.Get(syncTokenHeader); tok != "" {
		p.syncToken.Store(&tok)
	}
	resp, err := readBody(res, p.o.MaxResponseBytes)
	p.stats.received.Add(int64(len(resp)))
	switch {
	case errors.Is(err, errTooBig):
		return 0, nil, &failure{fmt.Errorf("%w: a reply larger than Options.MaxResponseBytes (%d)", ErrProtocol, p.o.MaxResponseBytes), final}
	case err != nil && (ctx.Err() != nil || p.life.Err() != nil):
		p.stats.unconfirmed.Add(int64(n))
		return 0, nil, p.ended(ctx, err)
	case err != nil:
		p.stats.unconfirmed.Add(int64(n))
		return 0, nil, &failure{fmt.Errorf("the reply was cut: %w", transportErr(err)), ambiguous}
	}
	switch s := res.StatusCode; {
	case s == http.StatusOK, s == http.StatusBadRequest:
		return s, resp, nil
	case s == http.StatusUnauthorized:
		p.stats.forbidden.Add(1)
		p.o.Logger.Warn("upstash: the REST token was rejected (401)")
		return 0, nil, &failure{ErrUnauthorized, final}
	case s >= 500:
		p.stats.unconfirmed.Add(int64(n))
		return 0, nil, &failure{fmt.Errorf("the server failed with HTTP %d", s), ambiguous}
	default:
		return 0, nil, &failure{fmt.Errorf("%w: HTTP status %d", ErrProtocol, s), final}
	}
}

// ended is the failure of a request whose context ended: the provider
// closed, or every caller's deadline passed.
func (p *Provider) ended(ctx context.Context, err error) *failure {
	if p.life.Err() != nil {
		return &failure{errClosed, final}
	}
	return &failure{fmt.Errorf("%w (%w)", ctx.Err(), transportErr(err)), final}
}

func (p *Provider) count(body []byte, n int) {
	p.stats.requests.Add(1)
	p.stats.sent.Add(int64(len(body)))
	if n > 1 {
		p.stats.pipelines.Add(1)
	}
}

var errTooBig = errors.New("reply too large")

// readBody reads a response body of at most limit bytes.
func readBody(res *http.Response, limit int) ([]byte, error) {
	if res.ContentLength > int64(limit) {
		return nil, errTooBig
	}
	var b []byte
	if res.ContentLength > 0 {
		b = make([]byte, 0, res.ContentLength)
	}
	buf := bytes.NewBuffer(b)
	n, err := buf.ReadFrom(io.LimitReader(res.Body, int64(limit)+1))
	if n > int64(limit) {
		return nil, errTooBig
	}
	return buf.Bytes(), err
}

// outcomes parses the reply to n commands (a 200 or a 400) and counts what
// was billed.
func (p *Provider) outcomes(status int, resp []byte, n int) ([]outcome, *failure) {
	var outs []outcome
	if n == 1 {
		o, err := parseOutcome(resp)
		if err != nil {
			return nil, &failure{err, final}
		}
		if status == http.StatusBadRequest && !o.isErr {
			return nil, &failure{fmt.Errorf("%w: HTTP 400 without an error", ErrProtocol), final}
		}
		outs = []outcome{o}
	} else {
		os, whole, err := parseOutcomes(resp, n)
		if err != nil {
			return nil, &failure{err, final}
		}
		if whole {
			// The server refused the request as a whole: nothing ran.
			if isQuota(os[0].err) {
				p.stats.quota.Add(int64(n))
				p.o.Logger.Warn("upstash: over a quota", "err", clip(os[0].err, 200))
			}
			return nil, &failure{serverError(os[0].err), final}
		}
		outs = os
	}
	for _, o := range outs {
		if !o.isErr || billed(o.err) {
			p.stats.commands.Add(1)
		}
		if o.isErr && isQuota(o.err) {
			p.stats.quota.Add(1)
			p.o.Logger.Warn("upstash: over a quota", "err", clip(o.err, 200))
		}
	}
	return outs, nil
}
