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
//	byte 1   format version 1
//	byte 2   flags: bit 0 shared (stored, so servable to any request with the key)
//	byte 3   body encoding: 0 identity, 1 gzip, 2 zstd
//	uvarint  status
//	uvarint  stored at (Unix µs)
//	uvarint  freshness lifetime (ms; 0 = unknown)
//	uvarint  identity body length + 1 (0 = unknown)
//	uvarint  header count; per header: uvarint name length, name,
//	         uvarint value count, per value: uvarint length, value
//	rest     the body, in the body encoding
const (
	entryMagic   = 'H'
	entryVersion = 1
	flagShared   = 1

	encIdentity = 0
	encGzip     = 1
	encZstd     = 2
)

var errBadEntry = errors.New("aside: middleware: corrupt stored response")

var encNames = [...]string{encIdentity: "", encGzip: "gzip", encZstd: "zstd"}

// entry is a response as stored and served.
type entry struct {
	status   int
	storedAt int64 // Unix µs
	ttl      int64 // ms; 0 = unknown
	enc      uint8
	shared   bool
	rawLen   int         // -1 = unknown
	header   http.Header // replayed as is: every slice has len == cap
	body     []byte

	// Derived once per entry (see parsed).
	etag, lastModified string
	contentLength      []string // len(body), for pass-through
	rawContentLength   []string // rawLen, for identity clients
}

func (e *entry) appendTo(dst []byte) []byte {
	flags := byte(0)
	if e.shared {
		flags |= flagShared
	}
	dst = append(dst, entryMagic, entryVersion, flags, e.enc)
	dst = binary.AppendUvarint(dst, uint64(e.status))
	dst = binary.AppendUvarint(dst, uint64(max(e.storedAt, 0)))
	dst = binary.AppendUvarint(dst, uint64(max(e.ttl, 0)))
	dst = binary.AppendUvarint(dst, uint64(max(e.rawLen+1, 0)))
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
	if len(b) < 4 || b[0] != entryMagic || b[1] != entryVersion || b[3] > encZstd {
		return nil, errBadEntry
	}
	e := &entry{shared: b[2]&flagShared != 0, enc: b[3]}
	rest := b[4:]
	var vals [4]uint64
	for i := range vals {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return nil, errBadEntry
		}
		vals[i], rest = v, rest[n:]
	}
	if vals[0] < 100 || vals[0] > 999 || vals[1] > 1<<62 || vals[2] > 1<<62 || vals[3] > 1<<31 {
		return nil, errBadEntry
	}
	e.status, e.storedAt, e.ttl, e.rawLen = int(vals[0]), int64(vals[1]), int64(vals[2]), int(vals[3])-1
	next := func() (string, bool) {
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)-n) {
			return "", false
		}
		s := string(rest[n : n+int(l)])
		rest = rest[n+int(l):]
		return s, true
	}
	count, n := binary.Uvarint(rest)
	if n <= 0 || count > maxEntryHeaders {
		return nil, errBadEntry
	}
	rest = rest[n:]
	e.header = make(http.Header, count)
	for range count {
		name, ok := next()
		if !ok {
			return nil, errBadEntry
		}
		nv, n := binary.Uvarint(rest)
		if n <= 0 || nv > maxHeaderValues {
			return nil, errBadEntry
		}
		rest = rest[n:]
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
	e.contentLength = []string{itoa(len(e.body))}
	e.rawContentLength = []string{itoa(e.rawLen)}
}

// freshUntil is when e goes stale, in Unix µs.
func (e *entry) freshUntil() int64 { return e.storedAt + e.ttl*1000 }

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
