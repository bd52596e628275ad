package middleware

import (
	"encoding/binary"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"
)

// A stored response, as the bytes handed to aside.Remember (the Cache then
// wraps them in its codec frame and envelope):
//
//	byte 0   magic 'H'
//	byte 1   format version 2
//	byte 2   flags (flagShared...)
//	byte 3   body encoding: 0 identity, 1 gzip, 2 zstd, 3 opaque (a coding
//	         the cache does not handle, stored and replayed as it came)
//	uvarint  status
//	uvarint  stored at: when the response arrived (Unix µs)
//	uvarint  freshness lifetime (ms)
//	uvarint  corrected initial age: how old it was on arrival (ms)
//	uvarint  stale-while-revalidate window (ms)
//	uvarint  stale-if-error window (ms)
//	uvarint  identity body length + 1 (0 = unknown)
//	uvarint  count of the request headers the response varies on; per
//	         header: uvarint name length, name; then uvarint length and the
//	         variant (see variant) of the request it answered
//	uvarint  header count; per header: uvarint name length, name,
//	         uvarint value count, per value: uvarint length, value
//	rest     the body, in the body encoding
//
// Version 1 (before the conditional revalidation and variants of issue 10)
// lacked the age, windows and vary fields; it is still read.
const (
	entryMagic     = 'H'
	entryVersion   = 2
	entryVersionV1 = 1

	flagShared     = 1 << 0 // stored: servable to any request with the key
	flagNoCache    = 1 << 1 // revalidate on every use (no-cache, or stored stale)
	flagNoStale    = 1 << 2 // never served stale (must-revalidate, s-maxage...)
	flagOwnETag    = 1 << 3 // the ETag is the cache's own, not the origin's
	flagWeakened   = 1 << 4 // the origin's strong ETag, made weak for a body the cache encoded
	flagTranscoded = 1 << 5 // the cache encoded an identity body: ranges may be served from it

	encIdentity = 0
	encGzip     = 1
	encZstd     = 2
	encOpaque   = 3
)

var errBadEntry = errors.New("aside: middleware: corrupt stored response")

var encNames = [...]string{encIdentity: "", encGzip: "gzip", encZstd: "zstd", encOpaque: ""}

// entry is a response as stored and served.
type entry struct {
	status   int
	flags    uint8
	storedAt int64 // Unix µs, when the response arrived
	lifetime int64 // ms: freshness lifetime
	age      int64 // ms: corrected initial age
	swr, sie int64 // ms: stale windows
	enc      uint8
	shared   bool
	rawLen   int         // -1 = unknown
	varyOn   []string    // request headers beyond the key the response varies on
	variant  string      // their values in the request it answered (see variant)
	header   http.Header // replayed as is: every slice has len == cap
	body     []byte

	// Derived once per entry (see parsed).
	etag, lastModified, date string
	contentLength            []string // len(body), for pass-through
	rawContentLength         []string // rawLen, for identity clients
}

func (e *entry) appendTo(dst []byte) []byte {
	flags := e.flags &^ flagShared
	if e.shared {
		flags |= flagShared
	}
	dst = append(dst, entryMagic, entryVersion, flags, e.enc)
	dst = binary.AppendUvarint(dst, uint64(e.status))
	for _, v := range [...]int64{e.storedAt, e.lifetime, e.age, e.swr, e.sie, int64(e.rawLen + 1)} {
		dst = binary.AppendUvarint(dst, uint64(max(v, 0)))
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.varyOn)))
	for _, name := range e.varyOn {
		dst = binary.AppendUvarint(dst, uint64(len(name)))
		dst = append(dst, name...)
	}
	if len(e.varyOn) > 0 {
		dst = binary.AppendUvarint(dst, uint64(len(e.variant)))
		dst = append(dst, e.variant...)
	}
	names := make([]string, 0, len(e.header))
	for k := range e.header {
		names = append(names, k)
	}
	slices.Sort(names)
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, k := range names {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		vs := e.header[k]
		dst = binary.AppendUvarint(dst, uint64(len(vs)))
		for _, v := range vs {
			dst = binary.AppendUvarint(dst, uint64(len(v)))
			dst = append(dst, v...)
		}
	}
	return append(dst, e.body...)
}

// Bounds that a well-formed entry never exceeds; anything beyond is corrupt.
const (
	maxEntryHeaders = 256
	maxHeaderValues = 64
)

func decodeEntry(b []byte) (*entry, error) {
	if len(b) < 4 || b[0] != entryMagic || (b[1] != entryVersion && b[1] != entryVersionV1) || b[3] > encOpaque {
		return nil, errBadEntry
	}
	v1 := b[1] == entryVersionV1
	e := &entry{flags: b[2], shared: b[2]&flagShared != 0, enc: b[3]}
	rest := b[4:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return 0, false
		}
		rest = rest[n:]
		return v, true
	}
	next := func() (string, bool) {
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)-n) {
			return "", false
		}
		s := string(rest[n : n+int(l)])
		rest = rest[n+int(l):]
		return s, true
	}
	fields := []*int64{&e.storedAt, &e.lifetime, &e.age, &e.swr, &e.sie, nil}
	if v1 {
		e.flags &= flagShared
		fields = []*int64{&e.storedAt, &e.lifetime, nil}
	}
	status, ok := uv()
	if !ok || status < 100 || status > 999 {
		return nil, errBadEntry
	}
	e.status = int(status)
	for _, f := range fields {
		v, ok := uv()
		if !ok || v > 1<<62 {
			return nil, errBadEntry
		}
		if f == nil {
			if v > 1<<31 {
				return nil, errBadEntry
			}
			e.rawLen = int(v) - 1
		} else {
			*f = int64(v)
		}
	}
	if !v1 {
		nv, ok := uv()
		if !ok || nv > maxVaryHeaders {
			return nil, errBadEntry
		}
		for range nv {
			name, ok := next()
			if !ok {
				return nil, errBadEntry
			}
			e.varyOn = append(e.varyOn, name)
		}
		if nv > 0 {
			if e.variant, ok = next(); !ok {
				return nil, errBadEntry
			}
		}
	}
	count, ok := uv()
	if !ok || count > maxEntryHeaders {
		return nil, errBadEntry
	}
	e.header = make(http.Header, count)
	for range count {
		name, ok := next()
		if !ok {
			return nil, errBadEntry
		}
		nv, ok := uv()
		if !ok || nv > maxHeaderValues {
			return nil, errBadEntry
		}
		vs := make([]string, nv)
		for i := range vs {
			if vs[i], ok = next(); !ok {
				return nil, errBadEntry
			}
		}
		e.header[name] = vs
	}
	if e.enc == encIdentity && len(rest) != e.rawLen {
		return nil, errBadEntry
	}
	e.body = rest
	e.derive()
	return e, nil
}

func (e *entry) derive() {
	if v := e.header["Etag"]; len(v) > 0 {
		e.etag = v[0]
	}
	if v := e.header["Last-Modified"]; len(v) > 0 {
		e.lastModified = v[0]
	}
	if v := e.header["Date"]; len(v) > 0 {
		e.date = v[0]
	}
	e.contentLength = []string{itoa(len(e.body))}
	e.rawContentLength = []string{itoa(e.rawLen)}
}

// freshUntil is when e goes stale, in Unix µs: its lifetime less the age it
// arrived with.
func (e *entry) freshUntil() int64 { return e.storedAt + (e.lifetime-e.age)*1000 }

// ageAt is e's current age (RFC 9111 section 4.2.3) at now (Unix µs), in
// whole seconds.
func (e *entry) ageAt(now int64) int {
	return int((e.age*1000 + max(now-e.storedAt, 0)) / 1e6)
}

// revalidate reports whether e must be validated with the origin before it
// is used at now: stale, or no-cache.
func (e *entry) revalidate(now int64) bool {
	return e.flags&flagNoCache != 0 || now >= e.freshUntil()
}

// staleFor reports whether e may be served stale at now within window
// (one of its own windows): never for no-cache, must-revalidate and the like.
func (e *entry) staleFor(now, window int64) bool {
	return e.flags&(flagNoStale|flagNoCache) == 0 && now < e.freshUntil()+window*1000
}

// parsed keeps the last decoded entry of recently served keys so that a hit
// on an unchanged entry neither parses nor allocates its headers again. It
// is bounded by dropping everything when full, which keeps it simple and
// lock-light; a dropped entry is just parsed again.
type parsedCache struct {
	mu    sync.RWMutex
	m     map[string]*entry // by stored bytes
	bytes int
}

// Bounds of parsedCache: entries, total bytes, and the largest entry kept.
const (
	parsedCacheMax      = 4096
	parsedCacheMaxBytes = 16 << 20
	parsedEntryMax      = 64 << 10
)

func (p *parsedCache) get(raw []byte) (*entry, error) {
	if len(raw) > parsedEntryMax {
		return decodeEntry(raw)
	}
	p.mu.RLock()
	e, ok := p.m[string(raw)] // no allocation: the compiler special-cases map[string(b)]
	p.mu.RUnlock()
	if ok {
		return e, nil
	}
	e, err := decodeEntry(raw)
	if err != nil {
		return nil, err
	}
	// The decoded entry aliases raw (body); keep our own copy.
	own := string(raw)
	e.body = []byte(own)[len(raw)-len(e.body):]
	p.mu.Lock()
	if p.m == nil || len(p.m) >= parsedCacheMax || p.bytes+len(own) > parsedCacheMaxBytes {
		p.m, p.bytes = make(map[string]*entry, 64), 0
	}
	p.m[own] = e
	p.bytes += len(own)
	p.mu.Unlock()
	return e, nil
}

// Small integers as strings, for Age, Content-Length and ttl without
// allocating on the hit path.
var smallInts = func() [4096]string {
	var a [4096]string
	for i := range a {
		a[i] = itoaSlow(i)
	}
	return a
}()

func itoa(n int) string {
	if n >= 0 && n < len(smallInts) {
		return smallInts[n]
	}
	return itoaSlow(n)
}

func itoaSlow(n int) string {
	var b [20]byte
	return string(appendInt(b[:0], int64(n)))
}

func appendInt(dst []byte, n int64) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

func nowUs() int64 { return time.Now().UnixMicro() }
