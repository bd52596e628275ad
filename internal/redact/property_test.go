package redact

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// Fixture types for the random value generator. Comments say where the
// generator puts secrets (must disappear) and public markers (must survive).
type fxUser struct {
	fxBase          // exported embedded: AuthToken secret, CreatedBy public
	fxInner         // unexported embedded: Passphrase secret, Region public
	Name     string // public
	Password string // secret
	APIKey   string `json:"api_key"`       // secret by Go name
	Label    string `json:"client_secret"` // secret by json tag only
	Token    string `aside:"keep"`         // public: kept by tag
	Note     string `aside:"redact"`       // secret: forced by tag
	Login    *fxSession
	Items    []fxItem
	Attrs    map[string]string
	Secret   any // secret: the whole subtree
	Extra    any
	hidden   string // never serialised: no markers
}

type fxBase struct {
	CreatedBy string
	AuthToken string
}

type fxInner struct {
	Region     string
	Passphrase string
}

type fxSession struct {
	ID     string `msgpack:"session_id"` // secret by msgpack tag
	User   string // public
	Tokens []string
}

type fxItem struct {
	Title  string
	Secret *string
	Price  float64
	Owner  *fxUser
}

// Map keys the generator uses, by what the default filter does with the
// value under them.
var (
	// wholeKeys: everything under them is a secret (strings, objects, lists
	// holding either); numbers are not markers, so their fate is not checked.
	wholeKeys = []string{"password", "userPassword", "password2", "api_key", "X-Api-Key", "Authorization", "privateKey", "client_secret", "set-cookie", "credentials"}
	// walkKeys: a string or a list of strings under them is a secret, an
	// object is filtered by its own names.
	walkKeys = []string{"github_token", "session_id", "refreshToken", "X-CSRF-Token", "tokens", "ssn", "cvv", "pin"}
	// coldKeys are ordinary data.
	coldKeys = []string{"name", "tokenizer_version", "authorId", "next_page_token", "NextToken", "continuationToken", "email", "bio", "maxTokens", "sessions", "session", "auth", "password_hint", "tokenCount", "publicKey", "id", "title"}
)

// keyMode is which of the lists above a key came from.
type keyMode uint8

const (
	cold keyMode = iota
	whole
	walked
)

// gen builds a random nested value from a seed; building twice from one seed
// gives two equal, independent values.
type gen struct {
	r       *rand.Rand
	secrets [][]byte
	public  [][]byte
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// str returns a marker: a secret when hot (under a sensitive name), else a
// public string that must survive.
func (g *gen) str(hot bool) string {
	if hot {
		s := fmt.Sprintf("S3CR3T-%016x", g.r.Uint64())
		g.secrets = append(g.secrets, []byte(s))
		return s
	}
	s := fmt.Sprintf("public-%016x", g.r.Uint64())
	g.public = append(g.public, []byte(s))
	return s
}

// maybeStr is like str but sometimes empty (an empty secret is not a secret).
func (g *gen) maybeStr(hot bool) string {
	if g.r.IntN(4) == 0 {
		return ""
	}
	return g.str(hot)
}

func (g *gen) any(depth int, hot bool) any {
	n := 9
	if depth > 4 {
		n = 3 // leaves only
	}
	switch g.r.IntN(n) {
	case 0, 1:
		return g.str(hot)
	case 2:
		return g.r.IntN(100)
	case 3, 4:
		return g.stringMap(depth+1, hot)
	case 5:
		out := make([]any, g.r.IntN(4))
		for i := range out {
			out[i] = g.any(depth+1, hot)
		}
		return out
	case 6:
		return g.user(depth+1, hot)
	case 7:
		return *g.user(depth+1, hot)
	default:
		m := map[any]any{}
		for range g.r.IntN(4) {
			if g.r.IntN(2) == 0 {
				m[g.r.IntN(1000)] = g.any(depth+1, hot)
				continue
			}
			k, mode := g.key()
			if _, dup := m[k]; !dup {
				m[k] = g.under(depth+1, hot, mode)
			}
		}
		return m
	}
}

func (g *gen) key() (string, keyMode) {
	switch g.r.IntN(6) {
	case 0:
		return wholeKeys[g.r.IntN(len(wholeKeys))], whole
	case 1:
		return walkKeys[g.r.IntN(len(walkKeys))], walked
	}
	return coldKeys[g.r.IntN(len(coldKeys))], cold
}

// under builds the value for a map entry whose key has the given mode.
func (g *gen) under(depth int, hot bool, mode keyMode) any {
	switch {
	case hot || mode == whole:
		return g.any(depth, true)
	case mode == walked:
		return g.walkValue(depth)
	}
	return g.any(depth, false)
}

// walkValue builds a value for a walked key: a secret string, a number, a
// list of secret strings, or an object whose own names decide.
func (g *gen) walkValue(depth int) any {
	n := 5
	if depth > 4 {
		n = 3
	}
	switch g.r.IntN(n) {
	case 0:
		return g.str(true)
	case 1:
		return g.r.IntN(100)
	case 2:
		out := make([]any, 1+g.r.IntN(3))
		for i := range out {
			out[i] = g.str(true)
		}
		return out
	case 3:
		return g.stringMap(depth+1, false)
	default:
		return g.user(depth+1, false)
	}
}

func (g *gen) stringMap(depth int, hot bool) map[string]any {
	m := map[string]any{}
	for range g.r.IntN(5) {
		k, mode := g.key()
		if _, dup := m[k]; !dup {
			m[k] = g.under(depth+1, hot, mode)
		}
	}
	return m
}

func (g *gen) user(depth int, hot bool) *fxUser {
	u := &fxUser{
		fxBase:   fxBase{CreatedBy: g.maybeStr(hot), AuthToken: g.maybeStr(true)},
		fxInner:  fxInner{Region: g.maybeStr(hot), Passphrase: g.maybeStr(true)},
		Name:     g.maybeStr(hot),
		Password: g.maybeStr(true),
		APIKey:   g.maybeStr(true),
		Label:    g.maybeStr(true),
		Token:    g.maybeStr(hot),
		Note:     g.maybeStr(true),
		hidden:   "hidden",
	}
	if depth > 5 {
		return u
	}
	if g.r.IntN(2) == 0 {
		u.Login = &fxSession{ID: g.maybeStr(true), User: g.maybeStr(hot)}
		for range g.r.IntN(3) {
			u.Login.Tokens = append(u.Login.Tokens, g.str(true))
		}
	}
	for range g.r.IntN(3) {
		it := fxItem{Title: g.maybeStr(hot), Price: float64(g.r.IntN(100))}
		if g.r.IntN(2) == 0 {
			it.Secret = new(g.str(true))
		}
		if g.r.IntN(4) == 0 {
			it.Owner = g.user(depth+1, hot)
		}
		u.Items = append(u.Items, it)
	}
	if g.r.IntN(2) == 0 {
		u.Attrs = map[string]string{}
		for range g.r.IntN(4) {
			k, mode := g.key()
			if _, dup := u.Attrs[k]; !dup {
				u.Attrs[k] = g.str(hot || mode != cold)
			}
		}
	}
	if g.r.IntN(3) == 0 {
		u.Secret = g.any(depth+1, true)
	}
	if g.r.IntN(2) == 0 {
		u.Extra = g.any(depth+1, hot)
	}
	return u
}

// checkRandomValue redacts the value built from seed and checks that its
// msgpack encoding holds no secret and every public marker, that the input
// was not modified, and that a value with secrets is reported changed.
func checkRandomValue(t testing.TB, f *Filter, seed uint64) {
	g := newGen(seed)
	in := g.any(0, false)
	twin := newGen(seed).any(0, false)
	require.True(t, reflect.DeepEqual(in, twin), "the generator is deterministic")

	out, changed := f.Apply(in)
	if len(g.secrets) > 0 {
		require.True(t, changed, "a value with secrets is changed")
	}
	if !changed {
		require.True(t, sameValue(in, out), "an unchanged value is returned as is")
	}
	require.True(t, reflect.DeepEqual(in, twin), "the input is not modified")

	b, err := msgpack.Marshal(out)
	require.NoError(t, err)
	for _, s := range g.secrets {
		require.False(t, bytes.Contains(b, s), "secret %s reached the encoding", s)
	}
	for _, p := range g.public {
		require.True(t, bytes.Contains(b, p), "public marker %s was lost", p)
	}
}

func TestRedactRandomValues(t *testing.T) {
	mask, err := New(Rules{Mode: Mask})
	require.NoError(t, err)
	for seed := range uint64(2000) {
		checkRandomValue(t, Default(), seed)
		checkRandomValue(t, mask, seed)
	}
}

func FuzzRedact(f *testing.F) {
	mask, err := New(Rules{Mode: Mask})
	require.NoError(f, err)
	for seed := range uint64(20) {
		f.Add(seed, seed%2 == 0)
	}
	f.Fuzz(func(t *testing.T, seed uint64, masked bool) {
		filter := Default()
		if masked {
			filter = mask
		}
		checkRandomValue(t, filter, seed)
	})
}
