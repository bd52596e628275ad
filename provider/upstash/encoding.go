package upstash

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// How bytes cross a JSON API (the why is in doc.go, "Binary values and
// keys"):
//
// Values are stored as standard padded base64 text. The request carries that
// text as a JSON string, Redis stores it as is, and a reply returns it as
// the same plain JSON string (no Upstash-Encoding header needed: the text is
// ASCII without a character JSON escapes). Decoding is strict, so a stored
// string decodes to at most one value and CompareAndSwap, which compares the
// stored text with the encoding of old, agrees with what Get returns.
//
// Keys are stored as themselves when they are valid UTF-8 without NUL, which
// every aside key is. Otherwise each NUL byte, and each byte that is not
// part of a valid UTF-8 sequence, is stored as NUL followed by its two
// upper-case hex digits. The stored key is valid UTF-8, so it survives a
// JSON string exactly, and the mapping is one-to-one (NUL only ever starts
// an escape).

var b64 = base64.StdEncoding.Strict()

// appendValue appends value as the JSON string of its base64 text.
func appendValue(b []byte, value []byte) []byte {
	b = append(b, '"')
	b = b64.AppendEncode(b, value)
	return append(b, '"')
}

// encodedValueLen is the length of appendValue's output for n bytes.
func encodedValueLen(n int) int { return b64.EncodedLen(n) + 2 }

// decodeValue returns the value whose stored text is s. ok is false when s
// is not text this provider writes.
func decodeValue(s []byte) ([]byte, bool) {
	out := make([]byte, 0, b64.DecodedLen(len(s)))
	out, err := b64.AppendDecode(out, s)
	if err != nil {
		return nil, false
	}
	return out, true
}

// jsonSafe marks the bytes copied into a JSON string as they are.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789ABCDEF"

// appendKey appends the JSON string of key's stored form.
func appendKey(b []byte, key string) []byte { return appendJSON(b, key, true) }

// appendString appends s as a JSON string: s is text of the provider's own
// (a command name, a number, a script, a glob) and valid UTF-8.
func appendString(b []byte, s string) []byte { return appendJSON(b, s, false) }

// appendJSON appends s as a JSON string. With key, NUL and each byte outside
// valid UTF-8 are written as the key escape (NUL, two hex digits);
// otherwise such a byte cannot occur and would be written as U+FFFD.
func appendJSON(b []byte, s string, key bool) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			if c == 0 && key {
				b = appendEscapedByte(b, 0)
			} else {
				b = appendJSONControl(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1 && key:
			b = appendEscapedByte(b, c)
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// appendEscapedByte appends the stored key escape of c (NUL, then c's two
// hex digits) as JSON string content.
func appendEscapedByte(b []byte, c byte) []byte {
	return append(b, '\\', 'u', '0', '0', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// appendJSONControl appends the ASCII byte c that JSON escapes (a control
// byte, '"' or '\') as JSON string content.
func appendJSONControl(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
}

// storedKey returns key's stored form (appendKey's, before JSON).
func storedKey(key string) string {
	if !needsEscape(key) {
		return key
	}
	var sb strings.Builder
	for i := 0; i < len(key); {
		c := key[i]
		r, size := utf8.DecodeRuneInString(key[i:])
		if c == 0 || (r == utf8.RuneError && size == 1) {
			sb.WriteByte(0)
			sb.WriteByte(hexDigits[c>>4])
			sb.WriteByte(hexDigits[c&0xf])
			i++
			continue
		}
		sb.WriteString(key[i : i+size])
		i += size
	}
	return sb.String()
}

func needsEscape(key string) bool {
	return strings.IndexByte(key, 0) >= 0 || !utf8.ValidString(key)
}

// originalKey inverts storedKey. ok is false for a string storedKey never
// returns (invalid UTF-8, or a NUL not followed by two upper-case hex
// digits): a key some other client wrote.
func originalKey(stored []byte) (string, bool) {
	if !utf8.Valid(stored) {
		return "", false
	}
	i := indexByte(stored, 0)
	if i < 0 {
		return string(stored), true
	}
	out := make([]byte, 0, len(stored))
	for i := 0; i < len(stored); i++ {
		c := stored[i]
		if c != 0 {
			out = append(out, c)
			continue
		}
		if i+2 >= len(stored) {
			return "", false
		}
		hi, lo := unhex(stored[i+1]), unhex(stored[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		out = append(out, byte(hi<<4|lo))
		i += 2
	}
	// Only NUL and bytes outside valid UTF-8 are escaped: an escape of
	// anything else is not this provider's writing.
	if storedKey(string(out)) != string(stored) {
		return "", false
	}
	return string(out), true
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
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

// storedGlob returns a Redis glob over stored keys that matches the stored
// form of every key the glob pattern matches (and maybe more: the caller
// filters what it finds with the exact pattern). Literal runs of valid UTF-8
// stay literal; '?', classes, and literal bytes that are not a whole UTF-8
// sequence become '*', because the byte they stand for may be stored as a
// three-byte escape. For the patterns aside builds (a literal prefix and
// '*') the result is the pattern itself.
func storedGlob(pattern string) string {
	var b strings.Builder
	lastStar := false // b ends with an unescaped '*'
	star := func() {
		if !lastStar {
			b.WriteByte('*')
			lastStar = true
		}
	}
	// lit collects a literal run, to be judged as UTF-8 as a whole.
	var lit []byte
	flush := func() {
		for i := 0; i < len(lit); {
			r, size := utf8.DecodeRune(lit[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				star()
			case r == 0:
				b.WriteString("\x0000")
				lastStar = false
			default:
				lastStar = false
				for _, c := range lit[i : i+size] {
					if c == '*' || c == '?' || c == '[' || c == ']' || c == '\\' {
						b.WriteByte('\\')
					}
					b.WriteByte(c)
				}
			}
			i += size
		}
		lit = lit[:0]
	}
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*', '?':
			flush()
			star()
		case '[':
			flush()
			star()
			// Skip the class as Redis reads it: up to the first ']' that
			// is not escaped, or the end.
			j := i + 1
			for j < len(pattern) && pattern[j] != ']' {
				if pattern[j] == '\\' && j+1 < len(pattern) {
					j++
				}
				j++
			}
			i = j
		case '\\':
			if i+1 < len(pattern) {
				i++
				lit = append(lit, pattern[i])
			} else {
				lit = append(lit, c)
			}
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return b.String()
}
