package providertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
)

func (s *suite) multiGetAdderTests() []test {
	getAdder := func(t *testing.T, e *env) provider.MultiGetAdder {
		t.Helper()
		g, ok := e.p.(provider.MultiGetAdder)
		if !ok {
			t.Skip("the provider does not implement provider.MultiGetAdder")
		}
		return g
	}
	return []test{
		{"GetAddMulti reads present keys, adds to missing ones and leaves read-only ones missing", func(t *testing.T, e *env) {
			g := getAdder(t, e)
			present, fresh, readOnly, brief, empty := e.key("present"), e.key("fresh"), e.key("read-only"), e.key("brief"), e.key("empty")
			// Taken before the write: the key's TTL runs from the server's
			// SET, which may come well before mustSet returns.
			presentAt := time.Now()
			e.mustSet(t, present, []byte("there"), 80*time.Millisecond)
			setAt := time.Now()
			res, err := g.GetAddMulti(e.ctx, []provider.Fetch{
				{Key: present, Add: []byte("lease"), TTL: time.Minute},
				{Key: fresh, Add: []byte("A"), TTL: 0},
				{Key: readOnly},
				{Key: brief, Add: []byte("B"), TTL: 60 * time.Millisecond},
				{Key: empty, Add: []byte{}, TTL: time.Minute},
			})
			noError(t, err)
			equal(t, 5, len(res), "one result per fetch")
			isFalse(t, res[0].Added, "a present key is not added to")
			equal(t, []byte("there"), res[0].Existing, "a present key's value is read")
			isTrue(t, res[1].Added, "a missing key with a value is added")
			isNil(t, res[1].Existing, "an added key reports no existing value")
			isFalse(t, res[2].Added, "a read-only fetch adds nothing")
			isNil(t, res[2].Existing, "a missing key reads as nil")
			isTrue(t, res[3].Added, "a missing key with a TTL is added")
			isTrue(t, res[4].Added, "an empty value is added")
			e.requireValue(t, fresh, []byte("A"))
			e.requireMissing(t, readOnly)
			e.requireValue(t, empty, []byte{})
			e.requireExpires(t, brief, setAt, 60*time.Millisecond)
			// The present key kept its value and its own TTL.
			e.requireExpires(t, present, presentAt, 80*time.Millisecond)
		}},
		{"GetAddMulti of an empty value reads it as empty, not missing", func(t *testing.T, e *env) {
			g := getAdder(t, e)
			k := e.key("empty")
			e.mustSet(t, k, []byte{}, 0)
			res, err := g.GetAddMulti(e.ctx, []provider.Fetch{{Key: k}, {Key: k, Add: []byte("x")}})
			noError(t, err)
			notNil(t, res[0].Existing, "an empty value is present")
			isEmpty(t, len(res[0].Existing))
			isFalse(t, res[1].Added, "a present empty value is not added to")
			e.requireValue(t, k, []byte{})
		}},
		{"GetAddMulti of the same missing key twice adds it once and reads it after", func(t *testing.T, e *env) {
			g := getAdder(t, e)
			k := e.key("twice")
			res, err := g.GetAddMulti(e.ctx, []provider.Fetch{
				{Key: k, Add: []byte("1")},
				{Key: k, Add: []byte("2")},
				{Key: k},
			})
			noError(t, err)
			isTrue(t, res[0].Added, "the first fetch adds")
			isFalse(t, res[1].Added, "the second finds the first")
			equal(t, []byte("1"), res[1].Existing, "and reports it")
			equal(t, []byte("1"), res[2].Existing, "a later read-only fetch sees it")
			e.requireValue(t, k, []byte("1"))
		}},
		{"GetAddMulti of no fetches is a no-op", func(t *testing.T, e *env) {
			g := getAdder(t, e)
			res, err := g.GetAddMulti(e.ctx, nil)
			noError(t, err)
			equal(t, 0, len(res), "no results")
		}},
		{"GetAddMulti of many keys answers every one", func(t *testing.T, e *env) {
			g := getAdder(t, e)
			fetches := make([]provider.Fetch, 600)
			for i := range fetches {
				k := e.key(fmt.Sprintf("many%03d", i))
				fetches[i] = provider.Fetch{Key: k}
				switch i % 3 {
				case 0:
					e.mustSet(t, k, []byte(fmt.Sprint(i)), time.Minute)
				case 1:
					fetches[i].Add, fetches[i].TTL = []byte(fmt.Sprint(-i)), time.Minute
				}
			}
			res, err := g.GetAddMulti(e.ctx, fetches)
			noError(t, err)
			equal(t, len(fetches), len(res), "one result per fetch")
			for i, r := range res {
				switch i % 3 {
				case 0:
					equal(t, []byte(fmt.Sprint(i)), r.Existing, "fetch %d reads the stored value", i)
				case 1:
					isTrue(t, r.Added, "fetch %d adds", i)
					e.requireValue(t, fetches[i].Key, []byte(fmt.Sprint(-i)))
				case 2:
					isFalse(t, r.Added, "fetch %d only reads", i)
					isNil(t, r.Existing, "fetch %d reads nothing", i)
				}
			}
		}},
		{"GetAddMulti validates every fetch", func(t *testing.T, e *env) {
			g := getAdder(t, e)
			_, err := g.GetAddMulti(e.ctx, []provider.Fetch{{Key: e.key("ok"), Add: []byte("v")}, {Key: ""}})
			errorIs(t, err, provider.ErrInvalidKey)
			k := e.key("bad-ttl")
			_, err = g.GetAddMulti(e.ctx, []provider.Fetch{{Key: k, Add: []byte("v"), TTL: -time.Second}})
			errorIs(t, err, provider.ErrInvalidTTL)
			e.requireMissing(t, k)
		}},
	}
}

func (s *suite) multiSwapperTests() []test {
	swapper := func(t *testing.T, e *env) provider.MultiSwapper {
		t.Helper()
		m, ok := e.p.(provider.MultiSwapper)
		if !ok {
			t.Skip("the provider does not implement provider.MultiSwapper")
		}
		return m
	}
	return []test{
		{"CompareAndSwapMulti swaps only keys holding exactly the old value", func(t *testing.T, e *env) {
			m := swapper(t, e)
			match, other, missing, brief := e.key("match"), e.key("other"), e.key("missing"), e.key("brief")
			e.mustSet(t, match, []byte("old"), 0)
			e.mustSet(t, other, []byte("older"), 0)
			e.mustSet(t, brief, []byte("b"), 0)
			setAt := time.Now()
			res, err := m.CompareAndSwapMulti(e.ctx, []provider.Swap{
				{Key: match, Old: []byte("old"), New: []byte("new"), TTL: time.Minute},
				{Key: other, Old: []byte("old"), New: []byte("new"), TTL: time.Minute},
				{Key: missing, Old: []byte("old"), New: []byte("new"), TTL: time.Minute},
				{Key: brief, Old: []byte("b"), New: []byte("c"), TTL: 60 * time.Millisecond},
			})
			noError(t, err)
			equal(t, []bool{true, false, false, true}, res)
			e.requireValue(t, match, []byte("new"))
			e.requireValue(t, other, []byte("older"))
			e.requireMissing(t, missing)
			e.requireExpires(t, brief, setAt, 60*time.Millisecond)
		}},
		{"CompareAndSwapMulti replaces a TTL with none", func(t *testing.T, e *env) {
			m := swapper(t, e)
			k := e.key("ttl")
			e.mustSet(t, k, []byte("a"), 50*time.Millisecond)
			res, err := m.CompareAndSwapMulti(e.ctx, []provider.Swap{{Key: k, Old: []byte("a"), New: []byte("b")}})
			noError(t, err)
			equal(t, []bool{true}, res)
			time.Sleep(100 * time.Millisecond)
			e.requireValue(t, k, []byte("b"))
		}},
		{"CompareAndSwapMulti applies swaps of one key in order", func(t *testing.T, e *env) {
			m := swapper(t, e)
			k := e.key("chain")
			e.mustSet(t, k, []byte("1"), 0)
			res, err := m.CompareAndSwapMulti(e.ctx, []provider.Swap{
				{Key: k, Old: []byte("1"), New: []byte("2")},
				{Key: k, Old: []byte("2"), New: []byte("3")},
				{Key: k, Old: []byte("1"), New: []byte("4")},
			})
			noError(t, err)
			equal(t, []bool{true, true, false}, res)
			e.requireValue(t, k, []byte("3"))
		}},
		{"CompareAndSwapMulti of no swaps is a no-op", func(t *testing.T, e *env) {
			m := swapper(t, e)
			res, err := m.CompareAndSwapMulti(e.ctx, nil)
			noError(t, err)
			equal(t, 0, len(res), "no results")
		}},
		{"CompareAndSwapMulti of many keys answers every one", func(t *testing.T, e *env) {
			m := swapper(t, e)
			swaps := make([]provider.Swap, 600)
			for i := range swaps {
				k := e.key(fmt.Sprintf("many%03d", i))
				e.mustSet(t, k, []byte("v"), time.Minute)
				old := []byte("v")
				if i%2 == 1 {
					old = []byte("not v")
				}
				swaps[i] = provider.Swap{Key: k, Old: old, New: []byte(fmt.Sprint(i)), TTL: time.Minute}
			}
			res, err := m.CompareAndSwapMulti(e.ctx, swaps)
			noError(t, err)
			equal(t, len(swaps), len(res), "one result per swap")
			for i, ok := range res {
				equal(t, i%2 == 0, ok, "swap %d", i)
				if i%2 == 0 {
					e.requireValue(t, swaps[i].Key, []byte(fmt.Sprint(i)))
				} else {
					e.requireValue(t, swaps[i].Key, []byte("v"))
				}
			}
		}},
		{"CompareAndSwapMulti validates every swap", func(t *testing.T, e *env) {
			m := swapper(t, e)
			k := e.key("k")
			e.mustSet(t, k, []byte("a"), 0)
			_, err := m.CompareAndSwapMulti(e.ctx, []provider.Swap{{Key: e.key("other"), Old: []byte("a"), New: []byte("b")}, {Key: ""}})
			errorIs(t, err, provider.ErrInvalidKey)
			_, err = m.CompareAndSwapMulti(e.ctx, []provider.Swap{{Key: k, Old: []byte("a"), New: []byte("b"), TTL: -time.Second}})
			errorIs(t, err, provider.ErrInvalidTTL)
			e.requireValue(t, k, []byte("a"))
		}},
	}
}
