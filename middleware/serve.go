package middleware

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/aside-go/aside/codec"
)

var (
	encHeader = [...][]string{encGzip: {"gzip"}, encZstd: {"zstd"}}
	encAlg    = [...]codec.Algorithm{encGzip: codec.Gzip, encZstd: codec.Zstd}
)

var plainBufs = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// serve writes e to the request's own writer: the stored headers, Age,
// Cache-Status, and the body in a coding the client accepts, or 304 when
// the client's validator matches.
func (m *cacher) serve(c echo.Context, e *entry, cacheStatus string) error {
	req, res := c.Request(), c.Response()
	h := res.Header()
	// An encoder outside this middleware (Echo's Gzip announces itself with
	// Vary: Accept-Encoding before calling us) must get an identity body.
	outerCoder := len(h["Content-Encoding"]) > 0 || listed(h["Vary"], "Accept-Encoding")

	var vals [3]string
	vals[0] = cacheStatus
	h["Cache-Status"] = vals[0:1:1]
	if e.shared {
		vals[1] = itoa(e.ageAt(nowUs()))
		h["Age"] = vals[1:2:2]
	}

	if e.status == http.StatusOK && m.notModified(req, e) {
		for _, k := range headersFor304 {
			if vs, ok := e.header[k]; ok {
				setHeader(h, k, vs)
			}
		}
		res.WriteHeader(http.StatusNotModified)
		return nil
	}
	for k, vs := range e.header {
		setHeader(h, k, vs)
	}

	body := e.body
	var pooled *[]byte
	if e.enc == encGzip || e.enc == encZstd {
		if !outerCoder && acceptsEncoding(req.Header["Accept-Encoding"], encNames[e.enc]) {
			h["Content-Encoding"] = encHeader[e.enc]
		} else {
			pooled = plainBufs.Get().(*[]byte)
			plain, err := codec.AppendDecompressed((*pooled)[:0], e.body, encAlg[e.enc])
			if err != nil {
				plainBufs.Put(pooled)
				return err
			}
			body = plain
			defer func() {
				if cap(plain) <= 1<<20 {
					*pooled = plain[:0]
					plainBufs.Put(pooled)
				}
			}()
		}
	}
	if bodyAllowed(e.status) {
		if len(body) == len(e.body) {
			h["Content-Length"] = e.contentLength
		} else {
			vals[2] = itoa(len(body))
			h["Content-Length"] = vals[2:3:3]
		}
	}
	res.WriteHeader(e.status)
	if req.Method == http.MethodHead || !bodyAllowed(e.status) || len(body) == 0 {
		return nil
	}
	_, err := res.Write(body)
	return err
}

// setHeader shares the entry's value slice, merging Vary with what outer
// middleware already announced.
func setHeader(h http.Header, k string, vs []string) {
	if k == "Vary" {
		if prev := h["Vary"]; len(prev) > 0 {
			h["Vary"] = append(prev[:len(prev):len(prev)], vs...)
			return
		}
	}
	h[k] = vs
}

func (m *cacher) notModified(req *http.Request, e *entry) bool {
	if inm := req.Header.Get("If-None-Match"); inm != "" {
		return etagMatches(inm, e.etag)
	}
	lm := e.lastModified
	if lm == "" {
		// RFC 9111 section 4.3.2: without Last-Modified, the stored Date.
		lm = e.date
	}
	return notModifiedSince(req.Header.Get("If-Modified-Since"), lm)
}

// Cache-Status values (RFC 9211). They name the cache and what it did; they
// never carry the key.

func (m *cacher) hitStatus(e *entry) string {
	return "aside; hit; ttl=" + ttlString(e)
}

// missStatus: fwd is "miss", or "stale" when a stored response was
// revalidated (fwd-status=304 when the origin confirmed it).
func missStatus(e *entry, fwd string) string {
	s := "aside; fwd=" + fwd + "; fwd-status=" + itoa(e.status)
	if e.shared {
		s += "; stored; ttl=" + ttlString(e)
	}
	return s
}

func collapsedStatus(e *entry) string {
	return "aside; fwd=miss; fwd-status=" + itoa(e.status) + "; collapsed"
}

func staleIfErrorStatus(e *entry, failed int) string {
	s := "aside; fwd=stale"
	if failed != 0 {
		s += "; fwd-status=" + itoa(failed)
	}
	return s + "; ttl=" + ttlString(e) + "; detail=stale-if-error"
}

// ttlString is the remaining freshness in whole seconds, negative once
// stale.
func ttlString(e *entry) string {
	left := e.freshUntil() - nowUs()
	if left >= 0 {
		return itoa(int(left / 1e6))
	}
	return "-" + itoa(int((-left+999999)/1e6))
}

// serveRange answers a Range request from a stored complete response (RFC
// 9110 section 14): 206 with the one byte range asked for, 416 when it lies
// outside the content, and the whole response when the range is not one the
// cache serves (several ranges, another unit), If-Range does not match, or
// the stored response is not a complete 200 in a form the cache can slice.
func (m *cacher) serveRange(c echo.Context, e *entry, cacheStatus string) error {
	req, res := c.Request(), c.Response()
	if e.status != http.StatusOK || e.enc == encOpaque || (e.enc != encIdentity && e.flags&flagTranscoded == 0) ||
		!ifRangeMatches(req.Header.Get("If-Range"), e) {
		return m.serve(c, e, cacheStatus)
	}
	body := e.body
	if e.enc != encIdentity {
		plain, err := codec.AppendDecompressed(nil, e.body, encAlg[e.enc])
		if err != nil {
			return err
		}
		body = plain
	}
	first, last, ok := byteRange(req.Header.Get("Range"), int64(len(body)))
	if !ok {
		return m.serve(c, e, cacheStatus)
	}
	h := res.Header()
	for k, vs := range e.header {
		setHeader(h, k, vs)
	}
	delete(h, "Content-Encoding")
	h["Cache-Status"] = []string{cacheStatus}
	h["Age"] = []string{itoa(e.ageAt(nowUs()))}
	if first < 0 {
		h["Content-Range"] = []string{"bytes */" + itoa(len(body))}
		res.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return nil
	}
	h["Content-Range"] = []string{"bytes " + itoa(int(first)) + "-" + itoa(int(last)) + "/" + itoa(len(body))}
	h["Content-Length"] = []string{itoa(int(last - first + 1))}
	res.WriteHeader(http.StatusPartialContent)
	if req.Method == http.MethodHead {
		return nil
	}
	_, err := res.Write(body[first : last+1])
	return err
}

// ifRangeMatches reports whether If-Range (absent, or a strong ETag or a
// date equal to the stored validator) lets a range be served (RFC 9110
// section 13.1.5).
func ifRangeMatches(ifRange string, e *entry) bool {
	switch {
	case ifRange == "":
		return true
	case strings.HasPrefix(ifRange, `"`):
		return e.etag == ifRange
	}
	return e.lastModified != "" && ifRange == e.lastModified
}

// byteRange parses a Range of one byte range over size bytes. ok is false
// when the cache does not serve it (another unit, several ranges, a
// malformed one: the whole response is sent); first < 0 with ok means it is
// not satisfiable.
func byteRange(v string, size int64) (first, last int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(strings.Trim(spec, " \t"), "-")
	if !found {
		return 0, 0, false
	}
	num := func(s string) (int64, bool) {
		if s == "" || len(s) > 18 {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil && n >= 0
	}
	switch {
	case a == "": // suffix: the last b bytes
		n, ok := num(b)
		if !ok {
			return 0, 0, false
		}
		if n == 0 || size == 0 {
			return -1, 0, true
		}
		return max(size-n, 0), size - 1, true
	default:
		f, ok := num(a)
		if !ok {
			return 0, 0, false
		}
		l := size - 1
		if b != "" {
			if l, ok = num(b); !ok || l < f {
				return 0, 0, false
			}
		}
		if f >= size {
			return -1, 0, true
		}
		return f, min(l, size-1), true
	}
}

// headWriter is the writer of a HEAD request run as a GET: everything but
// the content reaches the client.
type headWriter struct {
	w     http.ResponseWriter
	wrote bool
}

func (h *headWriter) Header() http.Header { return h.w.Header() }

func (h *headWriter) WriteHeader(code int) {
	if code >= 200 {
		h.wrote = true
	}
	h.w.WriteHeader(code)
}

func (h *headWriter) Write(p []byte) (int, error) {
	if !h.wrote {
		h.WriteHeader(http.StatusOK)
	}
	return len(p), nil
}

func (h *headWriter) Flush() { _ = http.NewResponseController(h.w).Flush() }

func (h *headWriter) Unwrap() http.ResponseWriter { return h.w }
