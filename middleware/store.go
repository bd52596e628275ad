package middleware

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/labstack/echo/v4"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/codec"
)

// built is a captured response turned into what is stored and what its own
// client gets.
type built struct {
	stored *entry // the form stored and served to every other request
	own    *entry // the handler's whole response (Set-Cookie, unredacted body)
	store  bool
	failed bool // 500, 502, 503, 504 or a handler error: stale-if-error may answer
}

func (m *cacher) build(ctx context.Context, k *call, cw *capture, herr error) built {
	status := cw.status
	if !cw.wrote {
		status = http.StatusOK
	}
	h := cw.header
	now := nowUs()
	enc, known := contentCoding(h.Get("Content-Encoding"))
	own := &entry{status: status, storedAt: now, header: replayable(h, !known, true), body: cw.buf, rawLen: -1}
	if known {
		own.enc = enc
	}
	if enc == encIdentity {
		own.rawLen = len(cw.buf)
	}
	own.derive()
	b := built{own: own}
	switch {
	case status == 500, status == 502, status == 503, status == 504:
		b.failed = true
		return b
	case herr != nil && status >= 500:
		b.failed = true
		return b
	}

	cc := parseCacheControl(h["Cache-Control"])
	var he *echo.HTTPError
	b.store = known &&
		(herr == nil || errors.As(herr, &he)) &&
		m.cacheableStatus(status) &&
		!cc.noStore && !cc.private && !cc.noCache &&
		len(h["Set-Cookie"]) == 0 && len(h["Set-Cookie2"]) == 0 &&
		(!k.auth || cc.public || cc.sMaxAge >= 0 || cc.mustRevalidate)
	vary, varyOK := m.storedVary(h["Vary"])
	b.store = b.store && varyOK

	ttl := k.rt.ttl
	if ttl == 0 {
		ttl = m.cfg.Cache.DefaultTTL()
	}
	if m.honorOrigin && b.store {
		if d, ok := lifetime(cc, h); ok {
			if d <= 0 {
				b.store = false
			} else if err := aside.LoadTTL(ctx, d); err == nil {
				ttl = d
			}
		}
	}

	body := cw.buf
	if !bodyAllowed(status) {
		body = nil
	}
	// Redaction: a JSON body is stored (and by default served) redacted.
	if b.store && isJSON(h.Get("Content-Type")) && len(body) > 0 {
		red, err := m.redact(body, enc)
		if err != nil {
			b.store = false // cannot vouch for what it holds: never store it
		} else {
			body = red
		}
	}
	raw := -1
	etag := h.Get("Etag")
	if enc == encIdentity {
		raw = len(body)
		if etag == "" && (status == http.StatusOK || status == http.StatusNonAuthoritativeInfo) {
			etag = weakETag(body)
		}
		if m.enc != encIdentity && len(body) >= m.cfg.MinCompressSize && isCompressible(h.Get("Content-Type")) {
			if z, err := codec.AppendCompressed(nil, body, m.alg, m.cfg.CompressionLevel); err == nil && len(z) < len(body) {
				body, enc = z, m.enc
				if etag != "" && !strings.HasPrefix(etag, "W/") {
					etag = "W/" + etag // another representation of the handler's strong validator
				}
			}
		}
	} else if etag == "" && (status == http.StatusOK || status == http.StatusNonAuthoritativeInfo) {
		etag = weakETag(body)
	}

	st := &entry{status: status, storedAt: now, ttl: ttl.Milliseconds(), enc: enc, shared: b.store, rawLen: raw, body: body}
	st.header = replayable(h, false, false)
	delete(st.header, "Vary")
	if enc != encIdentity {
		vary = append(vary, "Accept-Encoding")
	}
	if len(vary) > 0 {
		st.header["Vary"] = []string{strings.Join(vary, ", ")}
	}
	if etag != "" {
		st.header["Etag"] = []string{etag}
	}
	st.derive()
	b.stored = st
	return b
}

// redact runs the Cache's JSON redaction over a body in coding enc.
func (m *cacher) redact(body []byte, enc uint8) ([]byte, error) {
	if enc == encIdentity {
		return m.cfg.Cache.RedactJSON(body)
	}
	alg := codec.Gzip
	if enc == encZstd {
		alg = codec.Zstd
	}
	plain, err := codec.AppendDecompressed(nil, body, alg)
	if err != nil {
		return nil, err
	}
	red, err := m.cfg.Cache.RedactJSON(plain)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(red, plain) {
		return body, nil
	}
	return codec.AppendCompressed(nil, red, alg, 0)
}

// storedVary returns the Vary tokens to store (Accept-Encoding left out: the
// cache negotiates it) and whether a response with this Vary may be stored:
// every header it names must be part of the key.
func (m *cacher) storedVary(lines []string) ([]string, bool) {
	var out []string
	for _, line := range lines {
		for _, tok := range strings.Split(line, ",") {
			tok = strings.TrimSpace(tok)
			switch {
			case tok == "":
			case tok == "*":
				return nil, false
			case strings.EqualFold(tok, "Accept-Encoding"):
			default:
				name := http.CanonicalHeaderKey(tok)
				found := false
				for _, v := range m.vary {
					if v == name {
						found = true
						break
					}
				}
				if !found {
					return nil, false
				}
				out = append(out, name)
			}
		}
	}
	return out, true
}

// replayable copies the headers worth replaying: never hop-by-hop ones or
// those named in Connection, nor Set-Cookie unless keepCookies (a
// response's own client), nor Content-Encoding unless keepEncoding (a coding
// the cache does not handle, for the own client). Every value slice has
// len == cap, so an append by later middleware copies instead of writing
// into the shared entry.
func replayable(h http.Header, keepEncoding, keepCookies bool) http.Header {
	out := make(http.Header, len(h))
	conn := h["Connection"]
	for k, vs := range h {
		if notStored[k] && !(keepEncoding && k == "Content-Encoding") && !(keepCookies && (k == "Set-Cookie" || k == "Set-Cookie2")) {
			continue
		}
		if listed(conn, k) {
			continue
		}
		out[k] = append([]string(nil), vs...)[:len(vs):len(vs)]
	}
	return out
}

func listed(lines []string, name string) bool {
	for _, line := range lines {
		for _, tok := range strings.Split(line, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), name) {
				return true
			}
		}
	}
	return false
}

func contentCoding(v string) (enc uint8, known bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "identity":
		return encIdentity, true
	case "gzip", "x-gzip":
		return encGzip, true
	case "zstd":
		return encZstd, true
	}
	return encIdentity, false
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

func weakETag(body []byte) string {
	var b [8]byte
	sum := xxhash.Sum64(body)
	for i := range b {
		b[i] = byte(sum >> (56 - 8*i))
	}
	return `W/"` + hex.EncodeToString(b[:]) + `"`
}
