package middleware

import (
	"net/http"
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
		vals[1] = itoa(int(max(nowUs()-e.storedAt, 0) / 1e6))
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
	if e.enc != encIdentity {
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
	return notModifiedSince(req.Header.Get("If-Modified-Since"), e.lastModified)
}

// Cache-Status values (RFC 9211). They name the cache and what it did; they
// never carry the key.

func (m *cacher) hitStatus(e *entry) string {
	if e.ttl == 0 {
		return "aside; hit"
	}
	return "aside; hit; ttl=" + ttlString(e)
}

func missStatus(e *entry) string {
	s := "aside; fwd=miss; fwd-status=" + itoa(e.status)
	if e.shared {
		s += "; stored"
		if e.ttl > 0 {
			s += "; ttl=" + ttlString(e)
		}
	}
	return s
}

func collapsedStatus(e *entry) string {
	return "aside; fwd=miss; fwd-status=" + itoa(e.status) + "; collapsed"
}

func staleIfErrorStatus(e *entry, failed int) string {
	s := "aside; fwd=miss; fwd-status=" + itoa(failed)
	if e.ttl > 0 {
		s += "; ttl=" + ttlString(e)
	}
	return s + "; detail=stale-if-error"
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
