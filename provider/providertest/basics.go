package providertest

import (
	"testing"

	"github.com/aside-go/aside/provider"
)

func (s *suite) basicTests() []test {
	return []test{
		{"Ping succeeds on an open provider", func(t *testing.T, e *env) {
			noError(t, e.p.Ping(e.ctx))
		}},
		{"Get of a missing key returns ErrNotFound", func(t *testing.T, e *env) {
			e.requireMissing(t, e.key("missing"))
		}},
		{"Set then Get returns the value", func(t *testing.T, e *env) {
			e.mustSet(t, e.key("k"), []byte("hello"), 0)
			e.requireValue(t, e.key("k"), []byte("hello"))
		}},
		{"Set overwrites a longer value with a shorter one and back", func(t *testing.T, e *env) {
			k := e.key("k")
			e.mustSet(t, k, []byte("a long first value"), 0)
			e.mustSet(t, k, []byte("short"), 0)
			e.requireValue(t, k, []byte("short"))
			e.mustSet(t, k, []byte("a much longer third value than both"), 0)
			e.requireValue(t, k, []byte("a much longer third value than both"))
		}},
		{"Set of one key leaves other keys alone", func(t *testing.T, e *env) {
			e.mustSet(t, e.key("a"), []byte("1"), 0)
			e.mustSet(t, e.key("b"), []byte("2"), 0)
			e.mustSet(t, e.key("a"), []byte("3"), 0)
			e.requireValue(t, e.key("b"), []byte("2"))
		}},
		{"Delete removes a key and counts it", func(t *testing.T, e *env) {
			k := e.key("k")
			e.mustSet(t, k, []byte("v"), 0)
			n, err := e.p.Delete(e.ctx, k)
			noError(t, err)
			equal(t, 1, n)
			e.requireMissing(t, k)
		}},
		{"Delete counts only keys that existed", func(t *testing.T, e *env) {
			a, b, c := e.key("a"), e.key("b"), e.key("c")
			e.mustSet(t, a, []byte("1"), 0)
			e.mustSet(t, b, []byte("2"), 0)
			n, err := e.p.Delete(e.ctx, a, c, b)
			noError(t, err)
			equal(t, 2, n, "Delete(existing, missing, existing)")
			e.requireMissing(t, a)
			e.requireMissing(t, b)
			n, err = e.p.Delete(e.ctx, a, b, c)
			noError(t, err)
			equal(t, 0, n, "Delete of keys already deleted")
		}},
		{"Delete counts a key named twice once", func(t *testing.T, e *env) {
			k := e.key("k")
			e.mustSet(t, k, []byte("v"), 0)
			n, err := e.p.Delete(e.ctx, k, k)
			noError(t, err)
			equal(t, 1, n)
		}},
		{"Delete of zero keys is a no-op returning 0", func(t *testing.T, e *env) {
			k := e.key("k")
			e.mustSet(t, k, []byte("v"), 0)
			n, err := e.p.Delete(e.ctx)
			noError(t, err)
			equal(t, 0, n)
			n, err = e.p.Delete(e.ctx, []string{}...)
			noError(t, err)
			equal(t, 0, n)
			e.requireValue(t, k, []byte("v"))
		}},
		{"GetMulti returns values in request order with nil for missing keys", func(t *testing.T, e *env) {
			a, b, c, d := e.key("a"), e.key("b"), e.key("c"), e.key("d")
			e.mustSet(t, a, []byte("A"), 0)
			e.mustSet(t, c, []byte("CC"), 0)
			e.mustSet(t, d, []byte("DDD"), 0)
			got, err := e.p.GetMulti(e.ctx, []string{d, b, a, c})
			noError(t, err)
			equal(t, 4, len(got), "length")
			equal(t, []byte("DDD"), got[0])
			isNil(t, got[1], "a missing key must come back as nil")
			equal(t, []byte("A"), got[2])
			equal(t, []byte("CC"), got[3])
		}},
		{"GetMulti returns a repeated key's value at every position", func(t *testing.T, e *env) {
			a, b := e.key("a"), e.key("b")
			e.mustSet(t, a, []byte("A"), 0)
			got, err := e.p.GetMulti(e.ctx, []string{a, b, a, b, a})
			noError(t, err)
			equal(t, 5, len(got), "length")
			for _, i := range []int{0, 2, 4} {
				equal(t, []byte("A"), got[i], "position %d", i)
			}
			for _, i := range []int{1, 3} {
				isNil(t, got[i], "position %d", i)
			}
		}},
		{"GetMulti of no keys returns an empty result", func(t *testing.T, e *env) {
			got, err := e.p.GetMulti(e.ctx, nil)
			noError(t, err)
			isEmpty(t, len(got))
			got, err = e.p.GetMulti(e.ctx, []string{})
			noError(t, err)
			isEmpty(t, len(got))
		}},
		{"GetMulti of only missing keys returns all nils", func(t *testing.T, e *env) {
			got, err := e.p.GetMulti(e.ctx, []string{e.key("x"), e.key("y")})
			noError(t, err)
			equal(t, [][]byte{nil, nil}, got)
		}},
		{"Get of a missing key returns an error matching only ErrNotFound", func(t *testing.T, e *env) {
			_, err := e.p.Get(e.ctx, e.key("missing"))
			errorIs(t, err, provider.ErrNotFound)
			notErrorIs(t, err, provider.ErrClosed)
			notErrorIs(t, err, provider.ErrInvalidKey)
		}},
	}
}
