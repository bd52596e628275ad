package providertest

import (
	"bytes"
	"testing"

	"github.com/aside-go/aside/provider"
)

func (s *suite) valueTests() []test {
	tests := []test{
		{"every byte value round-trips", func(t *testing.T, e *env) {
			v := make([]byte, 512)
			for i := range v {
				v[i] = byte(i) // 0..255 twice, NUL included
			}
			e.mustSet(t, e.key("k"), v, 0)
			e.requireValue(t, e.key("k"), v)
		}},
		{"invalid UTF-8 round-trips", func(t *testing.T, e *env) {
			for i, v := range [][]byte{
				{0xff, 0xfe, 0xfd},
				[]byte("\xc3\x28"),
				[]byte("a\x80b\xedtext\xa0\xa1"),
				{0xef, 0xbb, 0xbf}, // a UTF-8 BOM, which some clients strip
				[]byte("\r\n\x00\r\n"),
			} {
				k := e.key(string(rune('a' + i)))
				e.mustSet(t, k, v, 0)
				e.requireValue(t, k, v)
			}
		}},
		{"an empty value is stored and distinct from a missing key", func(t *testing.T, e *env) {
			k := e.key("empty")
			e.mustSet(t, k, []byte{}, 0)
			got, err := e.p.Get(e.ctx, k)
			noError(t, err, "an empty value must be found")
			isEmpty(t, len(got))
			vals, err := e.p.GetMulti(e.ctx, []string{k, e.key("missing")})
			noError(t, err)
			notNil(t, vals[0], "GetMulti must return an empty value as a non-nil empty slice")
			isEmpty(t, len(vals[0]))
			isNil(t, vals[1])
			existing, added, err := e.p.Add(e.ctx, k, []byte("x"), 0)
			noError(t, err)
			isFalse(t, added, "Add must see the empty value as present")
			isEmpty(t, len(existing))
			n, err := e.p.Delete(e.ctx, k)
			noError(t, err)
			equal(t, 1, n, "Delete must count an empty value")
		}},
		{"a nil value is stored as an empty value", func(t *testing.T, e *env) {
			k := e.key("nil")
			e.mustSet(t, k, nil, 0)
			got, err := e.p.Get(e.ctx, k)
			noError(t, err)
			isEmpty(t, len(got))
		}},
		{"the provider does not retain the caller's slice", func(t *testing.T, e *env) {
			orig := []byte("original value")
			check := func(t *testing.T, k string) {
				t.Helper()
				e.requireValue(t, k, orig)
			}
			buf := bytes.Clone(orig)
			e.mustSet(t, e.key("set"), buf, 0)
			scribble(buf)
			check(t, e.key("set"))

			buf = bytes.Clone(orig)
			_, added, err := e.p.Add(e.ctx, e.key("add"), buf, 0)
			noError(t, err)
			isTrue(t, added)
			scribble(buf)
			check(t, e.key("add"))

			e.mustSet(t, e.key("cas"), []byte("old"), 0)
			buf = bytes.Clone(orig)
			ok, err := e.p.CompareAndSwap(e.ctx, e.key("cas"), []byte("old"), buf, 0)
			noError(t, err)
			isTrue(t, ok)
			scribble(buf)
			check(t, e.key("cas"))

			if b, ok := e.p.(provider.Batcher); ok {
				buf = bytes.Clone(orig)
				noError(t, b.SetMulti(e.ctx, []provider.Item{{Key: e.key("multi"), Value: buf}}))
				scribble(buf)
				check(t, e.key("multi"))
			}
		}},
		{"a value returned by Get is not changed by later writes", func(t *testing.T, e *env) {
			k := e.key("k")
			e.mustSet(t, k, []byte("first value"), 0)
			got, err := e.p.Get(e.ctx, k)
			noError(t, err)
			e.mustSet(t, k, []byte("SECOND VALUE"), 0)
			ok, err := e.p.CompareAndSwap(e.ctx, k, []byte("SECOND VALUE"), []byte("third value!"), 0)
			noError(t, err)
			isTrue(t, ok)
			_, err = e.p.Delete(e.ctx, k)
			noError(t, err)
			equal(t, []byte("first value"), got, "a slice already returned must keep its bytes")
		}},
	}

	for _, size := range []int{1<<20 + 1, 4 << 20} {
		tests = append(tests, test{sizeName(size), func(t *testing.T, e *env) {
			if e.opts.MaxValueSize > 0 && size > e.opts.MaxValueSize {
				t.Skipf("the adapter declares MaxValueSize %d", e.opts.MaxValueSize)
			}
			v := bigValue(size)
			e.mustSet(t, e.key("big"), v, 0)
			e.requireValue(t, e.key("big"), v)
			got, err := e.p.GetMulti(e.ctx, []string{e.key("big")})
			noError(t, err)
			isTrue(t, bytes.Equal(v, got[0]), "GetMulti of a large value")
		}})
	}

	tests = append(tests, test{"a value of MaxValueSize is stored and one byte more fails with ErrTooLarge", func(t *testing.T, e *env) {
		max := e.opts.MaxValueSize
		if max == 0 {
			t.Skip("the adapter declares no MaxValueSize")
		}
		v := bigValue(max)
		e.mustSet(t, e.key("max"), v, 0)
		e.requireValue(t, e.key("max"), v)

		over := bigValue(max + 1)
		k := e.key("over")
		errorIs(t, e.p.Set(e.ctx, k, over, 0), provider.ErrTooLarge, "Set")
		e.requireMissing(t, k)
		_, _, err := e.p.Add(e.ctx, k, over, 0)
		errorIs(t, err, provider.ErrTooLarge, "Add")
		e.requireMissing(t, k)
		e.mustSet(t, k, []byte("old"), 0)
		_, err = e.p.CompareAndSwap(e.ctx, k, []byte("old"), over, 0)
		errorIs(t, err, provider.ErrTooLarge, "CompareAndSwap")
		e.requireValue(t, k, []byte("old"))
		if b, ok := e.p.(provider.Batcher); ok {
			k2 := e.key("over2")
			errorIs(t, b.SetMulti(e.ctx, []provider.Item{{Key: k2, Value: over}}), provider.ErrTooLarge, "SetMulti")
			e.requireMissing(t, k2)
		}
	}})
	return tests
}

func sizeName(n int) string {
	switch n {
	case 1<<20 + 1:
		return "a value of 1 MiB plus one byte round-trips"
	default:
		return "a value of 4 MiB round-trips"
	}
}

// scribble overwrites b, as a caller reusing its buffer would.
func scribble(b []byte) {
	for i := range b {
		b[i] = 'X'
	}
}
