package aside

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/cespare/xxhash/v2"
)

// The envelope every stored value travels in. It is the Cache's own framing,
// around the codec's frame, and holds what the Cache needs to decide whether
// bytes read from a provider may be served:
//
//	byte 0      magic 0xAE
//	byte 1      envelope version (2; version 1, without the checksum, is still read)
//	byte 2      kind: 1 value, 2 lease (a loader's placeholder), 3 absent
//	            (RememberMany's loader did not return the key: AbsentTTL)
//	lease:      16-byte random token, nothing else
//	value, absent: 4-byte checksum: the low 32 bits of xxhash64 of every byte after it
//	            uvarint fresh-until (Unix milliseconds, writer's clock)
//	            uvarint tag count, then per tag: uvarint name length, name,
//	            8-byte version stamp the tag record had before the value was loaded
//	            the codec frame (rest of the bytes; none for absent)
//
// The checksum makes a damaged entry (a flipped bit in its freshness, a stamp
// or the payload) a miss that is deleted, never a different value served as
// a hit. A damaged lease is a different lease: its owner's compare-and-swap
// fails and nothing is stored, which is safe without a checksum.
//
// A tag record (stored under keys.Builder.Tag) is 28 bytes: an 8-byte random
// version, the Unix nanoseconds of the invalidation that wrote it (0 when a
// reader created it), the Unix milliseconds until which the record is kept
// (so that a writer can tell whether it outlives a new entry, and extend it),
// and the low 32 bits of xxhash64 of those 24 bytes. Version-1 records (the
// first 16 bytes alone) are still read.
const (
	envMagic   = 0xAE
	envV1      = 1
	envVersion = 2
	kindValue  = 1
	kindLease  = 2
	kindAbsent = 3

	leaseLen = 3 + 16
	sumLen   = 4
	// valueHeaderMin is the shortest value envelope: the fixed bytes, the
	// checksum, and a one-byte freshness and tag count.
	valueHeaderMin = 3 + sumLen + 2

	tagRecordV1Len = 16
	tagRecordLen   = 28
	maxTags        = 64
)

var errEnvelope = errors.New("aside: corrupt cache entry envelope")

type stamp struct {
	name    string
	version uint64
	// rec is the record the version was read from (nil when unknown), for
	// extending its lifetime when an entry stamped with it outlives it.
	rec []byte
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

// isLease reports whether b is a lease this Cache could have written.
func isLease(b []byte) bool {
	return len(b) == leaseLen && b[0] == envMagic && (b[1] == envVersion || b[1] == envV1) && b[2] == kindLease
}

// newEntry returns the value envelope of payload, fresh until freshUntil and
// stamped with stamps.
func newEntry(freshUntil time.Time, stamps []stamp, payload []byte) []byte {
	return newEnvelope(kindValue, freshUntil, stamps, payload)
}

// newAbsent returns the envelope that records, until freshUntil, that a
// batch loader did not return the key; stamped like a value, so that
// invalidating its tags (or deleting it) ends it.
func newAbsent(freshUntil time.Time, stamps []stamp) []byte {
	return newEnvelope(kindAbsent, freshUntil, stamps, nil)
}

func newEnvelope(kind byte, freshUntil time.Time, stamps []stamp, payload []byte) []byte {
	n := valueHeaderMin + 2*binary.MaxVarintLen64 + len(payload)
	for _, s := range stamps {
		n += binary.MaxVarintLen64 + len(s.name) + 8
	}
	dst := make([]byte, 3+sumLen, n)
	dst[0], dst[1], dst[2] = envMagic, envVersion, kind
	dst = binary.AppendUvarint(dst, uint64(max(freshUntil.UnixMilli(), 0)))
	dst = binary.AppendUvarint(dst, uint64(len(stamps)))
	for _, s := range stamps {
		dst = binary.AppendUvarint(dst, uint64(len(s.name)))
		dst = append(dst, s.name...)
		dst = binary.LittleEndian.AppendUint64(dst, s.version)
	}
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[3:], uint32(xxhash.Sum64(dst[3+sumLen:])))
	return dst
}

func parseEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) < 3 || b[0] != envMagic || (b[1] != envVersion && b[1] != envV1) {
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
	case kindAbsent:
		if b[1] != envVersion {
			return e, errEnvelope
		}
	default:
		return e, errEnvelope
	}
	rest := b[3:]
	if b[1] == envVersion {
		if len(b) < valueHeaderMin || binary.LittleEndian.Uint32(rest) != uint32(xxhash.Sum64(rest[sumLen:])) {
			return e, errEnvelope
		}
		rest = rest[sumLen:]
	}
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
	if e.kind == kindAbsent && len(rest) > 0 {
		return e, errEnvelope
	}
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

// tagRecord is a parsed tag record.
type tagRecord struct {
	version       uint64 // never 0 in a record; 0 means none (missing or garbled)
	invalidatedAt int64  // Unix ns; 0 when a reader created the record
	keptUntil     int64  // Unix ms; 0 when unknown (a version-1 record)
}

// recState says what bytes read under a tag key were.
type recState uint8

const (
	recMissing recState = iota
	recOK
	recGarbled // not a record this Cache writes: repaired by the next writer
)

// newTagRecord returns a record with a fresh random version.
func newTagRecord(invalidatedAt time.Time, keptUntil time.Time) []byte {
	r := tagRecord{version: rand.Uint64() | 1, keptUntil: keptUntil.UnixMilli()} // never 0, so 0 can mean "no record"
	if !invalidatedAt.IsZero() {
		r.invalidatedAt = invalidatedAt.UnixNano()
	}
	return r.encode()
}

func (r tagRecord) encode() []byte {
	b := make([]byte, tagRecordLen)
	binary.LittleEndian.PutUint64(b, r.version)
	binary.LittleEndian.PutUint64(b[8:], uint64(r.invalidatedAt))
	binary.LittleEndian.PutUint64(b[16:], uint64(max(r.keptUntil, 0)))
	binary.LittleEndian.PutUint32(b[24:], uint32(xxhash.Sum64(b[:24])))
	return b
}

// parseTagRecord reads bytes stored under a tag key. The version is 0 unless
// the state is recOK.
func parseTagRecord(b []byte) (tagRecord, recState) {
	var r tagRecord
	switch len(b) {
	case 0:
		if b == nil {
			return r, recMissing
		}
		return r, recGarbled
	case tagRecordLen:
		if binary.LittleEndian.Uint32(b[24:]) != uint32(xxhash.Sum64(b[:24])) {
			return r, recGarbled
		}
		r.keptUntil = int64(binary.LittleEndian.Uint64(b[16:]))
	case tagRecordV1Len:
	default:
		return r, recGarbled
	}
	r.version = binary.LittleEndian.Uint64(b)
	r.invalidatedAt = int64(binary.LittleEndian.Uint64(b[8:]))
	if r.version == 0 || r.invalidatedAt < 0 || r.keptUntil < 0 {
		return tagRecord{}, recGarbled
	}
	return r, recOK
}

// recordVersion is the version of the record in b, or 0 for none.
func recordVersion(b []byte) uint64 {
	r, _ := parseTagRecord(b)
	return r.version
}

// EntryFrame returns the codec frame inside bytes a Cache stored as an
// entry's value (checking the envelope's checksum), and false for anything
// else: a loader's lease, a tag or dictionary record, bytes another program
// wrote. It is for tools that measure what a store holds, such as the
// bench's -sample mode; the frame aliases stored.
func EntryFrame(stored []byte) ([]byte, bool) {
	e, err := parseEnvelope(stored)
	if err != nil || e.kind != kindValue {
		return nil, false
	}
	return e.payload, true
}
