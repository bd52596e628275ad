package keys

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// Byte classes of the escaping tables.
const (
	classCopy   = iota // ASCII byte copied as is
	classEscape        // ASCII byte always written as %XX
	classUTF8          // byte >= 0x80: decided by decoding the UTF-8 sequence
)

const upperHex = "0123456789ABCDEF"

// keyTable classifies bytes of keys and tags; nsTable also escapes ':' so that
// the namespace is one colon-free field of the stored key.
var keyTable, nsTable = escapeTables()

func escapeTables() (key, ns [256]uint8) {
	for b := range 256 {
		switch {
		case b >= 0x80:
			key[b] = classUTF8
		case b < 0x20, b == 0x7f, b == '%', b == '{', b == '}', b == hashMarker:
			key[b] = classEscape
		default:
			key[b] = classCopy
		}
	}
	ns = key
	ns[':'] = classEscape
	return key, ns
}

// hashMarker separates the readable prefix of a hashed key from its digest.
// Escape always rewrites it, so it never occurs in an unhashed stored key.
const hashMarker = '#'

// Escape appends the escaped form of s to dst and returns the extended
// buffer. The escaping is one-to-one and its output is always valid UTF-8.
//
// Each of these bytes is written as '%' and two upper-case hex digits:
// '%' itself, '{' and '}' (Redis Cluster hash tags), '#' (the hash marker),
// the ASCII control bytes 0x00-0x1F and 0x7F, both bytes of each C1 control
// character U+0080-U+009F, and every byte that is not part of a valid UTF-8
// sequence (overlong forms and surrogates included). Everything else is
// copied, in particular ':' and the glob metacharacters * ? [ ] \ and valid
// non-ASCII text, so that common keys stay readable.
func Escape(dst []byte, s string) []byte {
	dst, _, _ = appendEscaped(dst, s, &keyTable, math.MaxInt, math.MaxInt)
	return dst
}

// appendEscaped escapes s onto dst with table t. It stops early and reports
// over when the escaped text grows past limit bytes. cut is the length of the
// longest prefix of the escaped text that ends on a unit boundary (never
// inside a %XX escape or a multi-byte character) and is at most budget bytes;
// it is -1 while the whole output still fits in budget.
func appendEscaped(dst []byte, s string, t *[256]uint8, budget, limit int) (out []byte, cut int, over bool) {
	start := len(dst)
	cut = -1
	for i := 0; i < len(s); {
		c := s[i]
		switch t[c] {
		case classCopy:
			j := i + 1
			w := len(dst) - start
			for j < len(s) && t[s[j]] == classCopy && j-i <= limit-w {
				j++
			}
			if cut < 0 && w+(j-i) > budget {
				// Every byte of an ASCII run is a boundary.
				cut = budget
			}
			dst = append(dst, s[i:j]...)
			i = j
		case classEscape:
			if w := len(dst) - start; cut < 0 && w+3 > budget {
				cut = w
			}
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xf])
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size == 1) || r <= 0x9f {
				// Invalid byte, or one of the two bytes of a C1 control:
				// each byte is its own unit.
				for k := i; k < i+size; k++ {
					if w := len(dst) - start; cut < 0 && w+3 > budget {
						cut = w
					}
					dst = append(dst, '%', upperHex[s[k]>>4], upperHex[s[k]&0xf])
				}
			} else {
				if w := len(dst) - start; cut < 0 && w+size > budget {
					cut = w
				}
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
		if len(dst)-start > limit {
			return dst, cut, true
		}
	}
	return dst, cut, false
}

// Unescape appends to dst the string whose Escape is s, and returns the
// extended buffer. It is the exact inverse of Escape: it fails with
// ErrInvalidEscape on any text that Escape cannot produce, so that
// Escape(Unescape(s)) == s whenever it succeeds. Tools use it to show the
// logical key inside a stored key's unhashed body.
func Unescape(dst []byte, s string) ([]byte, error) {
	start := len(dst)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			dst = append(dst, c)
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return dst[:start], fmt.Errorf("%w: '%%' at byte %d is not followed by two upper-case hex digits", ErrInvalidEscape, i)
		}
		dst = append(dst, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
		i += 2
	}
	// Canonical form check: a raw '{' or an escaped 'A' decode fine above but
	// are not Escape's output, and accepting them would give two escaped
	// spellings of one key.
	var buf [256]byte
	again := Escape(buf[:0], string(dst[start:]))
	if string(again) != s {
		return dst[:start], fmt.Errorf("%w: %q is not in the form Escape writes (it would be %q)", ErrInvalidEscape, s, again)
	}
	return dst, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
