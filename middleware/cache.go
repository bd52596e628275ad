package middleware

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
	"github.com/labstack/echo/v4"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/keys"
)

// Prefixes of the keys and tags the middleware writes into the Cache; keep
// your own Remember keys from starting with "mw:".
const (
	keyPrefix = "mw:"
	uriTagPre = "mw:uri:"
)

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

func (m *cacher) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if m.skip(c) {
			return next(c)
		}
		req := c.Request()
		switch req.Method {
		case http.MethodGet:
		case http.MethodHead:
			return m.head(c, next)
		default:
			if isUnsafe(req.Method) {
				return m.unsafe(c, next)
			}
			return m.direct(c, next, "aside; fwd=method")
		}
		rt := m.routeFor(c)
		if rt.disabled {
			return m.direct(c, next, "aside; fwd=bypass; detail=route")
		}
		if reason := m.refuse(req); reason != "" {
			return m.direct(c, next, "aside; fwd=bypass; detail="+reason)
		}

		key, opts, ok := m.keyOf(c, req, rt)
		if !ok {
			return m.direct(c, next, "aside; fwd=bypass; detail=key")
		}
		switch {
		case parseCacheControl(req.Header["Cache-Control"]).noStore:
			return m.lookup(c, next, rt, key, opts, "aside; fwd=request; detail=no-store")
		case len(req.Header["Range"]) > 0:
			// Answered from a stored complete response; a miss goes to the
			// handler as it is, and its partial response is not stored.
			return m.lookup(c, next, rt, key, opts, "aside; fwd=miss; detail=range")
		}
		return m.remember(c, next, rt, key, opts, "")
	}
}

// keyOf returns the request's key and its Remember options (the route's,
// tags: the route's and the target URI's, and last, the request's failure
// budget).
func (m *cacher) keyOf(c echo.Context, req *http.Request, rt *route) (string, []aside.Option, bool) {
	bp := keyBufs.Get().(*[]byte)
	buf, uriLen, err := m.appendKey((*bp)[:0], c, req)
	if err != nil {
		*bp = buf
		keyBufs.Put(bp)
		return "", nil, false
	}
	key := string(buf)
	uriTag := uriTagOf(buf[len(keyPrefix):uriLen])
	*bp = buf
	keyBufs.Put(bp)

	opts := make([]aside.Option, 0, len(rt.opts)+2)
	opts = append(opts, rt.opts...)
	opts = append(opts, aside.Tags(append(rt.tags[:len(rt.tags):len(rt.tags)], uriTag)...), aside.SharedBudget(budgetOf(req)))
	return key, opts, true
}

// budgetKey carries a HEAD request's failure budget to the GET it runs.
type budgetKey struct{}

// budgetOf returns the failure budget every cache call of req shares, so
// that a request pays for at most one provider failure however many calls
// it makes (a lookup, a variant, a revalidation, a HEAD's GET): the one a
// HEAD handed to the GET it stands for, or a new one.
func budgetOf(req *http.Request) *aside.FailureBudget {
	if b, ok := req.Context().Value(budgetKey{}).(*aside.FailureBudget); ok {
		return b
	}
	return new(aside.FailureBudget)
}

// refuse returns why a GET or HEAD must bypass the shared cache, or "".
func (m *cacher) refuse(req *http.Request) string {
	h := req.Header
	open := m.cfg.Public || m.cfg.KeyFunc != nil
	switch {
	case req.ContentLength != 0 || len(req.TransferEncoding) > 0:
		return "body" // a GET with a body: its meaning is undefined, and it is not in the key
	case !open && len(h["Cookie"]) > 0:
		return "cookie"
	case !open && !m.proxy && len(h["Authorization"]) > 0:
		return "authorization"
	case len(h["If-Match"]) > 0 || len(h["If-Unmodified-Since"]) > 0:
		return "conditional" // preconditions on the current state are the origin's to evaluate
	case len(h["Upgrade"]) > 0:
		return "upgrade"
	}
	for _, name := range m.bypass {
		if len(h[name]) > 0 {
			return "header"
		}
	}
	for _, a := range h["Accept"] {
		if strings.Contains(strings.ToLower(a), "text/event-stream") {
			return "streaming"
		}
	}
	return ""
}

// appendKey appends the request's key; buf[len(keyPrefix):uriLen] is its URL
// part (the target URI, for the invalidation tag).
func (m *cacher) appendKey(buf []byte, c echo.Context, req *http.Request) (out []byte, uriLen int, err error) {
	buf = append(buf, keyPrefix...)
	buf, err = keys.AppendURL(buf, scheme(req), req.Host, req.URL, m.cfg.IgnoreQuery)
	if err != nil {
		return buf, 0, err
	}
	uriLen = len(buf)
	buf = keys.AppendHeaders(buf, req.Header, m.vary)
	for i, name := range m.unkeyed {
		if len(req.Header[name]) > 0 {
			buf = keys.AppendHeaders(buf, req.Header, m.unkeyedOne[i])
		}
	}
	if m.cfg.KeyFunc != nil {
		id, err := m.cfg.KeyFunc(c)
		if err != nil {
			return buf, 0, err
		}
		// '@' is not a header-name character, so this cannot be read as a
		// header of the part before it.
		buf = append(buf, " @"...)
		buf = append(buf, url.QueryEscape(id)...)
	}
	return buf, uriLen, nil
}

func scheme(req *http.Request) string {
	if req.TLS != nil {
		return "https"
	}
	return "http"
}

// direct runs the handler on the request's own writer, uncached.
func (m *cacher) direct(c echo.Context, next echo.HandlerFunc, status string) error {
	c.Response().Header().Set("Cache-Status", status)
	return next(c)
}

// lookup serves a fresh stored response if there is one and otherwise runs
// the handler uncached: requests saying no-store, and Range requests (a
// complete stored response answers them with the range).
func (m *cacher) lookup(c echo.Context, next echo.HandlerFunc, rt *route, key string, opts []aside.Option, miss string) error {
	req := c.Request()
	if e := m.peek(req, key, opts); e != nil {
		if len(req.Header["Range"]) > 0 {
			return m.serveRange(c, e, m.hitStatus(e))
		}
		return m.serve(c, e, m.hitStatus(e))
	}
	return m.direct(c, next, miss)
}

// peek returns the fresh stored response for req under key (following a
// variant), or nil. It never runs the handler.
func (m *cacher) peek(req *http.Request, key string, opts []aside.Option) *entry {
	for range 2 {
		val, found, err := aside.Get[[]byte](req.Context(), m.cfg.Cache, key, opts...)
		if err != nil || !found {
			return nil
		}
		e, derr := m.parsed.get(val)
		if derr != nil || !e.shared || e.revalidate(nowUs()) {
			return nil
		}
		if len(e.varyOn) == 0 {
			return e
		}
		v, ok := variant(req.Header, e.varyOn)
		if !ok {
			return nil
		}
		if v == e.variant {
			return e
		}
		if strings.Contains(key, " ~") {
			return nil
		}
		key = variantKey(key, v)
	}
	return nil
}

// head answers HEAD as the GET it stands for, without content (RFC 9110
// section 9.3.2): from a fresh stored GET response when there is one, and
// otherwise by running the request as a GET through the whole Echo
// (routing, every middleware, this cache, which stores the response) and
// dropping the body. So a HEAD gets the same status and fields whatever the
// cache holds, even on a route registered for GET only (where Echo's router
// would answer 405), as nginx's proxy_cache_convert_head does.
func (m *cacher) head(c echo.Context, next echo.HandlerFunc) error {
	req := c.Request()
	rt := m.routeFor(c)
	budget := budgetOf(req)
	if !rt.disabled && m.refuse(req) == "" {
		if key, opts, ok := m.keyOf(c, req, rt); ok {
			opts[len(opts)-1] = aside.SharedBudget(budget)
			if e := m.peek(req, key, opts); e != nil {
				return m.serve(c, e, m.hitStatus(e))
			}
		}
	}
	// The GET shares this request's failure budget: a HEAD pays for at most
	// one provider failure, lookup and GET together.
	get := req.Clone(context.WithValue(req.Context(), budgetKey{}, budget))
	get.Method = http.MethodGet
	c.Echo().ServeHTTP(&headWriter{w: c.Response()}, get)
	return nil
}

// Phases of a call, guarded by call.mu.
const (
	phaseIdle     = iota // the request is inside Remember; no handler started
	phaseRunning         // a handler runs on the request's echo.Context
	phaseFinished        // it has returned
	phaseLending         // the request waits in a revalidation: a loader may take its Context
	phaseGone            // the request has left Remember: its Context is off limits
)

// call is one GET request going through Remember. Its load method is the
// loader; it runs in a goroutine of the Cache, not the request's, so it
// touches the request's echo.Context only while the request is provably
// still waiting (phaseIdle or phaseLending -> phaseRunning), and the request
// waits for a running handler before it returns and Echo recycles the
// Context.
type call struct {
	m       *cacher
	c       echo.Context
	next    echo.HandlerFunc
	rt      *route
	key     string // the primary key, for the variant bound
	variant bool   // loading a variant key
	start   int64  // Unix µs
	auth    bool
	budget  aside.Option // the request's failure budget, for its later calls

	mu    sync.Mutex
	phase int
	done  chan struct{}
	wake  chan struct{} // made by a waiting refresh; closed when the phase leaves phaseIdle
	snap  *snapshot     // for a background revalidation after the request left
	stale *entry        // the stored response a load revalidates, if any
	res   *result       // what a handler run on the request's Context produced (nil: none)
}

// snapshot is what a background revalidation needs to run the handler on a
// fresh echo.Context once the request that triggered it has returned.
type snapshot struct {
	e      *echo.Echo
	req    *http.Request
	path   string
	names  []string
	values []string
}

func snapshotOf(c echo.Context) *snapshot {
	return &snapshot{
		e:      c.Echo(),
		req:    c.Request().Clone(context.Background()),
		path:   c.Path(),
		names:  append([]string(nil), c.ParamNames()...),
		values: append([]string(nil), c.ParamValues()...),
	}
}

// setPhase moves the call to phase p, waking a refresh waiting for the
// request to stop using its Context. k.mu is held.
func (k *call) setPhase(p int) {
	k.phase = p
	if k.wake != nil {
		close(k.wake)
		k.wake = nil
	}
}

// remember answers a GET through aside.Remember: a fresh stored response, a
// stale one within its stale-while-revalidate window (refreshed in the
// background), or one revalidated first (conditionally, when it has
// validators); variant names the variant key being looked up ("" for the
// primary key).
func (m *cacher) remember(c echo.Context, next echo.HandlerFunc, rt *route, key string, opts []aside.Option, variantOf string) error {
	req := c.Request()
	primary := key
	if variantOf != "" {
		primary = variantOf
	}
	k := &call{m: m, c: c, next: next, rt: rt, key: primary, variant: variantOf != "", start: nowUs(), auth: len(req.Header["Authorization"]) > 0,
		budget: opts[len(opts)-1]} // keyOf puts it last
	val, err := aside.Remember(req.Context(), m.cfg.Cache, key, k.load, opts...)
	e, err := m.decoded(req, key, val, err)

	if e != nil && e.shared && len(e.varyOn) > 0 && !k.ran() {
		// The stored response varies on request headers beyond the key:
		// it answers this request only if they match.
		if v, ok := variant(req.Header, e.varyOn); !ok || v != e.variant {
			k.leave(nil)
			if !ok || variantOf != "" {
				return m.direct(c, next, "aside; fwd=miss; detail=variant")
			}
			return m.remember(c, next, rt, variantKey(key, v), opts, key)
		}
	}
	now := nowUs()
	if e != nil && e.shared && !k.ran() && e.revalidate(now) {
		if !m.staleOK(e, now) {
			return m.revalidate(c, k, e, key)
		}
		// Served stale while Remember's background refresh revalidates it
		// on a snapshot of this request.
		k.mu.Lock()
		k.stale = e
		k.mu.Unlock()
		return m.finish(c, req, k, e, err, true, false)
	}
	return m.finish(c, req, k, e, err, false, false)
}

// revalidate makes a stale response that may not be served as it is
// current again before answering: the request lends its Context to the
// load (Remember's background refresh, already started for it, or a load of
// its own) and waits for it, which sends the stored validators and merges a
// 304 into the stored response (RFC 9111 section 4.3).
func (m *cacher) revalidate(c echo.Context, k *call, stale *entry, key string) error {
	req := c.Request() // before lending: a load may then swap the Context's request
	opts := make([]aside.Option, 0, len(k.rt.sieOpts)+2)
	opts = append(opts, k.rt.sieOpts...)
	opts = append(opts, m.tagsOf(c, k.rt), k.budget)
	k.mu.Lock()
	k.stale = stale
	k.setPhase(phaseLending)
	k.mu.Unlock()
	val, err := aside.Remember(req.Context(), m.cfg.Cache, key, k.load, opts...)
	e, err := m.decoded(req, key, val, err)
	return m.finish(c, req, k, e, err, false, true)
}

// tagsOf rebuilds the tag option of a request's keys (the route's tags and
// the target URI's).
func (m *cacher) tagsOf(c echo.Context, rt *route) aside.Option {
	req := c.Request()
	buf, err := keys.AppendURL(nil, scheme(req), req.Host, req.URL, m.cfg.IgnoreQuery)
	tags := rt.tags[:len(rt.tags):len(rt.tags)]
	if err == nil {
		tags = append(tags, uriTagOf(buf))
	}
	return aside.Tags(tags...)
}

// decoded turns what Remember returned into an entry; a stored response that
// does not decode is deleted and is an error (the handler then runs).
func (m *cacher) decoded(req *http.Request, key string, val []byte, err error) (*entry, error) {
	if err != nil {
		return nil, err
	}
	e, derr := m.parsed.get(val)
	if derr != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), deleteTimeout)
		_ = m.cfg.Cache.Delete(ctx, key)
		cancel()
		return nil, derr
	}
	return e, nil
}

// ran reports whether a handler run on the request's Context has started.
func (k *call) ran() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.phase == phaseRunning || k.phase == phaseFinished
}

// leave waits for a handler running on the request's Context, then marks
// the request gone, handing a background refresh snap (or nothing: it
// aborts).
func (k *call) leave(snap *snapshot) result {
	k.mu.Lock()
	if k.phase == phaseRunning {
		ch := k.done
		k.mu.Unlock()
		<-ch
		k.mu.Lock()
	}
	if k.phase != phaseFinished {
		k.snap = snap
	}
	k.setPhase(phaseGone)
	var res result
	if k.res != nil {
		res = *k.res
	}
	k.mu.Unlock()
	return res
}

// staleOK reports whether a stale e may be served while it is revalidated
// in the background: within its stale-while-revalidate window (or, when no
// window is configured, the Cache's own, which let Remember return it).
func (m *cacher) staleOK(e *entry, now int64) bool {
	if m.keepStale == 0 {
		return e.flags&(flagNoStale|flagNoCache) == 0
	}
	return e.staleFor(now, e.swr)
}

// errorOK reports whether a stale e may answer a failed load
// (stale-if-error).
func (m *cacher) errorOK(e *entry, now int64) bool {
	if m.keepStale == 0 {
		return e.flags&(flagNoStale|flagNoCache) == 0
	}
	return e.staleFor(now, e.sie)
}

// finish waits for a handler using the request's Context, and answers the
// request (req, read before any load could swap it) from what Remember
// returned (e, err) and what a handler run on its Context produced. refresh hands a background refresh a snapshot of the
// request; revalidating means e answers a revalidation of k.stale.
func (m *cacher) finish(c echo.Context, req *http.Request, k *call, e *entry, err error, refresh, revalidating bool) error {
	var snap *snapshot
	if refresh {
		snap = snapshotOf(c)
	} else {
		k.mu.Lock()
		waiting := k.phase == phaseIdle && k.wake != nil // a refresh started for an entry we judged fresh (jitter)
		if waiting && e != nil && e.shared {
			k.stale = e
		}
		k.mu.Unlock()
		if waiting {
			snap = snapshotOf(c)
		}
	}
	res := k.leave(snap)
	now := nowUs()
	fwd := "miss"
	if revalidating {
		fwd = "stale"
	}
	if e != nil && !res.ran && len(e.varyOn) > 0 {
		// Another load's response: it answers this request only for the
		// same variant.
		if v, ok := variant(req.Header, e.varyOn); !ok || v != e.variant {
			return m.direct(c, k.next, "aside; fwd="+fwd+"; detail=variant")
		}
	}

	switch {
	case res.streamed:
		return nil
	case res.ran && res.failed != 0:
		// The origin failed: a stale response may stand in (stale-if-error).
		if e != nil && e.shared && m.errorOK(e, now) {
			return m.serve(c, e, staleIfErrorStatus(e, res.failed))
		}
		if res.own != nil {
			return m.serve(c, res.own, missStatus(res.own, fwd))
		}
	case res.ran && (e != nil || res.stored != nil):
		if e == nil || (revalidating && e.revalidate(now)) {
			e = res.stored // the store failed or refused; this request still gets its response
		}
		own := res.own
		if own != nil && (!e.shared || m.cfg.RedactForLoader) {
			// Not stored: the client gets its whole response, Set-Cookie
			// included. Stored: the redacted form later hits get, unless
			// RedactForLoader.
			return m.serve(c, own, missStatus(e, fwd))
		}
		return m.serve(c, e, missStatus(e, fwd))
	case e != nil && !e.shared:
		// Another request's response that may not be shared (not storable):
		// this one runs the handler itself.
		return m.direct(c, k.next, "aside; fwd=miss; detail=not-shared")
	case revalidating && e != nil && e.revalidate(now):
		// Another load's revalidation failed and the Cache kept the stale
		// response: serve it only where stale-if-error allows.
		if m.errorOK(e, now) {
			return m.serve(c, e, staleIfErrorStatus(e, 0))
		}
		return m.direct(c, k.next, "aside; fwd=stale; detail=uncached")
	case e != nil && e.storedAt >= k.start:
		return m.serve(c, e, collapsedStatus(e))
	case e != nil:
		return m.serve(c, e, m.hitStatus(e))
	case res.ran && res.own != nil:
		// The cache failed after the handler ran: the client gets the real
		// response.
		return m.serve(c, res.own, missStatus(res.own, fwd))
	case req.Context().Err() != nil:
		return nil // the client has gone; nothing to write
	}
	return m.direct(c, k.next, "aside; fwd="+fwd+"; detail=uncached")
}

// deleteTimeout bounds the removal of a stored response that does not decode.
const deleteTimeout = 2e9

// load is the loader given to aside.Remember.
func (k *call) load(ctx context.Context) ([]byte, error) {
	if aside.Refreshing(ctx) {
		// A background refresh: Remember has returned (or is returning) the
		// stale entry to the request, which may still be using its Context.
		// Wait until it has left (and handed over a snapshot) or waits for
		// this load (and lends its Context).
		for {
			k.mu.Lock()
			if k.phase != phaseIdle {
				break
			}
			if k.wake == nil {
				k.wake = make(chan struct{})
			}
			w := k.wake
			k.mu.Unlock()
			select {
			case <-w:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	} else {
		k.mu.Lock()
	}
	switch k.phase {
	case phaseIdle, phaseLending:
	case phaseGone:
		snap, stale := k.snap, k.stale
		k.mu.Unlock()
		if snap == nil {
			return nil, errGone
		}
		ec := snap.e.NewContext(snap.req, nil)
		ec.SetPath(snap.path)
		ec.SetParamNames(snap.names...)
		ec.SetParamValues(snap.values...)
		r := k.run(ctx, ec, nil, stale)
		return r.val, r.err
	case phaseFinished:
		// A second load for the same request (Remember's refresh ended
		// before the revalidation's own load began). A failure answers with
		// the first one's error, so that it stays an origin failure
		// (stale-if-error may answer it). A success is not stored again:
		// the first load stored it with its own freshness (LoadTTL) and
		// with the tags the handler named, stamped before it ran; a second
		// store would give it the route's TTL (a no-cache response fresh
		// for an hour) and stamp those tags now, after invalidations the
		// response may predate. The request is answered from the first
		// run's result (finish), and Remember puts back what it replaced.
		res := k.res
		k.mu.Unlock()
		switch {
		case res == nil:
			return nil, errGone
		case res.err != nil:
			return res.val, res.err
		}
		return nil, errAnswered
	default:
		k.mu.Unlock()
		return nil, errGone
	}
	k.phase = phaseRunning
	k.done = make(chan struct{})
	stale := k.stale
	k.mu.Unlock()

	var r result
	defer func() {
		k.mu.Lock()
		k.phase = phaseFinished
		r.ran = true
		k.res = &r
		close(k.done)
		k.mu.Unlock()
	}()
	r = k.run(ctx, k.c, k.c.Response(), stale)
	return r.val, r.err
}

// result is what one handler run produced.
type result struct {
	val      []byte
	err      error
	ran      bool
	store    bool   // val may be stored
	own      *entry // the handler's whole response, for its own client
	stored   *entry // the form stored and shared
	streamed bool   // it went straight to the request's client
	failed   int    // its status when the origin failed
}

// conditionals are the request fields that make a request conditional; a
// load that may be stored never passes the client's on (the cache answers
// them itself from what it stores), only the stored response's validators.
var conditionals = [...]string{"If-None-Match", "If-Modified-Since", "If-Range", "Range"}

// run runs the handler on ec with its writer captured and turns the
// response into a stored one. real is where a streamed response goes (nil
// in a background revalidation). stale is the stored response being
// revalidated: its validators make the request conditional, and a 304
// refreshes it.
func (k *call) run(ctx context.Context, ec echo.Context, real http.ResponseWriter, stale *entry) (r result) {
	m := k.m
	req, res := ec.Request(), ec.Response()
	defer func() {
		ec.SetRequest(req)
		ec.SetResponse(res)
	}()
	validators := stale != nil
	for attempt := 0; ; attempt++ {
		lreq, sent := k.loadRequest(ctx, req, stale, validators)
		start := nowUs()
		cw := newCapture(real, m.cfg.MaxBodySize)
		if real != nil {
			if er, ok := real.(*echo.Response); ok {
				cw.interim = er.Writer // 1xx go to the client without committing its echo.Response
			} else {
				cw.interim = real
			}
		}
		er := echo.NewResponse(cw, ec.Echo())
		cw.res = er
		ec.SetRequest(lreq)
		ec.SetResponse(er)
		herr := k.next(ec)
		if herr != nil && !cw.aborted {
			ec.Error(herr) // the error handler renders into the capture, as Echo would after us
		}
		if cw.switched() {
			r.streamed = cw.passing
			r.err = errStreamed
			_ = aside.DontStore(ctx)
			return r
		}
		b, retry := m.build(ctx, k, lreq, cw, herr, stale, sent, start)
		if retry && attempt == 0 {
			// A 304 that does not select the stored response: ask again
			// without validators.
			validators = false
			continue
		}
		r.own, r.stored = b.own, b.stored
		if b.failed {
			r.failed = b.own.status
			r.err = &originError{status: b.own.status}
			return r
		}
		if !b.store {
			_ = aside.DontStore(ctx)
		}
		r.store = b.store
		r.val = b.stored.appendTo(make([]byte, 0, 96+len(b.stored.body)))
		return r
	}
}

// loadRequest is the request a load runs the handler with: the client's,
// on the load's context, without its conditional fields, and with the
// validators of stale when revalidating it (sent reports that).
func (k *call) loadRequest(ctx context.Context, req *http.Request, stale *entry, validators bool) (*http.Request, bool) {
	h := req.Header
	inm, ims := "", ""
	if validators && stale != nil {
		if stale.flags&flagOwnETag == 0 {
			inm = stale.etag
			if stale.flags&flagWeakened != 0 {
				inm = strings.TrimPrefix(inm, "W/")
			}
		}
		ims = stale.lastModified
		if len(stale.varyOn) > 0 {
			if v, ok := variant(h, stale.varyOn); !ok || v != stale.variant {
				inm, ims = "", "" // another variant: nothing to validate
			}
		}
	}
	strip := k.m.surrogate
	for _, name := range conditionals {
		strip = strip || len(h[name]) > 0
	}
	if !strip && inm == "" && ims == "" {
		return req.WithContext(ctx), false
	}
	out := req.Clone(ctx)
	for _, name := range conditionals {
		delete(out.Header, name)
	}
	if k.m.surrogate {
		out.Header.Add(surrogateCapability, surrogateDevice+`="Surrogate/1.0"`)
	}
	if inm != "" {
		out.Header["If-None-Match"] = []string{inm}
	}
	if ims != "" {
		out.Header["If-Modified-Since"] = []string{ims}
	}
	return out, inm != "" || ims != ""
}

// unsafe runs a POST, PUT, PATCH or DELETE and, after a 2xx or 3xx reply,
// invalidates what is stored for its target URI and same-origin Location
// and Content-Location (RFC 9111 section 4.4).
func (m *cacher) unsafe(c echo.Context, next echo.HandlerFunc) error {
	res := c.Response()
	res.Header().Set("Cache-Status", "aside; fwd=method")
	err := next(c)
	if !m.invalidate || !res.Committed || res.Status < 200 || res.Status >= 400 {
		return err
	}
	req := c.Request()
	sch := scheme(req)
	var tags []string
	if t, ok := m.uriTag(sch, req.Host, req.URL); ok {
		tags = append(tags, t)
	}
	for _, name := range [...]string{"Location", "Content-Location"} {
		loc := res.Header().Get(name)
		if loc == "" {
			continue
		}
		u, perr := req.URL.Parse(loc)
		if perr != nil || (u.Host != "" && u.Host != req.Host) || (u.Scheme != "" && u.Scheme != sch) {
			continue // another origin's resources are not ours to invalidate
		}
		if t, ok := m.uriTag(sch, req.Host, u); ok {
			tags = append(tags, t)
		}
	}
	if len(tags) > 0 {
		// The client leaving must not keep stale entries alive. A store that
		// fails does not fail the request, whose write has happened: the
		// invalidation is retried in the background until it lands or what
		// it guards has expired (counted in the Cache's Stats).
		ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), invalidateTimeout)
		_ = m.cfg.Cache.InvalidateTagsEventually(ctx, tags...)
		cancel()
	}
	return err
}

const invalidateTimeout = 5e9

func (m *cacher) uriTag(sch, host string, u *url.URL) (string, bool) {
	b, err := keys.AppendURL(nil, sch, host, u, m.cfg.IgnoreQuery)
	return uriTagOf(b), err == nil
}

// URITag returns the tag the middleware puts on every response it stores
// for the absolute URL rawURL (every variant of it), for
// Cache.InvalidateTags:
//
//	tag, err := middleware.URITag("https://shop.example/products/42")
//	err = c.InvalidateTags(ctx, tag)
//
// The query is canonicalised as in the cache key; leave out the parameters
// a config ignores (CacheConfig.IgnoreQuery). Unsafe requests (POST, PUT,
// PATCH, DELETE) invalidate their own URI this way by themselves.
func URITag(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("%w: URITag needs an absolute URL such as https://host/path", ErrInvalidURL)
	}
	b, err := keys.AppendURL(nil, strings.ToLower(u.Scheme), u.Host, u, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidURL, err)
	}
	return uriTagOf(b), nil
}

// uriTagOf is the tag of every response stored for a target URI: a hash of
// the URI, so that a long URL costs a few bytes in each entry's stamps, in
// its tag record's key and in tag hints. Two URIs sharing a hash only ever
// invalidate each other's responses (a miss, never a stale hit).
func uriTagOf(uri []byte) string {
	var b [len(uriTagPre) + 16]byte
	copy(b[:], uriTagPre)
	hex.Encode(b[len(uriTagPre):], binary.BigEndian.AppendUint64(nil, xxhash.Sum64(uri)))
	return string(b[:])
}

// Tag adds tags to the response being cached for c, for InvalidateTags; a
// handler calls it when the tags depend on what it loads:
//
//	middleware.Tag(c, "product:"+id)
//
// Call it before reading the data the tags cover. It does nothing when the
// response is not being cached (a bypass, an unsafe method, a route without
// the middleware). It fails only for an empty tag or more than 64 tags on
// one response (configured ones included); the response is then not stored.
// A store that fails or is down never surfaces here: the failure is counted
// and logged by the Cache, and the response is served but not stored.
func Tag(c echo.Context, tags ...string) error {
	err := aside.LoadTags(c.Request().Context(), tags...)
	if errors.Is(err, aside.ErrNotLoading) {
		return nil
	}
	return err
}
