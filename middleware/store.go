package middleware

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

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

// judgement is what the caching rules make of one response.
type judgement struct {
	store    bool
	lifetime time.Duration // freshness lifetime
	age      time.Duration // corrected initial age
	swr, sie time.Duration // stale windows
	flags    uint8         // flagNoCache, flagNoStale
}

// judge applies the storage and freshness rules of RFC 9111 (sections 3,
// 4.2, 5.2, RFC 5861 and RFC 9213) to a response of status with header h,
// produced by a handler run that started at start and ended at now (Unix
// µs). It also sets the response's freshness for the Cache (LoadTTL) when it
// is to be stored.
func (m *cacher) judge(ctx context.Context, k *call, status int, h http.Header, herr error, start, now int64) judgement {
	nowT := time.UnixMicro(now)
	pol := policyOf(h, m.targets, nowT)
	cc := pol.cc
	var he *echo.HTTPError
	understood := knownStatus(status)
	j := judgement{store: (herr == nil || errors.As(herr, &he)) &&
		status >= 200 && status != http.StatusPartialContent && status != http.StatusNotModified &&
		// must-understand: store only a status the cache knows, and then
		// despite no-store (RFC 9111 section 5.2.2.3).
		!(cc.noStore && !(cc.mustUnderstand && understood)) && !(cc.mustUnderstand && !understood) &&
		!cc.private &&
		len(h["Set-Cookie"]) == 0 && len(h["Set-Cookie2"]) == 0 &&
		// RFC 9111 section 3.5: a response to a request with Authorization
		// only when it says so.
		(!k.auth || cc.public || cc.sMaxAge >= 0 || cc.mustRevalidate)}

	ttl := k.rt.ttl
	if ttl == 0 {
		ttl = m.cfg.Cache.DefaultTTL()
	}
	defaultable := m.cacheableStatus(status) || cc.public
	switch {
	case !m.honorOrigin:
		j.lifetime = ttl
		j.store = j.store && m.cacheableStatus(status)
	case pol.explicit:
		// Explicit freshness makes any final status storable (RFC 9111
		// section 3).
		j.lifetime = pol.lifetime
	case m.proxy:
		// At most heuristic freshness; a no-cache response needs none (it
		// is revalidated on every use).
		d, ok := heuristicLifetime(h, nowT, m.heuristicMax)
		j.lifetime = d
		j.store = j.store && (ok || cc.noCache) && defaultable
	default:
		j.lifetime = ttl
		j.store = j.store && defaultable
	}
	if m.honorOrigin {
		j.age = correctedInitialAge(h, time.UnixMicro(start), nowT)
	}
	if cc.noCache {
		j.lifetime = 0
	}
	fresh := j.lifetime - j.age
	if cc.noCache || fresh <= 0 {
		// Stored only to be revalidated on every use, which needs a
		// validator and room to keep it.
		j.flags |= flagNoCache
		j.store = j.store && m.keepStale > 0 && (h.Get("Etag") != "" || h.Get("Last-Modified") != "")
	}
	j.swr, j.sie = k.rt.swr, k.rt.sie
	if cc.swr >= 0 {
		j.swr = min(time.Duration(cc.swr)*time.Second, m.keepStale)
	}
	if cc.sie >= 0 {
		j.sie = min(time.Duration(cc.sie)*time.Second, m.keepStale)
	}
	if cc.mustRevalidate || cc.sMaxAge >= 0 || cc.noCache {
		// RFC 9111 section 4.2.4: never served stale (s-maxage implies
		// proxy-revalidate).
		j.flags |= flagNoStale
		j.swr, j.sie = 0, 0
	}
	if j.store {
		ttl := fresh
		if j.flags&flagNoCache != 0 {
			// Stale to the Cache at once (its clock has milliseconds): every
			// read revalidates.
			ttl = time.Nanosecond
		}
		_ = aside.LoadTTL(ctx, ttl)
	}
	return j
}

// build turns a captured response into what is stored and what its own
// client gets. retry asks the caller to run the handler again without
// validators: a 304 that does not select the stale response it revalidated.
func (m *cacher) build(ctx context.Context, k *call, req *http.Request, cw *capture, herr error, stale *entry, sent bool, start int64) (b built, retry bool) {
	status := cw.status
	if !cw.wrote {
		status = http.StatusOK
	}
	h := cw.header
	now := nowUs()
	if status == http.StatusNotModified && stale != nil && sent && herr == nil {
		if !selects(h, stale) {
			return b, true
		}
		return m.refresh(ctx, k, stale, h, start, now), false
	}
	enc, known := contentCoding(h.Get("Content-Encoding"))
	if !known {
		enc = encOpaque // a coding the cache does not handle: kept as it came
	}
	own := &entry{status: status, storedAt: now, header: replayable(h, enc == encOpaque, true), body: cw.buf, rawLen: -1, enc: enc}
	if enc == encIdentity {
		own.rawLen = len(cw.buf)
	}
	stampDate(own.header, now)
	own.derive()
	b.own = own
	j := judgement{}
	errStatus := status == 500 || status == 502 || status == 503 || status == 504 || (herr != nil && status >= 500)
	if errStatus {
		// An origin failure: stale-if-error may answer it. Only one with
		// explicit freshness and nothing stale to stand in is stored.
		pol := policyOf(h, m.targets, time.UnixMicro(now))
		if herr != nil || !pol.explicit || !m.honorOrigin || (stale != nil && m.errorOK(stale, now)) {
			b.failed = true
			return b, false
		}
	}
	j = m.judge(ctx, k, status, h, herr, start, now)
	b.store = j.store

	varyOn, star := m.responseVary(h["Vary"], enc == encOpaque)
	if enc == encOpaque && !m.proxy {
		b.store = false // an application's own handlers: a coding the cache cannot read is not stored
	}
	var v string
	if len(varyOn) > 0 {
		var ok bool
		v, ok = variant(req.Header, varyOn)
		b.store = b.store && ok
	}
	b.store = b.store && !star && m.admitVariant(k, varyOn, v)

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
	flags := j.flags
	if etag == "" && (status == http.StatusOK || status == http.StatusNonAuthoritativeInfo) && enc != encOpaque {
		flags |= flagOwnETag
	}
	if enc == encIdentity {
		raw = len(body)
		if flags&flagOwnETag != 0 {
			etag = weakETag(body)
		}
		if m.enc != encIdentity && len(body) >= m.cfg.MinCompressSize && isCompressible(h.Get("Content-Type")) {
			if z, err := codec.AppendCompressed(nil, body, m.alg, m.cfg.CompressionLevel); err == nil && len(z) < len(body) {
				body, enc = z, m.enc
				flags |= flagTranscoded
				if etag != "" && !strings.HasPrefix(etag, "W/") {
					etag = "W/" + etag // another representation of the handler's strong validator
					flags |= flagWeakened
				}
			}
		}
	} else if flags&flagOwnETag != 0 {
		etag = weakETag(body)
	}

	st := &entry{
		status: status, storedAt: now, lifetime: j.lifetime.Milliseconds(), age: j.age.Milliseconds(),
		swr: j.swr.Milliseconds(), sie: j.sie.Milliseconds(), flags: flags,
		enc: enc, shared: b.store, rawLen: raw, body: body, varyOn: varyOn, variant: v,
	}
	st.header = replayable(h, enc == encOpaque, false)
	stampDate(st.header, now)
	if vs := storedVary(h["Vary"], enc == encGzip || enc == encZstd); vs != "" {
		st.header["Vary"] = []string{vs}
	} else {
		delete(st.header, "Vary")
	}
	if etag != "" {
		st.header["Etag"] = []string{etag}
	}
	st.derive()
	b.stored = st
	return b, false
}

// admitVariant applies the per-URL bound on variants: a response stored
// under a variant key counts against its primary key; one stored under the
// primary key starts the count afresh.
func (m *cacher) admitVariant(k *call, varyOn []string, v string) bool {
	if !k.variant {
		if len(varyOn) > 0 {
			m.variants.reset(k.key)
		}
		return true
	}
	return m.variants.admit(k.key, v)
}

// selects reports whether a 304 selects the stored response it revalidates
// (RFC 9111 section 4.3.4): a strong ETag in the 304 must be the stored one.
func selects(h http.Header, stale *entry) bool {
	et := h.Get("Etag")
	if et == "" || strings.HasPrefix(et, "W/") || strings.HasPrefix(et, "w/") {
		return true
	}
	stored := stale.etag
	if stale.flags&flagOwnETag != 0 {
		return false
	}
	if stale.flags&flagWeakened != 0 {
		stored = strings.TrimPrefix(stored, "W/")
	}
	return et == stored
}

// refresh merges a 304 into the stale response it revalidated (RFC 9111
// sections 3.2 and 4.3.4): the 304's fields replace the stored ones except
// those describing the stored content, and freshness starts again from the
// 304.
func (m *cacher) refresh(ctx context.Context, k *call, stale *entry, h304 http.Header, start, now int64) built {
	merged := make(http.Header, len(stale.header)+len(h304))
	for name, vs := range stale.header {
		merged[name] = vs
	}
	conn := h304["Connection"]
	for name, vs := range h304 {
		if notStored[name] || notUpdatedBy304[name] || listed(conn, name) {
			continue
		}
		merged[name] = append([]string(nil), vs...)[:len(vs):len(vs)]
	}
	if stale.enc == encOpaque {
		merged["Content-Encoding"] = stale.header["Content-Encoding"]
	}
	if len(h304["Date"]) == 0 {
		delete(merged, "Date") // the stored Date is not the 304's: stampDate gives it the time of the 304
	}
	j := m.judge(ctx, k, stale.status, merged, nil, start, now)
	e := *stale
	e.header, e.storedAt, e.shared = merged, now, j.store
	e.lifetime, e.age = j.lifetime.Milliseconds(), j.age.Milliseconds()
	e.swr, e.sie = j.swr.Milliseconds(), j.sie.Milliseconds()
	e.flags = stale.flags&(flagOwnETag|flagWeakened|flagTranscoded) | j.flags
	stampDate(merged, now)
	e.derive()
	return built{stored: &e, own: &e, store: j.store}
}

// stampDate gives a response without a valid Date the time it arrived (RFC
// 9110 section 6.6.1), so that hits repeat the origin's Date and an Age that
// agrees with it. It runs after the age is judged: a Date truncated to the
// second must not add an apparent age of its own.
func stampDate(h http.Header, now int64) {
	if v := h["Date"]; len(v) == 1 {
		if _, ok := parseHTTPDate(v[0]); ok {
			return
		}
	}
	h["Date"] = []string{time.UnixMicro(now).UTC().Format(http.TimeFormat)}
}

// storedVary is the Vary a stored response is replayed with: the origin's,
// with Accept-Encoding when the cache negotiates the coding.
func storedVary(lines []string, encoded bool) string {
	var out []string
	for _, line := range lines {
		for tok := range strings.SplitSeq(line, ",") {
			tok = strings.Trim(tok, " \t")
			if tok == "" || (encoded && strings.EqualFold(tok, "Accept-Encoding")) {
				continue
			}
			if name := http.CanonicalHeaderKey(tok); !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	if encoded {
		out = append(out, "Accept-Encoding")
	}
	return strings.Join(out, ", ")
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

// replayable copies the headers worth replaying: never hop-by-hop ones or
// those named in Connection, nor Set-Cookie and Age unless own (a
// response's own client gets them as the origin sent them), nor
// Content-Encoding unless keepEncoding (a coding the cache does not handle). Every value slice has
// len == cap, so an append by later middleware copies instead of writing
// into the shared entry.
func replayable(h http.Header, keepEncoding, own bool) http.Header {
	out := make(http.Header, len(h))
	conn := h["Connection"]
	for k, vs := range h {
		if notStored[k] && !(keepEncoding && k == "Content-Encoding") && !(own && (k == "Set-Cookie" || k == "Set-Cookie2" || k == "Age")) {
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
