package codec

import (
	"encoding/binary"
	"fmt"
)

// maxMsgpackDepth bounds container nesting, as encoding/json does: msgpack
// decodes recursively, and a few hundred KiB of 0x91 bytes would otherwise
// recurse that many levels deep.
const maxMsgpackDepth = 10000

// checkMsgpack reports whether b is exactly one well-formed MessagePack value
// whose every array, map, string, binary and extension length fits in the
// bytes that remain. msgpack/v5 sizes slices from the declared element count
// (decodeSliceValue ignores its own allocation limit), so without this check
// a five-byte array header could make it allocate gigabytes.
//
// It walks the value iteratively with an explicit stack of remaining element
// counts, allocates nothing for values nested up to 32 deep, and runs in time
// linear in the number of values.
func checkMsgpack(b []byte) error {
	var inline [32]uint64
	stack := inline[:1]
	stack[0] = 1 // the top-level value
	i := 0
	for {
		for stack[len(stack)-1] == 0 {
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				if i != len(b) {
					return fmt.Errorf("%w: %d bytes after the msgpack value", ErrCorrupt, len(b)-i)
				}
				return nil
			}
		}
		stack[len(stack)-1]--
		if i >= len(b) {
			return fmt.Errorf("%w: msgpack value truncated at byte %d", ErrCorrupt, i)
		}
		c := b[i]
		i++
		var (
			skip  uint64 // payload bytes after the code and its length field
			items uint64 // elements of a container (a map counts keys and values)
			lenSz int    // size of a big-endian length field
			extra uint64 // fixed bytes after the length field (ext type byte)
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
		default:
			switch c {
			case 0xc4, 0xd9: // bin8, str8
				lenSz = 1
			case 0xc5, 0xda: // bin16, str16
				lenSz = 2
			case 0xc6, 0xdb: // bin32, str32
				lenSz = 4
			case 0xc7: // ext8
				lenSz, extra = 1, 1
			case 0xc8: // ext16
				lenSz, extra = 2, 1
			case 0xc9: // ext32
				lenSz, extra = 4, 1
			case 0xcc, 0xd0: // uint8, int8
				skip = 1
			case 0xcd, 0xd1: // uint16, int16
				skip = 2
			case 0xca, 0xce, 0xd2: // float32, uint32, int32
				skip = 4
			case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
				skip = 8
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
				skip = 1 + 1<<(c-0xd4)
			case 0xdc, 0xde: // array16, map16
				lenSz = 2
			case 0xdd, 0xdf: // array32, map32
				lenSz = 4
			default: // 0xc1 is never used
				return fmt.Errorf("%w: invalid msgpack code 0x%02x at byte %d", ErrCorrupt, c, i-1)
			}
		}
		if lenSz > 0 {
			if len(b)-i < lenSz {
				return fmt.Errorf("%w: msgpack length truncated at byte %d", ErrCorrupt, i)
			}
			var n uint64
			switch lenSz {
			case 1:
				n = uint64(b[i])
			case 2:
				n = uint64(binary.BigEndian.Uint16(b[i:]))
			default:
				n = uint64(binary.BigEndian.Uint32(b[i:]))
			}
			i += lenSz
			switch c {
			case 0xdc, 0xdd:
				items = n
			case 0xde, 0xdf:
				items = 2 * n
			default:
				skip = n + extra
			}
		}
		rest := uint64(len(b) - i)
		if skip > rest {
			return fmt.Errorf("%w: msgpack value at byte %d claims %d bytes, %d remain", ErrCorrupt, i, skip, rest)
		}
		i += int(skip)
		if items > 0 {
			// Every element takes at least one byte.
			if items > rest {
				return fmt.Errorf("%w: msgpack container at byte %d claims %d elements, %d bytes remain", ErrCorrupt, i, items, rest)
			}
			if len(stack) > maxMsgpackDepth {
				return fmt.Errorf("%w: msgpack nests deeper than %d", ErrCorrupt, maxMsgpackDepth)
			}
			stack = append(stack, items)
		}
	}
}
