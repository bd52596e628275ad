package keys

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"a common key is copied as is", "user:42", "user:42"},
		{"glob metacharacters are copied", `a*b?c[d]e\f`, `a*b?c[d]e\f`},
		{"spaces and punctuation are copied", "a b/c-d_e.f=g&h", "a b/c-d_e.f=g&h"},
		{"the escape character is escaped", "100%", "100%25"},
		{"hash tag braces are escaped", "cart:{42}", "cart:%7B42%7D"},
		{"the hash marker is escaped", "#1", "%231"},
		{"CR, LF and NUL are escaped", "a\r\n\x00", "a%0D%0A%00"},
		{"DEL and US are escaped", "\x7f\x1f", "%7F%1F"},
		{"valid non-ASCII text is copied", "café 日本 🎉", "café 日本 🎉"},
		{"a lone invalid byte is escaped", "a\xffb", "a%FFb"},
		{"a truncated sequence is escaped byte by byte", "\xe6\x97", "%E6%97"},
		{"a lead byte before ASCII is escaped", "\xc3(", "%C3("},
		{"a C1 control is escaped byte by byte", "\u0085", "%C2%85"},
		{"U+00A0 is the first copied character after C1", "\u00a0", "\u00a0"},
		{"a surrogate half is invalid and escaped", "\xed\xa0\x80", "%ED%A0%80"},
		{"an overlong encoding is escaped", "\xc0\xaf", "%C0%AF"},
		{"the replacement character itself is copied", "\ufffd", "\ufffd"},
		{"the empty string stays empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(Escape(nil, tt.in))
			require.Equal(t, tt.want, got)
			back, err := Unescape(nil, got)
			require.NoError(t, err)
			require.Equal(t, tt.in, string(back))
		})
	}
}

func TestEscapeAppendsToDst(t *testing.T) {
	dst := []byte("head:")
	require.Equal(t, "head:a%25", string(Escape(dst, "a%")))
}

func TestUnescapeRejectsWhatEscapeNeverWrites(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"a lone percent", "%"},
		{"a percent with one digit", "a%4"},
		{"a percent with a non-hex digit", "%4G"},
		{"lower-case hex digits", "%7b"},
		{"an escaped byte that is always copied", "%41"},
		{"a raw brace", "{"},
		{"a raw newline", "a\nb"},
		{"a raw invalid byte", "\xff"},
		{"a C1 control left raw", "\u0085"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := Unescape(dst, tt.in)
			require.ErrorIs(t, err, ErrInvalidEscape)
			require.Equal(t, "keep", string(out))
		})
	}
}

// trickyString draws strings from the byte sequences that matter to the
// escaping: the escaped ASCII set, partial and complete UTF-8 sequences, C1
// controls, ':' and glob metacharacters.
func trickyString(r *rand.Rand, maxParts int) string {
	parts := []string{
		"a", "b", "z", "0", "9", "A", "F", ":", "%", "%2", "%25", "{", "}", "#", "*", "?",
		"[", "]", "\\", "^", "-", " ", "\x00", "\r", "\n", "\x7f", "\x1f", "é", "\xc3",
		"\xa9", "\xff", "\xe6\x97", "日", "🎉", "\u0085", "\ufffd", "\xed\xa0\x80", "user:", "42",
	}
	n := r.IntN(maxParts + 1)
	var sb strings.Builder
	for range n {
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	return sb.String()
}

func randomBytes(r *rand.Rand, maxLen int) string {
	b := make([]byte, r.IntN(maxLen+1))
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	return string(b)
}

func TestEscapeRoundTripsAndIsSafe(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		var s string
		if i%2 == 0 {
			s = trickyString(r, 12)
		} else {
			s = randomBytes(r, 24)
		}
		esc := string(Escape(nil, s))
		requireSafe(t, esc)
		back, err := Unescape(nil, esc)
		require.NoError(t, err, "input %q", s)
		require.Equal(t, s, string(back))
	}
}

// requireSafe checks the promises about stored text: valid UTF-8, no hash
// tag braces, no control characters.
func requireSafe(t testing.TB, s string) {
	t.Helper()
	require.True(t, utf8.ValidString(s), "%q is not valid UTF-8", s)
	for _, r := range s {
		require.False(t, r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == '{' || r == '}',
			"%q holds %U", s, r)
	}
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "user:42", "%", "{}", "#", "\x00\r\n", "\xff", "é", "\u0085", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		esc := string(Escape(nil, s))
		requireSafe(t, esc)
		require.NotContains(t, esc, "#")
		back, err := Unescape(nil, esc)
		require.NoError(t, err)
		require.Equal(t, s, string(back))
		// Unescape accepts exactly Escape's image.
		if out, err := Unescape(nil, s); err == nil {
			require.Equal(t, s, string(Escape(nil, string(out))))
		} else {
			require.True(t, errors.Is(err, ErrInvalidEscape))
		}
	})
}
