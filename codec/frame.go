package codec

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// Frame layout; doc.go describes it byte by byte.
const (
	frameMagic = 0xA5

	// frameVersion is what Marshal writes: version 2 ends with a checksum.
	// Version 1 frames (no checksum) are still read.
	frameVersion   = 2
	frameVersionV1 = 1

	flagDictionary = 1 << 0
	// flagBare marks a zstd payload stored without the parts of a zstd frame
	// that the codec frame already holds: the 4-byte magic number, the
	// dictionary ID and the content checksum (see bareZstd).
	flagBare   = 1 << 1
	knownFlags = flagDictionary | flagBare

	// fixedHeaderLen is magic, version, algorithm and flags.
	fixedHeaderLen = 4

	// checksumLen is the trailing xxhash64 of a version 2 frame.
	checksumLen = 8
)

// frameHeader is a parsed frame header.
type frameHeader struct {
	alg    Algorithm
	dictID uint32 // 0 when the frame has no dictionary
	hasDic bool
	bare   bool // a zstd payload without magic, dictionary ID and checksum
	rawLen int  // serialized payload length
}

// appendFrameHeader appends a version 2 frame header to dst. The frame is
// complete once the payload and then [appendChecksum] follow. Every zstd
// frame is written bare.
func appendFrameHeader(dst []byte, alg Algorithm, dictID uint32, rawLen int) []byte {
	var flags byte
	if dictID != 0 {
		flags |= flagDictionary
	}
	if alg == Zstd {
		flags |= flagBare
	}
	dst = append(dst, frameMagic, frameVersion, byte(alg), flags)
	if dictID != 0 {
		dst = binary.LittleEndian.AppendUint32(dst, dictID)
	}
	return binary.AppendUvarint(dst, uint64(rawLen))
}

// appendChecksum appends the checksum of frame, which starts at dst[start],
// ending it.
func appendChecksum(dst []byte, start int) []byte {
	return binary.LittleEndian.AppendUint64(dst, xxhash.Sum64(dst[start:]))
}

// parseFrame validates the header of data and returns it with the payload.
// For a version 2 frame it checks the checksum first, so no other header
// field, and no payload byte, is trusted before it matched. It never
// allocates on success, and rejects a raw length above maxSize before
// anyone sizes a buffer from it.
func parseFrame(data []byte, maxSize int) (frameHeader, []byte, error) {
	var h frameHeader
	if len(data) < 2 {
		return h, nil, fmt.Errorf("%w: %d bytes", ErrShortFrame, len(data))
	}
	if data[0] != frameMagic {
		return h, nil, fmt.Errorf("%w: 0x%02x", ErrBadMagic, data[0])
	}
	switch data[1] {
	case frameVersion:
		if len(data) < fixedHeaderLen+1+checksumLen {
			return h, nil, fmt.Errorf("%w: %d bytes", ErrShortFrame, len(data))
		}
		end := len(data) - checksumLen
		if got, want := xxhash.Sum64(data[:end]), binary.LittleEndian.Uint64(data[end:]); got != want {
			return h, nil, fmt.Errorf("%w: %w: xxhash64 %016x, frame says %016x", ErrCorrupt, ErrChecksum, got, want)
		}
		data = data[:end]
	case frameVersionV1:
		if len(data) < fixedHeaderLen {
			return h, nil, fmt.Errorf("%w: %d bytes", ErrShortFrame, len(data))
		}
	default:
		return h, nil, fmt.Errorf("%w: %d (this build reads versions %d and %d)", ErrVersion, data[1], frameVersionV1, frameVersion)
	}
	h.alg = Algorithm(data[2])
	if h.alg > None {
		return h, nil, fmt.Errorf("%w: algorithm byte %d", ErrUnknownAlgorithm, data[2])
	}
	flags := data[3]
	if flags&^knownFlags != 0 {
		return h, nil, fmt.Errorf("%w: unknown flag bits 0x%02x", ErrCorrupt, flags&^knownFlags)
	}
	rest := data[fixedHeaderLen:]
	if flags&flagBare != 0 {
		if h.alg != Zstd {
			return h, nil, fmt.Errorf("%w: bare flag on a %s frame", ErrCorrupt, h.alg)
		}
		h.bare = true
	}
	if flags&flagDictionary != 0 {
		if h.alg != Zstd {
			return h, nil, fmt.Errorf("%w: dictionary flag on a %s frame", ErrCorrupt, h.alg)
		}
		if len(rest) < 4 {
			return h, nil, fmt.Errorf("%w: dictionary ID truncated", ErrShortFrame)
		}
		h.hasDic = true
		h.dictID = binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
	}
	n, sz := binary.Uvarint(rest)
	switch {
	case sz == 0:
		return h, nil, fmt.Errorf("%w: length truncated", ErrShortFrame)
	case sz < 0:
		return h, nil, fmt.Errorf("%w: length overflows", ErrCorrupt)
	case n > uint64(maxSize):
		return h, nil, fmt.Errorf("%w: frame claims %d bytes, limit %d", ErrTooLarge, n, maxSize)
	}
	h.rawLen = int(n)
	return h, rest[sz:], nil
}
