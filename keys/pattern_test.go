package keys

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

func TestEntryPatternTranslation(t *testing.T) {
	b := mustNew(t, Options{Namespace: "shop"})
	tests := []struct {
		name string
		glob string
		want string
	}{
		{"a prefix glob keeps its star", "user:*", "user:*"},
		{"a lone star matches the whole namespace", "*", "*"},
		{"runs of stars collapse", "a***b", "a*b"},
		{"question marks and classes are kept", "sku:[a-c]?[^x]", "sku:[a-c]?[^x]"},
		{"braces in literals are escaped", "cart:{*}", "cart:%7B*%7D"},
		{"percent and hash in literals are escaped", "100%#*", "100%25%23*"},
		{"control bytes in literals are escaped", "a\n*", "a%0A*"},
		{"an escaped metacharacter stays escaped", `lit\*star\?`, `lit\*star\?`},
		{"an escaped ordinary byte loses its needless backslash", `\a\:b`, "a:b"},
		{"an escaped brace is escaped as a key byte", `\{x`, "%7Bx"},
		{"a trailing backslash becomes an escaped backslash", `a\`, `a\\`},
		{"an escaped backslash stays escaped", `a\\b`, `a\\b`},
		{"a closing bracket outside a class is quoted", "a]", `a\]`},
		{"non-ASCII text is copied", "café:*", "café:*"},
		{"a class of non-ASCII bytes is copied", "[é]?", "[é]?"},
		{"an unterminated class is copied to the end", "a[bc", "a[bc"},
		{"an unterminated class ending in a backslash is copied", `a[b\`, `a[b\`},
		{"a dash range to the closing bracket is copied whole", "[a-]b]", "[a-]b]"},
		{"an empty class is copied", "[]x", "[]x"},
		{"a negated class may hold escaped characters", "[^%{]", "[^%{]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.EntryPattern(tt.glob)
			require.NoError(t, err)
			require.Equal(t, "aside:shop:v1:e:"+tt.want, got)
		})
	}
}

func TestEntryPatternQuotesTheNamespace(t *testing.T) {
	b := mustNew(t, Options{Namespace: `a*b?[c]\d:e`})
	got, err := b.EntryPattern("k*")
	require.NoError(t, err)
	require.Equal(t, `aside:a\*b\?\[c\]\\d%3Ae:v1:e:k*`, got)
	e, _ := b.Entry("key")
	require.True(t, Match(got, e))
	// Without quoting, the namespace's '*' would also match this one.
	o := mustNew(t, Options{Namespace: `aXXb?[c]\d:e`})
	oe, _ := o.Entry("key")
	require.False(t, Match(got, oe))
}

func TestEntryPatternRejects(t *testing.T) {
	b := mustNew(t, Options{})
	tests := []struct {
		name    string
		glob    string
		mention string
	}{
		{"a class holding a percent", "[%]", "'%'"},
		{"a class holding a brace", "a[{}]", "'{'"},
		{"a class holding a hash", "[#a]", "'#'"},
		{"a class holding an escaped control byte", "[\\\n]", `'\n'`},
		{"a range spanning the escaped punctuation", "[!-~]", "'#'"},
		{"a range spanning the control bytes", "[\x01-a]", `\x01`},
		{"a range running to the closing bracket over braces", "[~-]x]", "'{'"},
		{"an unterminated class holding a brace", "x[{", "'{'"},
		{"invalid UTF-8", "user:\xff*", "UTF-8"},
		{"a split character", "caf\xc3?", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := b.EntryPattern(tt.glob)
			require.ErrorIs(t, err, ErrInvalidPattern)
			require.Empty(t, got)
			require.Contains(t, err.Error(), tt.mention)
		})
	}
}

// plainKey draws keys that Escape leaves unchanged, rich in glob
// metacharacters and multi-byte characters.
func plainKey(r *rand.Rand, maxParts int) string {
	parts := []string{"a", "b", "c", ":", "*", "?", "[", "]", `\`, "^", "-", "é", "日", " ", "user", "42", "0", "A", "!", "~"}
	var sb strings.Builder
	for range r.IntN(maxParts + 1) {
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	return sb.String()
}

// plainGlob draws valid-UTF-8 globs over every feature, including literals
// that Escape rewrites and classes EntryPattern rejects.
func plainGlob(r *rand.Rand, maxParts int) string {
	parts := []string{
		"a", "b", "c", ":", "*", "**", "?", "[a-c]", "[^b]", "[^%]", "[é]", "[:]", `\*`, `\?`, `\[`, `\`,
		"[", "]", "^", "-", "é", "日", "%", "{", "#", "[]", "[^", "[a-]", "0", "A", "user", "[%]", "\n",
	}
	var sb strings.Builder
	for range r.IntN(maxParts + 1) {
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	return sb.String()
}

func TestEntryPatternIsExactOnPlainKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	b := mustNew(t, Options{Namespace: "n:s"})
	var ks, stored []string
	for len(ks) < 400 {
		k := plainKey(r, 7)
		if k == "" {
			continue
		}
		require.Equal(t, k, string(Escape(nil, k)), "generator made a key that is not plain")
		s, err := b.Entry(k)
		require.NoError(t, err)
		ks, stored = append(ks, k), append(stored, s)
	}
	accepted := 0
	for range 3000 {
		g := plainGlob(r, 7)
		if g == "" {
			continue
		}
		sg, err := b.EntryPattern(g)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidPattern)
			continue
		}
		accepted++
		for i, k := range ks {
			if Match(g, k) != Match(sg, stored[i]) {
				t.Fatalf("glob %q (stored %q) on key %q: logical %v, stored %v", g, sg, k, Match(g, k), Match(sg, stored[i]))
			}
		}
	}
	require.Greater(t, accepted, 2000)
}

// starGlob draws globs of literal text and '*' whose literals after a '*'
// never start with a hex digit 0-9 A-F.
func starGlob(r *rand.Rand, maxParts int) string {
	parts := []string{"*", "*", "a", "x", ":", "%", "{", "}", "#", "é", "日", "\u0085", "\x00", "\n", "user:", `\*`, `\?`, `\[`, "]", "^"}
	var sb strings.Builder
	for range r.IntN(maxParts + 1) {
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	return sb.String()
}

func TestEntryPatternIsExactForLiteralAndStarGlobsOnAllKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	b := mustNew(t, Options{})
	var ks, stored []string
	for len(ks) < 600 {
		var k string
		if len(ks)%2 == 0 {
			k = trickyString(r, 6)
		} else {
			k = randomBytes(r, 6)
		}
		if k == "" {
			continue
		}
		s, err := b.Entry(k)
		require.NoError(t, err)
		ks, stored = append(ks, k), append(stored, s)
	}
	for range 2000 {
		g := starGlob(r, 6)
		if g == "" {
			continue
		}
		sg, err := b.EntryPattern(g)
		require.NoError(t, err, "glob %q", g)
		for i, k := range ks {
			if Match(g, k) != Match(sg, stored[i]) {
				t.Fatalf("glob %q (stored %q) on key %q: logical %v, stored %v", g, sg, k, Match(g, k), Match(sg, stored[i]))
			}
		}
	}
}

// TestEntryPatternDocumentedLimits pins what the EntryPattern documentation
// says differs for keys holding escaped bytes and for hashed keys.
func TestEntryPatternDocumentedLimits(t *testing.T) {
	b := mustNew(t, Options{MaxLen: MinMaxLen})
	matches := func(glob, key string) bool {
		t.Helper()
		sg, err := b.EntryPattern(glob)
		require.NoError(t, err)
		s, err := b.Entry(key)
		require.NoError(t, err)
		return Match(sg, s)
	}
	tests := []struct {
		name       string
		glob, key  string
		logical    bool
		storedWant bool
	}{
		{"a question mark does not match an escaped byte", "user:?", "user:%", true, false},
		{"a negated class does not match an escaped byte", "user:[^x]", "user:{", true, false},
		{"a star matches an escaped byte", "user:*", "user:%", true, true},
		{"a literal escaped byte matches itself", "user:%", "user:%", true, true},
		{"a star then a hex digit can end inside an escape", "*7B", "{", false, true},
		{"a star then a non-hex literal cannot", "*x", "{", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.logical, Match(tt.glob, tt.key), "logical")
			require.Equal(t, tt.storedWant, matches(tt.glob, tt.key), "stored")
		})
	}

	long := "report:2026:" + strings.Repeat("x", 300)
	budget := MinMaxLen - HashedSuffixLen
	t.Run("a hashed key is matched by a prefix glob within its readable part", func(t *testing.T) {
		require.True(t, matches("report:*", long))
		require.True(t, matches("*", long))
		require.True(t, matches(long[:budget]+"*", long))
	})
	t.Run("a hashed key is not matched by a glob spelling the whole key", func(t *testing.T) {
		require.True(t, Match(long, long))
		require.False(t, matches(long, long))
	})
	t.Run("a hashed key is not matched by a literal running past its readable part", func(t *testing.T) {
		require.False(t, matches(long[:budget+1]+"*", long))
	})
	t.Run("a hashed key is not matched by a suffix glob", func(t *testing.T) {
		require.True(t, Match("*xxx", long))
		require.False(t, matches("*xxx", long))
	})
	t.Run("a hashed key may be matched through its digest", func(t *testing.T) {
		// A '*' can reach into the hex digest: "*#*" matches every hashed
		// key, and the glob's '#' is escaped, so this is the only way.
		s, _ := b.Entry(long)
		require.True(t, Match("aside::v1:e:*#*", s))
		require.False(t, matches("*#*", long))
	})
}

func TestEntryPatternNeverLeavesItsNamespaceVersionAndKind(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	b := mustNew(t, Options{Namespace: "a"})
	others := []*Builder{
		mustNew(t, Options{Namespace: "a", Version: 2}),
		mustNew(t, Options{Namespace: "a:b"}),
		mustNew(t, Options{Namespace: "ab"}),
		mustNew(t, Options{}),
	}
	for range 500 {
		k := trickyString(r, 5)
		if k == "" {
			continue
		}
		tag, _ := b.Tag(k)
		foreign := []string{tag}
		for _, o := range others {
			e, _ := o.Entry(k)
			foreign = append(foreign, e)
		}
		for _, g := range []string{"*", "?*", "*" + k + "*", "[^z]*"} {
			if !utf8.ValidString(g) {
				continue
			}
			sg, err := b.EntryPattern(g)
			if err != nil {
				continue
			}
			for _, f := range foreign {
				require.False(t, Match(sg, f), "glob %q (stored %q) matched %q", g, sg, f)
			}
		}
	}
}

func FuzzEntryPattern(f *testing.F) {
	f.Add("user:*", "user:42")
	f.Add("[a-]x]", "]x")
	f.Add(`a\`, `a\`)
	f.Add("[^", "x")
	f.Add("*7B", "{")
	f.Fuzz(func(t *testing.T, g, k string) {
		b := mustNew(t, Options{})
		sg, err := b.EntryPattern(g)
		if err != nil {
			require.True(t, g == "" || strings.Contains(err.Error(), "aside: keys:"))
			return
		}
		require.True(t, utf8.ValidString(sg))
		require.True(t, strings.HasPrefix(sg, b.entryGlob))
		if !strings.Contains(g, "[") {
			// Classes are copied verbatim; everything else is escaped text.
			requireSafe(t, sg)
		}
		if k == "" || string(Escape(nil, k)) != k || len(k) > DefaultMaxLen {
			return
		}
		s, err := b.Entry(k)
		require.NoError(t, err)
		if strings.Count(g, "*") < maxNesting {
			require.Equal(t, Match(g, k), Match(sg, s), "glob %q (stored %q) on plain key %q", g, sg, k)
		}
	})
}
