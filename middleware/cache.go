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
		case http.MethodGet, http.MethodHead:
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

		bp := keyBufs.Get().(*[]byte)
		buf, uriLen, err := m.appendKey((*bp)[:0], c, req)
		if err != nil {
			*bp = buf
			keyBufs.Put(bp)
			return m.direct(c, next, "aside; fwd=bypass; detail=key")
		}
		key := string(buf)
		uriTag := uriTagOf(buf[len(keyPrefix):uriLen])
		*bp = buf
		keyBufs.Put(bp)

		opts := make([]aside.Option, 0, len(rt.opts)+1)
		opts = append(opts, rt.opts...)
		opts = append(opts, aside.Tags(append(rt.tags[:len(rt.tags):len(rt.tags)], uriTag)...))

		noStore := parseCacheControl(req.Header["Cache-Control"]).noStore
		if req.Method == http.MethodHead || noStore {
			return m.lookup(c, next, key, opts, req.Method == http.MethodHead)
		}
		return m.remember(c, next, rt, key, opts)
	}
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
	case !open && len(h["Authorization"]) > 0:
		return "authorization"
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

// lookup serves a stored response if there is one and otherwise runs the
// handler uncached: HEAD (whose empty body must never be stored for a later
// GET) and requests saying no-store.
func (m *cacher) lookup(c echo.Context, next echo.HandlerFunc, key string, opts []aside.Option, head bool) error {
	val, found, err := aside.Get[[]byte](c.Request().Context(), m.cfg.Cache, key, opts...)
	if err == nil && found {
		if e, derr := m.parsed.get(val); derr == nil && e.shared {
			return m.serve(c, e, m.hitStatus(e))
		}
	}
	if head {
		return m.direct(c, next, "aside; fwd=miss; detail=head")
	}
	return m.direct(c, next, "aside; fwd=request; detail=no-store")
}

// Phases of a call, guarded by call.mu.
const (
	phaseIdle     = iota // the request is inside Remember; no handler started
	phaseRunning         // the handler runs on the request's echo.Context
	phaseFinished        // it has returned
	phaseGone            // the request has left Remember: its Context is off limits
)

// call is one GET request going through Remember. Its load method is the
// loader; it runs in a goroutine of the Cache, not the request's, so it
// touches the request's echo.Context only while the request is provably
// still waiting (phaseIdle -> phaseRunning), and the request waits for a
// running handler before it returns and Echo recycles the Context.
type call struct {
	m     *cacher
	c     echo.Context
	next  echo.HandlerFunc
	rt    *route
	start int64 // Unix µs
	auth  bool

	mu       sync.Mutex
	phase    int
	done     chan struct{}
	left     chan struct{} // made by a waiting refresh; closed when the request leaves (phaseGone)
	snap     *snapshot     // for a background revalidation after the request left
	ran      bool          // this request's handler produced the flight's result
	own      *entry        // what it produced, for its own client
	streamed bool          // it went straight to this request's client
	failed   int           // its status when the origin failed
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

func (m *cacher) remember(c echo.Context, next echo.HandlerFunc, rt *route, key string, opts []aside.Option) error {
	req := c.Request()
	k := &call{m: m, c: c, next: next, rt: rt, start: nowUs(), auth: len(req.Header["Authorization"]) > 0}
	val, err := aside.Remember(req.Context(), m.cfg.Cache, key, k.load, opts...)
	var e *entry
	if err == nil {
		var derr error
		if e, derr = m.parsed.get(val); derr != nil {
			err = derr
			ctx, cancel := context.WithTimeout(context.WithoutCancel(req.Context()), deleteTimeout)
			_ = m.cfg.Cache.Delete(ctx, key)
			cancel()
		}
	}

	k.mu.Lock()
	if k.phase == phaseRunning {
		ch := k.done
		k.mu.Unlock()
		<-ch
		k.mu.Lock()
	}
	if k.phase == phaseIdle && e != nil && rt.swr > 0 && (e.ttl == 0 || nowUs() >= e.freshUntil()) {
		// Remember may have started a background refresh with k.load: give
		// it what it needs to run without this request's Context.
		k.snap = snapshotOf(c)
	}
	k.phase = phaseGone
	ran, own, streamed, failed := k.ran, k.own, k.streamed, k.failed
	if k.left != nil {
		close(k.left)
	}
	k.mu.Unlock()

	switch {
	case streamed:
		return nil
	case e != nil && ran && failed != 0:
		return m.serve(c, e, staleIfErrorStatus(e, failed))
	case e != nil && ran:
		if own != nil && (!e.shared || m.cfg.RedactForLoader) {
			// Not stored: the client gets its whole response, Set-Cookie
			// included. Stored: the redacted form later hits get, unless
			// RedactForLoader.
			return m.serve(c, own, missStatus(e))
		}
		return m.serve(c, e, missStatus(e))
	case e != nil && !e.shared:
		// Another request's response that may not be shared (not storable):
		// this one runs the handler itself.
		return m.direct(c, next, "aside; fwd=miss; detail=not-shared")
	case e != nil && e.storedAt >= k.start:
		return m.serve(c, e, collapsedStatus(e))
	case e != nil:
		return m.serve(c, e, m.hitStatus(e))
	case ran && own != nil:
		// The origin failed with no stale entry to stand in, or the cache
		// failed after the handler ran: the client gets the real response.
		return m.serve(c, own, missStatus(own))
	case req.Context().Err() != nil:
		return nil // the client has gone; nothing to write
	}
	return m.direct(c, next, "aside; fwd=miss; detail=uncached")
}

// deleteTimeout bounds the removal of a stored response that does not decode.
const deleteTimeout = 2e9

// load is the loader given to aside.Remember.
func (k *call) load(ctx context.Context) ([]byte, error) {
	if aside.Refreshing(ctx) {
		// A background refresh: Remember has returned (or is returning) the
		// stale entry to the request, which may still be using its Context.
		// Wait until it has left and handed over a snapshot.
		k.mu.Lock()
		if k.phase != phaseGone && k.left == nil {
			k.left = make(chan struct{})
		}
		left := k.left
		k.mu.Unlock()
		if left != nil {
			select {
			case <-left:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	k.mu.Lock()
	switch k.phase {
	case phaseIdle:
	case phaseGone:
		snap := k.snap
		k.mu.Unlock()
		if snap == nil {
			return nil, errGone
		}
		ec := snap.e.NewContext(snap.req, nil)
		ec.SetPath(snap.path)
		ec.SetParamNames(snap.names...)
		ec.SetParamValues(snap.values...)
		r := k.run(ctx, ec, nil)
		return r.val, r.err
	default:
		k.mu.Unlock()
		return nil, errGone
	}
	k.phase = phaseRunning
	k.done = make(chan struct{})
	k.mu.Unlock()

	var r result
	defer func() {
		k.mu.Lock()
		k.phase = phaseFinished
		k.ran = true
		k.own, k.streamed, k.failed = r.own, r.streamed, r.failed
		close(k.done)
		k.mu.Unlock()
	}()
	r = k.run(ctx, k.c, k.c.Response())
	return r.val, r.err
}

// result is what one handler run produced.
type result struct {
	val      []byte
	err      error
	own      *entry
	streamed bool
	failed   int
}

// run runs the handler on ec with its writer captured and turns the
// response into a stored one. real is where a streamed response goes (nil
// in a background revalidation).
func (k *call) run(ctx context.Context, ec echo.Context, real http.ResponseWriter) (r result) {
	m := k.m
	req, res := ec.Request(), ec.Response()
	cw := newCapture(real, m.cfg.MaxBodySize)
	ec.SetRequest(req.WithContext(ctx))
	ec.SetResponse(echo.NewResponse(cw, ec.Echo()))
	defer func() {
		ec.SetRequest(req)
		ec.SetResponse(res)
	}()
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
	b := m.build(ctx, k, cw, herr)
	r.own = b.own
	if b.failed {
		r.failed = b.own.status
		r.err = &originError{status: b.own.status}
		return r
	}
	if !b.store {
		_ = aside.DontStore(ctx)
	}
	r.val = b.stored.appendTo(make([]byte, 0, 64+len(b.stored.body)))
	return r
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
