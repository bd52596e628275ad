package keys

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// EntryPattern translates glob, a Redis glob (see Match) over the logical
// entry keys of this namespace and version, into a glob over stored keys,
// for provider.PatternDeleter.
//
// The result is the quoted entry prefix followed by glob with its literal
// text escaped as Escape does and its metacharacters kept. It never matches a
// tag or a key of another namespace or version. For every key that Escape
// leaves unchanged (printable ASCII other than % { } #, and valid UTF-8 text
// without control characters), and for every glob made only of literal text
// and '*' (like "user:42:*"), the result matches Entry(k) exactly when glob
// matches k. Two things differ for a key holding bytes that Escape rewrites,
// because each such byte is three bytes "%XX" in the stored key: '?' and a
// class never match it, and a '*' followed by a literal starting with one of
// 0-9 A-F may end inside such an escape (an over-match: the entry is deleted
// although the logical glob does not match it).
//
// A key long enough to be hashed is stored as its readable prefix, '#' and a
// hex digest (see Options.MaxLen), and the result is matched against that:
// "prefix*" patterns whose literal part fits in the readable prefix still
// match it, but a glob that spells out the whole long key, or whose literal
// part runs past the readable prefix, does not.
//
// It fails with ErrEmpty for an empty glob, and with ErrInvalidPattern when
// glob is not valid UTF-8 (stored keys and patterns are always text) or
// when a class can match a byte that Escape rewrites, such as "[%{}]" or a
// range spanning '#' or '%' like "[!-~]": such a class has no faithful
// translation. Negated classes are accepted. Classes are copied verbatim, so
// a class is the one place where the result may hold a raw '{' or control
// byte; the result is valid UTF-8 in every case.
func (b *Builder) EntryPattern(glob string) (string, error) {
	if glob == "" {
		return "", errEmptyPattern
	}
	if !utf8.ValidString(glob) {
		return "", fmt.Errorf("%w: %q is not valid UTF-8 at byte %d; match such bytes with '*'", ErrInvalidPattern, glob, firstInvalid(glob))
	}
	b = b.orDefault()
	out := make([]byte, 0, len(b.entryGlob)+len(glob)+len(glob)/2)
	out = append(out, b.entryGlob...)

	// Literal bytes are collected into runs and escaped run by run: a run
	// never splits a character, because the metacharacters that end it are
	// ASCII and glob is valid UTF-8.
	var litBuf [128]byte
	lit := litBuf[:0]
	flush := func() {
		if len(lit) > 0 {
			var escBuf [256]byte
			esc, _, _ := appendEscaped(escBuf[:0], string(lit), &keyTable, math.MaxInt, math.MaxInt)
			out = appendGlobQuoted(out, string(esc))
			lit = lit[:0]
		}
	}
	for i := 0; i < len(glob); {
		switch c := glob[i]; c {
		case '*':
			flush()
			out = append(out, '*')
			for i < len(glob) && glob[i] == '*' {
				i++
			}
		case '?':
			flush()
			out = append(out, '?')
			i++
		case '[':
			flush()
			_, rest := matchClass(glob[i+1:], 0)
			end := len(glob) - len(rest)
			class := glob[i:end]
			if err := checkClass(class, i); err != nil {
				return "", err
			}
			// Copied verbatim: a class left open runs to the end of glob
			// and still does in the result.
			out = append(out, class...)
			i = end
		case '\\':
			if i+1 < len(glob) {
				i++
			}
			lit = append(lit, glob[i])
			i++
		default:
			lit = append(lit, c)
			i++
		}
	}
	flush()
	return string(out), nil
}

// checkClass rejects a non-negated class that can match a byte Escape always
// rewrites: in the stored key that byte is "%XX", which the class cannot
// match, while it would match the '%' of other escapes.
func checkClass(class string, at int) error {
	body := class[1:]
	if len(body) > 0 && body[0] == '^' {
		return nil
	}
	for c := range 0x80 {
		if keyTable[c] != classEscape {
			continue
		}
		if ok, _ := matchClass(body, byte(c)); ok {
			return fmt.Errorf("%w: the class %q at byte %d can match %q, which stored keys hold escaped as %%%02X; match it as a literal outside the class, or narrow the class", ErrInvalidPattern, class, at, rune(c), c)
		}
	}
	return nil
}

// appendGlobQuoted appends s with every glob metacharacter made literal.
func appendGlobQuoted(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return dst
}

func firstInvalid(s string) int {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(s)
}
