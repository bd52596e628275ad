package keys

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// matchCases are checked against Match here and against a real Redis in
// TestMatchAgreesWithRedis; the expectations follow Redis's stringmatchlen.
var matchCases = []struct {
	name    string
	pattern string
	s       string
	want    bool
}{
	{"a star matches everything", "*", "anything", true},
	{"a prefix star matches", "user:*", "user:42", true},
	{"a prefix star matches an empty rest", "user:*", "user:", true},
	{"a prefix star needs the prefix", "user:*", "users:42", false},
	{"a middle star spans colons", "user:*:profile", "user:42:7:profile", true},
	{"stars collapse", "a***b", "aXYb", true},
	{"a question mark is one byte", "user:?", "user:4", true},
	{"a question mark is not two bytes", "user:?", "user:42", false},
	{"a question mark is one byte of a multi-byte character", "caf?", "café", false},
	{"two question marks cover a two-byte character", "caf??", "café", true},
	{"a class matches a member", "h[ae]llo", "hallo", true},
	{"a class rejects a non-member", "h[ae]llo", "hillo", false},
	{"a negated class rejects a member", "h[^e]llo", "hello", false},
	{"a negated class matches a non-member", "h[^e]llo", "hallo", true},
	{"a range matches inside", "[a-c]", "b", true},
	{"a reversed range is swapped", "[c-a]", "b", true},
	{"a range rejects outside", "[a-c]", "d", false},
	{"an escaped star is literal", `a\*`, "a*", true},
	{"an escaped star does not glob", `a\*`, "ab", false},
	{"an escaped question mark is literal", `\?`, "?", true},
	{"an escaped backslash is literal", `a\\b`, `a\b`, true},
	{"a trailing backslash matches a backslash", `a\`, `a\`, true},
	{"a trailing backslash does not match other bytes", `a\`, "ab", false},
	{"an escaped bracket inside a class is a member", `[\]]`, "]", true},
	{"an escaped dash inside a class is a member", `a[\-]c`, "a-c", true},
	{"an escaped caret is not negation", `[\^]`, "^", true},
	{"an unterminated class runs to the end", "[abc", "b", true},
	{"an unterminated class is a class not a literal", "[abc", "[abc", false},
	{"an unterminated negated class", "[^a", "b", true},
	{"a lone open bracket matches nothing", "[", "[", false},
	{"a lone open bracket and caret matches any byte", "[^", "x", true},
	{"an empty class matches nothing", "[]", "]", false},
	{"an empty class then literals", "[]a]", "a]", false},
	{"an empty negated class matches any byte", "[^]", "z", true},
	{"a dash before the closing bracket makes a range to it", "[a-]", "]", true},
	{"that range runs to a", "[a-]", "^", true},
	{"that range needs a second closing bracket", "[a-]]", "b", false},
	{"a dash at the start is literal", "[-a]", "-", true},
	{"a class holding an escape at its end", `[ab\`, `\`, true},
	{"an escaped byte cannot start a range", `[\a-z]`, "m", false},
	{"so its dash is a member", `[\a-z]`, "-", true},
	{"ranges compare signed bytes: a to 0xC3 holds 0", "[a-\xc3]", "0", true},
	{"ranges compare signed bytes: a to 0xC3 misses b", "[a-\xc3]", "b", false},
	{"ranges compare signed bytes: a to 0xC3 holds 0xC3", "[a-\xc3]", "\xc3", true},
	{"a high range holds high bytes", "[\x80-\xff]", "\xc3", true},
	{"a high range misses ASCII", "[\x80-\xff]", "a", false},
	{"NUL is an ordinary byte", "a\x00*", "a\x00b", true},
	{"a question mark needs a byte", "a?", "a", false},
	{"trailing stars match nothing", "a**", "a", true},
	{"a class at the end needs a byte", "a[bc]", "a", false},
	{"matching is case-sensitive", "User", "user", false},
	{"a literal percent", "100%", "100%", true},
	{"stars and classes together", "*[0-9]:*", "user:42:x", true},
	{"a star cannot rescue a mismatched tail", "*a*b*c", "xaxbxd", false},
	{"the pathological pattern fails fast", strings.Repeat("a*", 30) + "b", strings.Repeat("a", 60), false},
	{"999 nested stars still match", strings.Repeat("*a", 999), strings.Repeat("a", 999), true},
	{"1001 nested stars exceed the nesting limit", strings.Repeat("*a", 1001), strings.Repeat("a", 1001), false},
}

func TestMatch(t *testing.T) {
	for _, tt := range matchCases {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Match(tt.pattern, tt.s))
		})
	}
}

func TestMatchEmptyString(t *testing.T) {
	// Redis's loop runs only while both pattern and string are non-empty.
	require.True(t, Match("", ""))
	require.False(t, Match("*", ""))
	require.False(t, Match("?", ""))
	require.False(t, Match("", "a"))
}

// refToken is one element of a pattern in the reference matcher.
type refToken struct {
	kind byte // '*', '?', 'c' (set), 'l' (literal)
	set  [256]bool
	lit  byte
}

// refParse splits a pattern into tokens by Redis's rules, building each
// class as a set of bytes.
func refParse(p string) []refToken {
	var toks []refToken
	for i := 0; i < len(p); {
		switch p[i] {
		case '*':
			if len(toks) == 0 || toks[len(toks)-1].kind != '*' {
				toks = append(toks, refToken{kind: '*'})
			}
			i++
		case '?':
			toks = append(toks, refToken{kind: '?'})
			i++
		case '[':
			i++
			neg := i < len(p) && p[i] == '^'
			if neg {
				i++
			}
			var set [256]bool
			for {
				if i+1 < len(p) && p[i] == '\\' {
					set[p[i+1]] = true
					i += 2
				} else if i == len(p) {
					break
				} else if p[i] == ']' {
					i++
					break
				} else if i+2 < len(p) && p[i+1] == '-' {
					lo, hi := int8(p[i]), int8(p[i+2])
					if lo > hi {
						lo, hi = hi, lo
					}
					for c := range 256 {
						if v := int8(c); lo <= v && v <= hi {
							set[c] = true
						}
					}
					i += 3
				} else {
					set[p[i]] = true
					i++
				}
			}
			if neg {
				for c := range set {
					set[c] = !set[c]
				}
			}
			toks = append(toks, refToken{kind: 'c', set: set})
		case '\\':
			if i+1 < len(p) {
				i++
			}
			toks = append(toks, refToken{kind: 'l', lit: p[i]})
			i++
		default:
			toks = append(toks, refToken{kind: 'l', lit: p[i]})
			i++
		}
	}
	return toks
}

// refMatch is the textbook dynamic-programming glob match over refParse's
// tokens, plus Redis's two departures: an empty string matches only an
// empty pattern, and more than maxNesting stars give up. It shares no code
// with Match.
func refMatch(p, s string) bool {
	if s == "" {
		return p == ""
	}
	toks := refParse(p)
	stars := 0
	for _, tk := range toks {
		if tk.kind == '*' {
			stars++
		}
	}
	if stars > maxNesting {
		panic("refMatch: too many stars to model the nesting limit")
	}
	// dp[j] reports whether toks[:i] matches s[:j].
	dp := make([]bool, len(s)+1)
	dp[0] = true
	for _, tk := range toks {
		next := make([]bool, len(s)+1)
		for j := 0; j <= len(s); j++ {
			switch tk.kind {
			case '*':
				next[j] = dp[j] || (j > 0 && next[j-1])
			case '?':
				next[j] = j > 0 && dp[j-1]
			case 'c':
				next[j] = j > 0 && dp[j-1] && tk.set[s[j-1]]
			default:
				next[j] = j > 0 && dp[j-1] && tk.lit == s[j-1]
			}
		}
		dp = next
	}
	return dp[len(s)]
}

func TestMatchCasesAgreeWithReference(t *testing.T) {
	for _, tt := range matchCases {
		if strings.Count(tt.pattern, "*") > maxNesting {
			continue
		}
		require.Equal(t, tt.want, refMatch(tt.pattern, tt.s), tt.name)
	}
}

// randomGlob draws patterns heavy in metacharacters and edge cases.
func randomGlob(r *rand.Rand, maxParts int) string {
	parts := []string{"a", "b", "c", "*", "**", "?", "[", "]", "^", "-", `\`, "[a-c]", "[^b]", "[]", "[^", "\xc3", "\x00", "z"}
	var sb strings.Builder
	for range r.IntN(maxParts + 1) {
		sb.WriteString(parts[r.IntN(len(parts))])
	}
	return sb.String()
}

func randomSubject(r *rand.Rand, maxLen int) string {
	const alphabet = "abc*?[]^-\\z\xc3\x00"
	b := make([]byte, r.IntN(maxLen+1))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func TestMatchAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		p, s := randomGlob(r, 7), randomSubject(r, 8)
		require.Equal(t, refMatch(p, s), Match(p, s), "pattern %q string %q", p, s)
	}
}

func TestMatchPathologicalPatternsTerminate(t *testing.T) {
	// Exponential backtracking would not finish these; Redis's early exit
	// keeps them about len(pattern)*len(s) steps.
	long := strings.Repeat("a", 20000)
	require.False(t, Match(strings.Repeat("*a", 500)+"b", long))
	require.False(t, Match(strings.Repeat("a*", 900)+"b", long))
	require.True(t, Match(strings.Repeat("*a", 500)+"*", long))
	require.False(t, Match(strings.Repeat("*?", 900)+"b", long))
	require.False(t, Match(strings.Repeat("*[a-z]", 900)+"b", long))
}

func FuzzMatch(f *testing.F) {
	for _, c := range matchCases {
		if len(c.pattern) < 200 {
			f.Add(c.pattern, c.s)
		}
	}
	f.Add(strings.Repeat("*a", 600)+"b", strings.Repeat("a", 4000))
	f.Add(strings.Repeat("*", 3000), "x")
	f.Fuzz(func(t *testing.T, p, s string) {
		got := Match(p, s)
		if strings.Count(p, "*") <= maxNesting {
			require.Equal(t, refMatch(p, s), got, "pattern %q string %q", p, s)
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Match("aside:shop:v1:e:user:*:profile", "aside:shop:v1:e:user:42:profile")
	}
}

func BenchmarkMatchPathological(b *testing.B) {
	p, s := strings.Repeat("*a", 100)+"b", strings.Repeat("a", 2000)
	b.ReportAllocs()
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		Match(p, s)
	}
}
