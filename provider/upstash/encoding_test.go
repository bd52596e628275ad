package upstash

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/keys"
)

func TestStoredKeys(t *testing.T) {
	tests := []struct {
		name, key, stored string
	}{
		{"an aside key is stored as itself", "aside:shop:v1:e:/products/2?page=1", "aside:shop:v1:e:/products/2?page=1"},
		{"valid UTF-8 with control bytes is stored as itself", "tab\there\r\n é 🔑", "tab\there\r\n é 🔑"},
		{"NUL becomes NUL 00", "a\x00b", "a\x0000b"},
		{"a byte outside UTF-8 becomes NUL and its hex", "x\xff\xfe", "x\x00FF\x00FE"},
		{"a truncated sequence is escaped byte by byte", "\xc3(", "\x00C3("},
		{"a surrogate encoding is not UTF-8", "\xed\xa0\x80", "\x00ED\x00A0\x0080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.stored, storedKey(tt.key))
			var fromJSON string
			require.NoError(t, json.Unmarshal(appendKey(nil, tt.key), &fromJSON))
			require.Equal(t, tt.stored, fromJSON, "the JSON string decodes to the stored key")
			back, ok := originalKey([]byte(tt.stored))
			require.True(t, ok)
			require.Equal(t, tt.key, back)
		})
	}
	for _, foreign := range []string{"\xff", "a\x00", "a\x00F", "a\x00fz", "a\x0041"} {
		_, ok := originalKey([]byte(foreign))
		require.False(t, ok, "%q is not a stored key", foreign)
	}
}

func TestValuesRoundTripThroughStrictBase64(t *testing.T) {
	for _, v := range [][]byte{nil, {}, {0}, []byte("hello"), {0xff, 0xfe, 0xfd, 0xfc}} {
		enc := appendValue(nil, v)
		var s string
		require.NoError(t, json.Unmarshal(enc, &s))
		got, ok := decodeValue([]byte(s))
		require.True(t, ok)
		require.Equal(t, len(v), len(got))
		require.Equal(t, string(v), string(got))
		require.Len(t, enc, encodedValueLen(len(v)))
	}
	for _, bad := range []string{"a", "abc", "ab=c", "aGVsbG8", "aGVsbG9=", " aGk="} {
		_, ok := decodeValue([]byte(bad))
		require.False(t, ok, "%q is not text the provider writes", bad)
	}
}

// Every key the pattern matches has a stored form the stored glob
// matches, so SCAN MATCH finds it; the exact check happens after.
func TestStoredGlobFindsEveryMatch(t *testing.T) {
	pairs := []struct{ pattern, key string }{
		{"aside:ns:v1:e:*", "aside:ns:v1:e:user:42"},
		{"a?c", "a\xffc"},
		{"a?c", "a\x00c"},
		{"[a-z]\xff*", "b\xff\xfe"},
		{"\xc3*", "\xc3\xa9"},
		{"*\xa9", "\xc3\xa9"},
		{`lit\*eral\?`, "lit*eral?"},
		{"é?", "é\xff"},
		{"a\\", "a\\"},
		{"x[^]]y", "xz]y"},
	}
	for _, pr := range pairs {
		require.True(t, keys.Match(pr.pattern, pr.key), "test case: %q should match %q", pr.pattern, pr.key)
		g := storedGlob(pr.pattern)
		require.True(t, utf8.ValidString(g))
		require.True(t, keys.Match(g, storedKey(pr.key)), "stored glob %q of %q misses %q", g, pr.pattern, storedKey(pr.key))
	}
	require.Equal(t, "aside:ns:v1:e:user:*", storedGlob("aside:ns:v1:e:user:*"), "aside's patterns are unchanged")
	require.Equal(t, "a*b*", storedGlob("a?b[xy]"))
	require.Equal(t, `x\*\?\[\]\\*`, storedGlob(`x\*\?\[\]\\*`))
}

// The same property over random keys and patterns built from bytes that
// stress it: NUL, bytes outside UTF-8, multi-byte runes and glob syntax.
func TestStoredGlobPropertyOnRandomInput(t *testing.T) {
	alphabet := []string{"a", "b", "\x00", "\xff", "\xc3", "\xa9", "é", "*", "?", "[a-c]", "[^a]", `\`, `\*`, "]", "["}
	r := rand.New(rand.NewPCG(1, 2))
	gen := func(n int, glob bool) string {
		var b strings.Builder
		for range n {
			s := alphabet[r.IntN(len(alphabet))]
			if !glob && len(s) > 1 && s != "é" {
				s = s[:1]
			}
			b.WriteString(s)
		}
		return b.String()
	}
	matched := 0
	for range 200000 {
		k := gen(1+r.IntN(5), false)
		p := gen(1+r.IntN(5), true)
		if !keys.Match(p, k) {
			continue
		}
		matched++
		if !keys.Match(storedGlob(p), storedKey(k)) {
			t.Fatalf("pattern %q matches key %q, but its stored glob %q misses the stored key %q", p, k, storedGlob(p), storedKey(k))
		}
	}
	require.Greater(t, matched, 1000, "the generator should produce matches")
}

func FuzzStoredKey(f *testing.F) {
	for _, s := range []string{"", "a", "\x00", "\xff", "é", "\xc3(", "a\x0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		st := storedKey(key)
		if !utf8.ValidString(st) {
			t.Fatalf("stored key %q of %q is not UTF-8", st, key)
		}
		back, ok := originalKey([]byte(st))
		if !ok || back != key {
			t.Fatalf("originalKey(storedKey(%q)) = %q, %v", key, back, ok)
		}
		var fromJSON string
		if err := json.Unmarshal(appendKey(nil, key), &fromJSON); err != nil || fromJSON != st {
			t.Fatalf("JSON of %q decodes to %q (%v), want %q", key, fromJSON, err, st)
		}
		// Any string is either not a stored key or maps back to itself.
		if k, ok := originalKey([]byte(key)); ok && storedKey(k) != key {
			t.Fatalf("originalKey(%q) = %q, whose stored form is %q", key, k, storedKey(k))
		}
	})
}

func FuzzStoredGlob(f *testing.F) {
	f.Add("a?c", "a\xffc")
	f.Add("[a-z]*", "b\x00")
	f.Add(`\*`, "*")
	f.Fuzz(func(t *testing.T, pattern, key string) {
		if len(pattern) > 64 || len(key) > 64 {
			return // keys.Match is exponential in stars; keep it quick
		}
		g := storedGlob(pattern)
		if !utf8.ValidString(g) {
			t.Fatalf("stored glob %q of %q is not UTF-8", g, pattern)
		}
		if keys.Match(pattern, key) && !keys.Match(g, storedKey(key)) {
			t.Fatalf("pattern %q matches %q but stored glob %q misses %q", pattern, key, g, storedKey(key))
		}
	})
}
