package providertest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aside-go/aside/provider"
)

func (s *suite) keyTests() []test {
	return []test{
		{"unusual keys round-trip and stay distinct", func(t *testing.T, e *env) {
			names := []string{
				"plain",
				"with space",
				" leading space",
				"trailing space ",
				"Plain", // differs from "plain" only in case
				"PLAIN",
				"tab\there",
				"crlf\r\nin the middle",
				"ends with crlf\r\n",
				"nul\x00byte",
				"\x00",
				"invalid utf-8 \xff\xfe",
				"unicode ключ 鍵 🔑",
				"e\u0301", // decomposed é, must not be normalized
				"\u00e9",  // composed é
				"{hash}tag",
				"glob*?[chars]\\",
				"%s %d %%",
				strings.Repeat("k", 1000),
			}
			// The longest key the contract allows, prefix included.
			names = append(names, strings.Repeat("m", provider.MaxKeyLen-len(e.prefix)))

			all := make([]string, len(names))
			for i, n := range names {
				all[i] = e.key(n)
				e.mustSet(t, all[i], []byte(fmt.Sprintf("value %d", i)), 0)
			}
			equal(t, provider.MaxKeyLen, len(all[len(all)-1]), "length")
			for i, k := range all {
				e.requireValue(t, k, []byte(fmt.Sprintf("value %d", i)))
			}
			got, err := e.p.GetMulti(e.ctx, all)
			noError(t, err)
			for i := range all {
				equal(t, []byte(fmt.Sprintf("value %d", i)), got[i], "GetMulti position %d (%q)", i, names[i])
			}
			n, err := e.p.Delete(e.ctx, all...)
			noError(t, err)
			equal(t, len(all), n)
		}},
		{"an empty key fails with ErrInvalidKey in every method", func(t *testing.T, e *env) {
			for name, call := range keyedCalls(e, "", e.key("valid")) {
				errorIs(t, call(), provider.ErrInvalidKey, name)
			}
		}},
		{"a key longer than MaxKeyLen fails with ErrInvalidKey in every method and stores nothing", func(t *testing.T, e *env) {
			long := e.key(strings.Repeat("x", provider.MaxKeyLen+1-len(e.prefix)))
			equal(t, provider.MaxKeyLen+1, len(long), "length")
			for name, call := range keyedCalls(e, long, e.key("valid")) {
				errorIs(t, call(), provider.ErrInvalidKey, name)
			}
			// An adapter that truncates instead of refusing would have stored this.
			e.requireMissing(t, long[:provider.MaxKeyLen])
		}},
	}
}

// keyedCalls returns every method that takes keys, called with bad, alone or
// next to a valid key, so that a check of the first key only is caught.
func keyedCalls(e *env, bad, valid string) map[string]func() error {
	v := []byte("v")
	calls := map[string]func() error{
		"Get": func() error { _, err := e.p.Get(e.ctx, bad); return err },
		"GetMulti": func() error {
			_, err := e.p.GetMulti(e.ctx, []string{valid, bad})
			return err
		},
		"Set": func() error { return e.p.Set(e.ctx, bad, v, 0) },
		"Add": func() error { _, _, err := e.p.Add(e.ctx, bad, v, 0); return err },
		"CompareAndSwap": func() error {
			_, err := e.p.CompareAndSwap(e.ctx, bad, nil, v, 0)
			return err
		},
		"Delete": func() error { _, err := e.p.Delete(e.ctx, valid, bad); return err },
	}
	if b, ok := e.p.(provider.Batcher); ok {
		calls["SetMulti"] = func() error {
			return b.SetMulti(e.ctx, []provider.Item{{Key: valid, Value: v}, {Key: bad, Value: v}})
		}
	}
	return calls
}
