package middleware

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// capture is the writer a cached handler writes into. It buffers the
// response so that every request (the one that ran the handler and those
// collapsed onto it) writes the stored response to its own writer. It turns
// into a pass-through to the real writer of the request that ran the handler
// as soon as the response shows it is streamed — a Flush, a Hijack, a 101
// or text/event-stream response, or a body over the size limit — writing
// what it buffered first. A response that switched is never stored and never
// shared (see call.load). Without a real writer (a background revalidation)
// switching aborts: further writes fail with errNoClient.
type capture struct {
	header  http.Header
	status  int
	wrote   bool
	buf     []byte
	limit   int
	real    http.ResponseWriter // nil in a background revalidation
	interim http.ResponseWriter // where 1xx responses go (the client's raw writer), or nil
	res     *echo.Response      // the echo.Response the handler writes through
	reset   bool                // res was committed by a 1xx: undo that at the next Header call
	passing bool                // the response goes straight to real
	aborted bool                // it wanted to stream, but there is no client
	reason  string              // why it switched: streamed or too-large
}

var errNoClient = errors.New("aside: middleware: streamed response during a background revalidation has no client")

func newCapture(real http.ResponseWriter, limit int) *capture {
	return &capture{header: make(http.Header, 8), real: real, limit: limit}
}

func (w *capture) Header() http.Header {
	if w.reset {
		// echo.Response counts a 1xx as the response: let the final
		// status through (httputil.ReverseProxy clears the header map
		// right after relaying a 1xx, so this runs before it).
		w.reset = false
		w.res.Committed = false
	}
	if w.passing {
		return w.real.Header()
	}
	return w.header
}

func (w *capture) WriteHeader(code int) {
	if w.passing {
		w.real.WriteHeader(code)
		return
	}
	if w.wrote || w.aborted {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		// Informational responses (103 Early Hints...) reach the client of
		// the request that ran the handler, and are never stored.
		w.sendInterim(code)
		return
	}
	w.status, w.wrote = code, true
	if code == http.StatusSwitchingProtocols || isEventStream(w.header.Get("Content-Type")) {
		w.pass("streamed")
	}
}

func (w *capture) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	switch {
	case w.passing:
		return w.real.Write(p)
	case w.aborted:
		return 0, errNoClient
	case len(w.buf)+len(p) > w.limit:
		w.pass("too-large")
		return w.Write(p)
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}

// sendInterim relays a 1xx to the client with the fields set so far, then
// leaves the client's header map as it was.
func (w *capture) sendInterim(code int) {
	if w.res != nil {
		w.reset = true
	}
	if w.interim == nil {
		return
	}
	h := w.interim.Header()
	saved := make(http.Header, len(h))
	for k, vs := range h {
		saved[k] = vs
	}
	for k, vs := range w.header {
		h[k] = vs
	}
	w.interim.WriteHeader(code)
	clear(h)
	for k, vs := range saved {
		h[k] = vs
	}
}

// Flush makes the response a stream.
func (w *capture) Flush() {
	w.pass("streamed")
	if w.passing {
		_ = http.NewResponseController(w.real).Flush()
	}
}

// Hijack hands the connection over: only the request's own client can take
// it, and the response is neither stored nor shared.
func (w *capture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.real == nil {
		w.aborted, w.reason = true, "streamed"
		return nil, nil, http.ErrNotSupported
	}
	w.passing, w.reason = true, "streamed"
	return http.NewResponseController(w.real).Hijack()
}

// Unwrap lets http.ResponseController reach deadlines and full duplex on the
// real writer.
func (w *capture) Unwrap() http.ResponseWriter { return w.real }

// pass switches to pass-through, writing what was buffered.
func (w *capture) pass(reason string) {
	if w.passing || w.aborted {
		return
	}
	w.reason = reason
	if w.real == nil {
		w.aborted = true
		return
	}
	h := w.real.Header()
	for k, vs := range w.header {
		h[k] = vs
	}
	h.Set("Cache-Status", "aside; fwd=miss; detail="+reason)
	w.passing = true
	if w.wrote {
		w.real.WriteHeader(w.status)
		if len(w.buf) > 0 {
			_, _ = w.real.Write(w.buf)
		}
	}
	w.buf = nil
}

// switched reports whether the response left the buffer.
func (w *capture) switched() bool { return w.passing || w.aborted }

func isEventStream(ct string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "text/event-stream")
}
