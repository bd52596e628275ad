package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/provider"
)

func mustNew(t testing.TB, o Options) *Builder {
	t.Helper()
	b, err := New(o)
	require.NoError(t, err)
	return b
}

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		field string
	}{
		{"a negative version is rejected", Options{Version: -1}, "Options.Version"},
		{"a MaxLen below the minimum is rejected", Options{MaxLen: MinMaxLen - 1}, "Options.MaxLen"},
		{"a negative MaxLen is rejected", Options{MaxLen: -5}, "Options.MaxLen"},
		{"a MaxLen above the maximum is rejected", Options{MaxLen: MaxMaxLen + 1}, "Options.MaxLen"},
		{"an over-long namespace is rejected", Options{Namespace: strings.Repeat("n", MaxNamespaceLen+1)}, "Options.Namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.opts)
			require.Nil(t, b)
			require.ErrorIs(t, err, ErrInvalidOptions)
			require.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestNewAcceptsTheLimits(t *testing.T) {
	for _, o := range []Options{
		{},
		{MaxLen: MinMaxLen},
		{MaxLen: MaxMaxLen},
		{Namespace: strings.Repeat("\x00", MaxNamespaceLen), Version: 1<<31 - 1},
	} {
		_, err := New(o)
		require.NoError(t, err, "%+v", o)
	}
}

func TestLayout(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		key       string
		wantEntry string
		wantTag   string
	}{
		{"the zero options use an empty namespace and version 1", Options{}, "user:42", "aside::v1:e:user:42", "aside::v1:t:user:42"},
		{"version 0 means 1", Options{Namespace: "ns", Version: 0}, "k", "aside:ns:v1:e:k", "aside:ns:v1:t:k"},
		{"the version is written in decimal", Options{Namespace: "ns", Version: 42}, "k", "aside:ns:v42:e:k", "aside:ns:v42:t:k"},
		{"colons in the namespace are escaped", Options{Namespace: "a:b"}, "c", "aside:a%3Ab:v1:e:c", "aside:a%3Ab:v1:t:c"},
		{"colons in the key are kept", Options{Namespace: "a"}, "b:c", "aside:a:v1:e:b:c", "aside:a:v1:t:b:c"},
		{"braces in the namespace are escaped", Options{Namespace: "{x}"}, "k", "aside:%7Bx%7D:v1:e:k", "aside:%7Bx%7D:v1:t:k"},
		{"the key is escaped", Options{}, "{50%}\n", "aside::v1:e:%7B50%25%7D%0A", "aside::v1:t:%7B50%25%7D%0A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := mustNew(t, tt.opts)
			e, err := b.Entry(tt.key)
			require.NoError(t, err)
			require.Equal(t, tt.wantEntry, e)
			tag, err := b.Tag(tt.key)
			require.NoError(t, err)
			require.Equal(t, tt.wantTag, tag)
			require.True(t, strings.HasPrefix(e, b.Prefix()))
			require.True(t, strings.HasPrefix(tag, b.Prefix()))

			ae, err := b.AppendEntry([]byte("x"), tt.key)
			require.NoError(t, err)
			require.Equal(t, "x"+tt.wantEntry, string(ae))
			at, err := b.AppendTag([]byte("y"), tt.key)
			require.NoError(t, err)
			require.Equal(t, "y"+tt.wantTag, string(at))
		})
	}
}

func TestEmptyKeysAreRejected(t *testing.T) {
	b := mustNew(t, Options{})
	_, err := b.Entry("")
	require.ErrorIs(t, err, ErrEmpty)
	require.Contains(t, err.Error(), "Entry")
	dst, err := b.AppendEntry([]byte("keep"), "")
	require.ErrorIs(t, err, ErrEmpty)
	require.Equal(t, "keep", string(dst))
	_, err = b.Tag("")
	require.ErrorIs(t, err, ErrEmpty)
	require.Contains(t, err.Error(), "tag")
	_, err = b.AppendTag(nil, "")
	require.ErrorIs(t, err, ErrEmpty)
	_, err = b.EntryPattern("")
	require.ErrorIs(t, err, ErrEmpty)
}

func TestZeroBuilderBehavesLikeDefaultOptions(t *testing.T) {
	want := mustNew(t, Options{})
	for _, b := range []*Builder{nil, {}} {
		require.Equal(t, want.Prefix(), b.Prefix())
		e, err := b.Entry("user:42")
		require.NoError(t, err)
		require.Equal(t, "aside::v1:e:user:42", e)
		long := strings.Repeat("x", 500)
		we, _ := want.Entry(long)
		ge, _ := b.Entry(long)
		require.Equal(t, we, ge)
		g, err := b.EntryPattern("u*")
		require.NoError(t, err)
		require.Equal(t, "aside::v1:e:u*", g)
	}
}

// stored is a stored key read back into its parts.
type stored struct {
	ns      string
	version int
	kind    byte
	key     string // the logical key when unhashed, else the readable prefix (escaped)
	digest  string // hex SHA-256 of the logical key when hashed
}

// parseStored reads a stored key back by the grammar in doc.go, checking on
// the way that every part is in the one form the Builder writes. Recovering
// the tuple from the stored key is what makes the mapping one-to-one.
func parseStored(t testing.TB, s string) stored {
	t.Helper()
	rest, ok := strings.CutPrefix(s, "aside:")
	require.True(t, ok, s)
	nsEsc, rest, ok := strings.Cut(rest, ":")
	require.True(t, ok, s)
	ns := unescapeAny(t, nsEsc)
	again, _, _ := appendEscaped(nil, ns, &nsTable, 1<<30, 1<<30)
	require.Equal(t, nsEsc, string(again), "namespace not canonical in %q", s)

	rest, ok = strings.CutPrefix(rest, "v")
	require.True(t, ok, s)
	ver, rest, ok := strings.Cut(rest, ":")
	require.True(t, ok, s)
	v, err := strconv.Atoi(ver)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(v), ver, "version not canonical in %q", s)
	require.GreaterOrEqual(t, v, 1)

	require.GreaterOrEqual(t, len(rest), 3, s)
	kind := rest[0]
	require.Contains(t, []byte{'e', 't'}, kind)
	require.Equal(t, byte(':'), rest[1])
	body := rest[2:]
	readable, digest, hashed := strings.Cut(body, "#")
	if !hashed {
		k, err := Unescape(nil, body)
		require.NoError(t, err)
		return stored{ns: ns, version: v, kind: kind, key: string(k)}
	}
	require.Len(t, digest, 64)
	_, err = hex.DecodeString(digest)
	require.NoError(t, err)
	require.Equal(t, strings.ToLower(digest), digest)
	return stored{ns: ns, version: v, kind: kind, key: readable, digest: digest}
}

func unescapeAny(t testing.TB, s string) string {
	t.Helper()
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			out = append(out, s[i])
			continue
		}
		require.Less(t, i+2, len(s), s)
		b, err := hex.DecodeString(s[i+1 : i+3])
		require.NoError(t, err)
		out = append(out, b[0])
		i += 2
	}
	return string(out)
}

type tuple struct {
	ns      string
	version int
	tag     bool
	key     string
}

func (tp tuple) build(t testing.TB, maxLen int) string {
	b := mustNew(t, Options{Namespace: tp.ns, Version: tp.version, MaxLen: maxLen})
	var s string
	var err error
	if tp.tag {
		s, err = b.Tag(tp.key)
	} else {
		s, err = b.Entry(tp.key)
	}
	require.NoError(t, err)
	return s
}

// checkStored checks everything promised about one stored key: it is safe
// text, far below provider.MaxKeyLen, its body is at most maxLen bytes, and
// it parses back to its tuple (or, hashed, to the readable prefix of the
// escaped key and the digest of the whole key).
func checkStored(t testing.TB, tp tuple, s string, maxLen int) {
	t.Helper()
	requireSafe(t, s)
	require.LessOrEqual(t, len(s), provider.MaxKeyLen)
	p := parseStored(t, s)
	require.Equal(t, tp.ns, p.ns)
	wantVersion := tp.version
	if wantVersion == 0 {
		wantVersion = 1
	}
	require.Equal(t, wantVersion, p.version)
	require.Equal(t, tp.tag, p.kind == 't')
	esc := string(Escape(nil, tp.key))
	if len(esc) <= maxLen {
		require.Empty(t, p.digest, "a key of %d escaped bytes must not be hashed", len(esc))
		require.Equal(t, tp.key, p.key)
		return
	}
	sum := sha256.Sum256([]byte(tp.key))
	require.Equal(t, hex.EncodeToString(sum[:]), p.digest)
	require.True(t, strings.HasPrefix(esc, p.key), "readable part %q is not a prefix of %q", p.key, esc)
	require.LessOrEqual(t, len(p.key)+HashedSuffixLen, maxLen)
	// The cut is on a boundary: the readable part unescapes to a prefix of
	// the key and is a whole number of units (no partial %XX, no partial
	// character), and it is the longest such prefix within the budget.
	back, err := Unescape(nil, p.key)
	require.NoError(t, err, "readable part %q was cut inside an escape", p.key)
	require.True(t, strings.HasPrefix(tp.key, string(back)))
	require.True(t, utf8.ValidString(p.key))
	budget := maxLen - HashedSuffixLen
	require.Greater(t, unitEnd(esc, len(p.key)), budget, "the readable part stops early")
}

// unitEnd returns where the escape unit starting at i of escaped text ends.
func unitEnd(esc string, i int) int {
	if esc[i] == '%' {
		return i + 3
	}
	_, size := utf8.DecodeRuneInString(esc[i:])
	return i + size
}

func TestLongKeysAreHashedAtTheLimit(t *testing.T) {
	const maxLen = MinMaxLen
	b := mustNew(t, Options{MaxLen: maxLen})
	tests := []struct {
		name   string
		key    string
		hashed bool
	}{
		{"a key of exactly MaxLen bytes is kept", strings.Repeat("k", maxLen), false},
		{"a key one byte longer is hashed", strings.Repeat("k", maxLen+1), true},
		{"a key whose escaped form is exactly MaxLen is kept", strings.Repeat("k", maxLen-3) + "%", false},
		{"a short key whose escaping passes MaxLen is hashed", strings.Repeat("%", maxLen/3+1), true},
		{"a cut inside an escape backs off to its start", strings.Repeat("a", 34) + "{" + strings.Repeat("b", 100), true},
		{"a cut inside a character backs off to its start", strings.Repeat("a", 33) + "日" + strings.Repeat("b", 100), true},
		{"a cut inside a C1 control keeps whole escapes", strings.Repeat("a", 30) + "\u0085" + strings.Repeat("b", 100), true},
		{"a very long key is hashed", strings.Repeat("日本", 10000), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := b.Entry(tt.key)
			require.NoError(t, err)
			require.Equal(t, tt.hashed, strings.Contains(s, "#"), s)
			checkStored(t, tuple{key: tt.key}, s, maxLen)
		})
	}
}

func TestHashedKeysNeverEqualShortKeys(t *testing.T) {
	b := mustNew(t, Options{MaxLen: MinMaxLen})
	long := strings.Repeat("x", 300)
	hashed, err := b.Entry(long)
	require.NoError(t, err)
	body := strings.TrimPrefix(hashed, b.Prefix()+"e:")
	require.Contains(t, body, "#")
	// A key spelling the hashed body is stored with '#' escaped, which here
	// makes it long enough to be hashed itself, under its own digest.
	short, err := b.Entry(body)
	require.NoError(t, err)
	require.NotEqual(t, hashed, short)
	wide := mustNew(t, Options{MaxLen: 2 * MinMaxLen})
	short, err = wide.Entry(body)
	require.NoError(t, err)
	require.Equal(t, wide.Prefix()+"e:"+strings.Replace(body, "#", "%23", 1), short)
	// Keys sharing a long prefix share the readable part but not the digest.
	other, err := b.Entry(long[:299] + "y")
	require.NoError(t, err)
	require.NotEqual(t, hashed, other)
	require.Equal(t, hashed[:len(hashed)-64], other[:len(other)-64])
}

func TestEntriesTagsNamespacesAndVersionsNeverCollide(t *testing.T) {
	pairs := []struct {
		name string
		a, b tuple
	}{
		{"namespace a:b with key c differs from namespace a with key b:c", tuple{ns: "a:b", key: "c"}, tuple{ns: "a", key: "b:c"}},
		{"an escaped-looking namespace differs from the one it spells", tuple{ns: "a%3Ab", key: "c"}, tuple{ns: "a:b", key: "c"}},
		{"an empty namespace differs from one spelling the layout", tuple{ns: "", key: "x"}, tuple{ns: ":v1:e", key: "x"}},
		{"an entry differs from the tag of the same name", tuple{key: "k"}, tuple{key: "k", tag: true}},
		{"versions differ", tuple{key: "k", version: 1}, tuple{key: "k", version: 2}},
		{"version 1 and 11 differ", tuple{key: "1:e:k", version: 1}, tuple{key: "k", version: 11}},
		{"a key spelling another kind differs", tuple{key: "t:k"}, tuple{key: "k", tag: true}},
		{"a key with an escape differs from its escaped spelling", tuple{key: "%"}, tuple{key: "%25"}},
	}
	for _, tt := range pairs {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEqual(t, tt.a.build(t, 0), tt.b.build(t, 0))
		})
	}
}

func TestStoredKeysAreOneToOne(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	namespaces := []string{"", "a", "a:b", "a%3Ab", ":", "{ns}", "n\x00", "é", "*", "v1"}
	const maxLen = MinMaxLen
	longBase := strings.Repeat("prefix:", 40) // shared by long keys, 280 bytes
	seen := make(map[string]tuple)
	for i := range 30000 {
		tp := tuple{
			ns:      namespaces[r.IntN(len(namespaces))],
			version: r.IntN(3),
			tag:     r.IntN(4) == 0,
		}
		switch i % 4 {
		case 0:
			tp.key = trickyString(r, 8)
		case 1:
			tp.key = randomBytes(r, 12)
		case 2:
			// Long keys that share a long prefix and differ at the end.
			tp.key = longBase + trickyString(r, 3)
		default:
			// Keys whose escaped length straddles MaxLen.
			tp.key = strings.Repeat("k", maxLen-6+r.IntN(8)) + trickyString(r, 2)
		}
		if tp.key == "" {
			continue
		}
		s := tp.build(t, maxLen)
		checkStored(t, tp, s, maxLen)
		if tp.version == 0 {
			tp.version = 1
		}
		if prev, ok := seen[s]; ok {
			require.Equal(t, prev, tp, "two tuples share stored key %q", s)
		}
		seen[s] = tp
	}
}

func TestWorstCaseStoredKeyFitsTheProvider(t *testing.T) {
	b := mustNew(t, Options{Namespace: strings.Repeat("\xff", MaxNamespaceLen), Version: int(^uint(0) >> 1), MaxLen: MaxMaxLen})
	for _, k := range []string{strings.Repeat("\xff", MaxMaxLen/3), strings.Repeat("\xff", 10000), strings.Repeat("é", MaxMaxLen/2)} {
		s, err := b.Entry(k)
		require.NoError(t, err)
		require.LessOrEqual(t, len(s), provider.MaxKeyLen)
		requireSafe(t, s)
	}
}

func TestBuilderIsSafeForConcurrentUse(t *testing.T) {
	b := mustNew(t, Options{Namespace: "c"})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				k := fmt.Sprintf("user:%d:%d", g, i)
				s, err := b.Entry(k)
				require.NoError(t, err)
				require.Equal(t, "aside:c:v1:e:"+k, s)
			}
		})
	}
	wg.Wait()
}

func FuzzEntryOneToOne(f *testing.F) {
	f.Add("a:b", "c", "a", "b:c", uint8(1), uint8(1), false, false)
	f.Add("", "k", "", "k", uint8(1), uint8(1), false, true)
	f.Add("", "%", "", "%25", uint8(0), uint8(1), false, false)
	f.Add("ns", strings.Repeat("x", 300), "ns", strings.Repeat("x", 299)+"y", uint8(1), uint8(1), false, false)
	f.Add("{", "#\x00\xff", "%7B", "%23%00%FF", uint8(2), uint8(2), true, true)
	f.Fuzz(func(t *testing.T, ns1, k1, ns2, k2 string, v1, v2 uint8, tag1, tag2 bool) {
		if k1 == "" || k2 == "" || len(ns1) > MaxNamespaceLen || len(ns2) > MaxNamespaceLen {
			t.Skip()
		}
		const maxLen = MinMaxLen
		a := tuple{ns: ns1, version: int(v1%4) + 1, tag: tag1, key: k1}
		b := tuple{ns: ns2, version: int(v2%4) + 1, tag: tag2, key: k2}
		sa, sb := a.build(t, maxLen), b.build(t, maxLen)
		checkStored(t, a, sa, maxLen)
		checkStored(t, b, sb, maxLen)
		if a != b {
			require.NotEqual(t, sa, sb, "%+v and %+v collide", a, b)
		} else {
			require.Equal(t, sa, sb)
		}
	})
}

func BenchmarkEntry(b *testing.B) {
	kb := mustNew(b, Options{Namespace: "shop"})
	b.ReportAllocs()
	b.SetBytes(int64(len("user:42")))
	for b.Loop() {
		if _, err := kb.Entry("user:42"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEntry(b *testing.B) {
	kb := mustNew(b, Options{Namespace: "shop"})
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	b.SetBytes(int64(len("user:42")))
	for b.Loop() {
		var err error
		if buf, err = kb.AppendEntry(buf[:0], "user:42"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEntryParallel(b *testing.B) {
	kb := mustNew(b, Options{Namespace: "shop"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 128)
		for pb.Next() {
			buf, _ = kb.AppendEntry(buf[:0], "product:7:reviews")
		}
	})
}

func BenchmarkAppendEntryEscaped(b *testing.B) {
	kb := mustNew(b, Options{Namespace: "shop"})
	key := "search:q=caf%C3%A9&tag={new}"
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		buf, _ = kb.AppendEntry(buf[:0], key)
	}
}

func BenchmarkEntryHashed(b *testing.B) {
	kb := mustNew(b, Options{Namespace: "shop"})
	key := "report:" + strings.Repeat("x", 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		_, _ = kb.Entry(key)
	}
}
