package aside

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"time"
)

// The envelope every stored value travels in. It is the Cache's own framing,
// around the codec's frame, and holds what the Cache needs to decide whether
// bytes read from a provider may be served:
//
//	byte 0      magic 0xAE
//	byte 1      envelope version (1)
//	byte 2      kind: 1 value, 2 lease (a loader's placeholder)
//	lease:      16-byte random token, nothing else
//	value:      uvarint fresh-until (Unix milliseconds, writer's clock)
//	            uvarint tag count, then per tag: uvarint name length, name,
//	            8-byte version stamp the tag record had before the value was loaded
//	            the codec frame (rest of the bytes)
//
// A tag record (stored under keys.Builder.Tag) is 16 bytes: an 8-byte random
// version, then the Unix nanoseconds of the invalidation that wrote it (0 when
// it was created by a reader).
const (
	envMagic   = 0xAE
	envVersion = 1
	kindValue  = 1
	kindLease  = 2

	leaseLen     = 3 + 16
	tagRecordLen = 16
	maxTags      = 64
)

var errEnvelope = errors.New("aside: corrupt cache entry envelope")

type stamp struct {
	name    string
	version uint64
}

// envelope is a decoded view over stored bytes; tag names alias the bytes.
type envelope struct {
	kind       byte
	freshUntil int64 // Unix ms
	nTags      int
	tagsRaw    []byte // the encoded tag list, walked with nextTag
	payload    []byte
}

func newLease() []byte {
	b := make([]byte, leaseLen)
	b[0], b[1], b[2] = envMagic, envVersion, kindLease
	binary.LittleEndian.PutUint64(b[3:], rand.Uint64())
	binary.LittleEndian.PutUint64(b[11:], rand.Uint64())
	return b
}

// appendEnvelopeHeader writes the header of a value envelope; the caller
// appends the codec frame.
func appendEnvelopeHeader(dst []byte, freshUntil time.Time, stamps []stamp) []byte {
	dst = append(dst, envMagic, envVersion, kindValue)
	dst = binary.AppendUvarint(dst, uint64(max(freshUntil.UnixMilli(), 0)))
	dst = binary.AppendUvarint(dst, uint64(len(stamps)))
	for _, s := range stamps {
		dst = binary.AppendUvarint(dst, uint64(len(s.name)))
		dst = append(dst, s.name...)
		dst = binary.LittleEndian.AppendUint64(dst, s.version)
	}
	return dst
}

func parseEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) < 3 || b[0] != envMagic || b[1] != envVersion {
		return e, errEnvelope
	}
	e.kind = b[2]
	switch e.kind {
	case kindLease:
		if len(b) != leaseLen {
			return e, errEnvelope
		}
		return e, nil
	case kindValue:
	default:
		return e, errEnvelope
	}
	rest := b[3:]
	fresh, n := binary.Uvarint(rest)
	if n <= 0 || fresh > 1<<62 {
		return e, errEnvelope
	}
	e.freshUntil = int64(fresh)
	rest = rest[n:]
	count, n := binary.Uvarint(rest)
	if n <= 0 || count > maxTags {
		return e, errEnvelope
	}
	rest = rest[n:]
	e.nTags = int(count)
	start := rest
	for range e.nTags {
		l, n := binary.Uvarint(rest)
		if n <= 0 || l > uint64(len(rest)-n) || uint64(len(rest)-n)-l < 8 {
			return e, errEnvelope
		}
		rest = rest[n+int(l)+8:]
	}
	e.tagsRaw = start[:len(start)-len(rest)]
	e.payload = rest
	return e, nil
}

// nextTag decodes the tag at the front of raw (already validated by
// parseEnvelope) and returns the remainder.
func nextTag(raw []byte) (name []byte, version uint64, rest []byte) {
	l, n := binary.Uvarint(raw)
	name = raw[n : n+int(l)]
	version = binary.LittleEndian.Uint64(raw[n+int(l):])
	return name, version, raw[n+int(l)+8:]
}

func newTagRecord(invalidatedAt time.Time) []byte {
	b := make([]byte, tagRecordLen)
	binary.LittleEndian.PutUint64(b, rand.Uint64()|1) // never 0, so 0 can mean "no record"
	if !invalidatedAt.IsZero() {
		binary.LittleEndian.PutUint64(b[8:], uint64(invalidatedAt.UnixNano()))
	}
	return b
}

// parseTagRecord returns the version (0 when the record is missing or
// malformed, which no entry is ever stamped with) and the invalidation time.
func parseTagRecord(b []byte) (version uint64, invalidatedAt int64) {
	if len(b) != tagRecordLen {
		return 0, 0
	}
	return binary.LittleEndian.Uint64(b), int64(binary.LittleEndian.Uint64(b[8:]))
}
