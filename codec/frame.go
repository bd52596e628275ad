package codec

import (
	"encoding/binary"
	"fmt"
)

// Frame layout; doc.go describes it byte by byte.
const (
	frameMagic   = 0xA5
	frameVersion = 1

	flagDictionary = 1 << 0
	knownFlags     = flagDictionary

	// fixedHeaderLen is magic, version, algorithm and flags.
	fixedHeaderLen = 4
)

// frameHeader is a parsed frame header.
type frameHeader struct {
	alg    Algorithm
	dictID uint32 // 0 when the frame has no dictionary
	hasDic bool
	rawLen int // serialized payload length
}

// appendFrameHeader appends a frame header to dst.
func appendFrameHeader(dst []byte, alg Algorithm, dictID uint32, rawLen int) []byte {
	var flags byte
	if dictID != 0 {
		flags |= flagDictionary
	}
	dst = append(dst, frameMagic, frameVersion, byte(alg), flags)
	if dictID != 0 {
		dst = binary.LittleEndian.AppendUint32(dst, dictID)
	}
	return binary.AppendUvarint(dst, uint64(rawLen))
}

// parseFrame validates the header of data and returns it with the payload.
// It never allocates on success, and rejects a raw length above maxSize
// before anyone sizes a buffer from it.
func parseFrame(data []byte, maxSize int) (frameHeader, []byte, error) {
	var h frameHeader
	if len(data) < fixedHeaderLen {
		return h, nil, fmt.Errorf("%w: %d bytes", ErrShortFrame, len(data))
	}
	if data[0] != frameMagic {
		return h, nil, fmt.Errorf("%w: 0x%02x", ErrBadMagic, data[0])
	}
	if data[1] != frameVersion {
		return h, nil, fmt.Errorf("%w: %d (this build reads version %d)", ErrVersion, data[1], frameVersion)
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
