package codec

import (
	"encoding/binary"
	"fmt"
)

// maxMsgpackDepth bounds container nesting. vmihailenco/msgpack decodes
// recursively, a few hundred bytes of stack per level (measured: about 4 MiB
// of stack for 10,000 levels), and Go cannot recover from a stack overflow:
// without a limit a run of 0x91 bytes kills the process. Cached values
// nest a handful of levels; 1,000 keeps the stack of a hostile input under
// about half a MiB.
const maxMsgpackDepth = 1000

// timeExtType is the MessagePack timestamp extension type, -1.
const timeExtType = 0xff

// checkFrame is an open container (or ext payload read as a map) in
// checkMsgpack's explicit stack.
type checkFrame struct {
	left  uint64 // values still to read in it
	end   int    // an ext payload read as a map must end exactly here; -1 otherwise
	limit int    // the claims limit to restore when it closes
}

// opensMap reports whether c is a code msgpack's DecodeMapLen accepts: a
// map header or nil.
func opensMap(c byte) bool { return c&0xf0 == 0x80 || c == 0xc0 || c == 0xde || c == 0xdf }

// checkMsgpack reports whether b is exactly one well-formed MessagePack
// value that vmihailenco/msgpack v5.4.1 can only read one way, whatever the
// destination type, with every length claim within the bytes that remain
// and no more than maxMsgpackDepth levels of nesting. msgpack/v5 sizes
// slices from the declared element count (decodeSliceValue ignores its own
// allocation limit), so without this check a five-byte array header could
// make it allocate gigabytes, and it recurses once per level.
//
// "Only one way" is about ext values. msgpack reads an ext opaquely (skips
// it, or hands its payload to the time decoder) except in DecodeMapLen,
// which every map destination uses: there it steps over the ext header and
// reads the payload's first byte as a map (or nil) header, and the map that
// follows as ordinary msgpack, wherever it ends. So for each ext whose
// payload starts with a map or nil header (or, for an empty payload, whose
// next byte does), one of these must hold, or the input is rejected:
//
//   - the payload is exactly one well-formed map (or nil), checked here
//     like any other value, so both readings end at the same byte;
//   - it is a timestamp of 4 or 8 bytes, not inside another ext: the
//     returned offsets name these, and [widenTimes] rewrites them into the
//     12-byte form, whose payload starts with a positive fixint (the
//     nanoseconds' top byte), which DecodeMapLen rejects. About 7% of the
//     8-byte timestamps msgpack writes start with such a byte.
//
// Every other ext payload is never read as msgpack by the decoder, so its
// bytes are not checked.
//
// It walks the value iteratively with an explicit stack, allocates nothing
// for values nested up to 32 deep (the offsets are allocated only when
// there are timestamps to widen), and runs in time linear in len(b).
func checkMsgpack(b []byte) (widen []int, err error) {
	var inline [32]checkFrame
	stack := inline[:1]
	stack[0] = checkFrame{left: 1, end: -1}
	limit := len(b) // no value may reach past this offset
	inExt := 0      // ext payloads being read as maps, open
	i := 0
	for {
		for stack[len(stack)-1].left == 0 {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.end >= 0 {
				if i != f.end {
					return nil, fmt.Errorf("%w: an ext payload read as a map ends at byte %d, not at byte %d where the ext does", ErrCorrupt, i, f.end)
				}
				limit = f.limit
				inExt--
			}
			if len(stack) == 0 {
				if i != len(b) {
					return nil, fmt.Errorf("%w: %d bytes after the msgpack value", ErrCorrupt, len(b)-i)
				}
				return widen, nil
			}
		}
		stack[len(stack)-1].left--
		if i >= limit {
			return nil, fmt.Errorf("%w: msgpack value truncated at byte %d", ErrCorrupt, i)
		}
		start := i
		c := b[i]
		i++
		var (
			skip  uint64 // payload bytes after the code and its length field
			items uint64 // elements of a container (a map counts keys and values)
			lenSz int    // size of a big-endian length field
		)
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
			// fixint, nil, false, true
		case c <= 0x8f:
			items = 2 * uint64(c&0x0f)
		case c <= 0x9f:
			items = uint64(c & 0x0f)
		case c <= 0xbf:
			skip = uint64(c & 0x1f)
		case c == 0xc7 || c == 0xc8 || c == 0xc9 || (c >= 0xd4 && c <= 0xd8):
			hdr, n, ok := extHeader(b[:limit], start)
			if !ok {
				return nil, fmt.Errorf("%w: msgpack ext header truncated at byte %d", ErrCorrupt, start)
			}
			payload := start + hdr
			if n > uint64(limit-payload) {
				return nil, fmt.Errorf("%w: msgpack ext at byte %d claims %d bytes, %d remain", ErrCorrupt, start, n, limit-payload)
			}
			end := payload + int(n)
			switch {
			case payload >= len(b) || !opensMap(b[payload]):
				// DecodeMapLen fails on it: read opaquely or not at all.
				i = end
			case n == 0:
				return nil, fmt.Errorf("%w: an empty msgpack ext at byte %d stands before a map", ErrCorrupt, start)
			case inExt == 0 && b[payload-1] == timeExtType && (n == 4 || n == 8):
				widen = append(widen, start)
				i = end
			default:
				if len(stack) > maxMsgpackDepth {
					return nil, fmt.Errorf("%w: msgpack nests deeper than %d", ErrCorrupt, maxMsgpackDepth)
				}
				stack = append(stack, checkFrame{left: 1, end: end, limit: limit})
				limit = end
				inExt++
				i = payload
			}
			continue
		default:
			switch c {
			case 0xc4, 0xd9: // bin8, str8
				lenSz = 1
			case 0xc5, 0xda: // bin16, str16
				lenSz = 2
			case 0xc6, 0xdb: // bin32, str32
				lenSz = 4
			case 0xcc, 0xd0: // uint8, int8
				skip = 1
			case 0xcd, 0xd1: // uint16, int16
				skip = 2
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				skip = 4
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				skip = 8
			case 0xdc, 0xde: // array16, map16
				lenSz = 2
			case 0xdd, 0xdf: // array32, map32
				lenSz = 4
			default: // 0xc1 is never used
				return nil, fmt.Errorf("%w: invalid msgpack code 0x%02x at byte %d", ErrCorrupt, c, start)
			}
		}
		if lenSz > 0 {
			if limit-i < lenSz {
				return nil, fmt.Errorf("%w: msgpack length truncated at byte %d", ErrCorrupt, i)
			}
			n := beUint(b[i:], lenSz)
			i += lenSz
			switch c {
			case 0xdc, 0xdd:
				items = n
			case 0xde, 0xdf:
				items = 2 * n
			default:
				skip = n
			}
		}
		rest := uint64(limit - i)
		if skip > rest {
			return nil, fmt.Errorf("%w: msgpack value at byte %d claims %d bytes, %d remain", ErrCorrupt, start, skip, rest)
		}
		i += int(skip)
		if items > 0 {
			// Every element takes at least one byte.
			if items > rest {
				return nil, fmt.Errorf("%w: msgpack container at byte %d claims %d elements, %d bytes remain", ErrCorrupt, start, items, rest)
			}
			if len(stack) > maxMsgpackDepth {
				return nil, fmt.Errorf("%w: msgpack nests deeper than %d", ErrCorrupt, maxMsgpackDepth)
			}
			stack = append(stack, checkFrame{left: items, end: -1})
		}
	}
}

// beUint reads a big-endian unsigned integer of 1, 2 or 4 bytes.
func beUint(b []byte, size int) uint64 {
	switch size {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	}
	return uint64(binary.BigEndian.Uint32(b))
}

// extHeader returns the header length (code, length field and type byte)
// and the payload length of the ext value at b[i], which must start with an
// ext code; ok is false when b ends inside the header.
func extHeader(b []byte, i int) (hdr int, n uint64, ok bool) {
	c := b[i]
	switch {
	case c >= 0xd4 && c <= 0xd8:
		hdr, n = 2, 1<<(c-0xd4)
	case c == 0xc7:
		hdr = 3
	case c == 0xc8:
		hdr = 4
	default: // 0xc9
		hdr = 6
	}
	if len(b)-i < hdr {
		return 0, 0, false
	}
	if hdr > 2 {
		n = beUint(b[i+1:], hdr-2)
	}
	return hdr, n, true
}

// widenTimes appends b to dst with each timestamp ext at the offsets at
// (from checkMsgpack, so 4- or 8-byte timestamps outside any ext payload)
// rewritten into the 12-byte form (ext8, length 12, type -1, then
// nanoseconds as a big-endian uint32 and seconds as a big-endian uint64),
// which msgpack decodes to the same time.Time. Containers count elements,
// not bytes, so nothing else changes.
func widenTimes(dst, b []byte, at []int) []byte {
	prev := 0
	for _, p := range at {
		hdr, n, _ := extHeader(b, p)
		payload := b[p+hdr : p+hdr+int(n)]
		var sec uint64
		var nsec uint32
		if n == 4 {
			sec = uint64(binary.BigEndian.Uint32(payload))
		} else {
			v := binary.BigEndian.Uint64(payload)
			nsec, sec = uint32(v>>34), v&(1<<34-1)
		}
		dst = append(dst, b[prev:p]...)
		dst = append(dst, 0xc7, 12, timeExtType)
		dst = binary.BigEndian.AppendUint32(dst, nsec)
		dst = binary.BigEndian.AppendUint64(dst, sec)
		prev = p + hdr + int(n)
	}
	return append(dst, b[prev:]...)
}
