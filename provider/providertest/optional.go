package providertest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
)

// patternDeleter returns the provider's PatternDeleter, unless it has none or
// answers provider.ErrNotSupported (a wrapper over a provider without one).
func patternDeleter(e *env) (provider.PatternDeleter, bool) {
	d, ok := e.p.(provider.PatternDeleter)
	if !ok {
		return nil, false
	}
	if _, err := d.DeletePattern(e.ctx, e.prefix+"no-such-key"); errors.Is(err, provider.ErrNotSupported) {
		return nil, false
	}
	return d, true
}

// counter returns the provider's Counter, unless it has none or answers
// provider.ErrNotSupported.
func counter(e *env) (provider.Counter, bool) {
	c, ok := e.p.(provider.Counter)
	if !ok {
		return nil, false
	}
	if _, err := c.Len(e.ctx); errors.Is(err, provider.ErrNotSupported) {
		return nil, false
	}
	return c, true
}

func (s *suite) batcherTests() []test {
	batcher := func(t *testing.T, e *env) provider.Batcher {
		t.Helper()
		b, ok := e.p.(provider.Batcher)
		if !ok {
			t.Skip("the provider does not implement provider.Batcher")
		}
		return b
	}
	return []test{
		{"SetMulti stores every item with its own TTL", func(t *testing.T, e *env) {
			b := batcher(t, e)
			a, brief, empty, old := e.key("a"), e.key("brief"), e.key("empty"), e.key("old")
			e.mustSet(t, old, []byte("previous"), 50*time.Millisecond)
			setAt := time.Now()
			noError(t, b.SetMulti(e.ctx, []provider.Item{
				{Key: a, Value: []byte("A"), TTL: 0},
				{Key: brief, Value: []byte("B"), TTL: 60 * time.Millisecond},
				{Key: empty, Value: nil},
				{Key: old, Value: []byte("replaced"), TTL: 0},
			}))
			e.requireValue(t, a, []byte("A"))
			e.requireValue(t, old, []byte("replaced"))
			got, err := e.p.GetMulti(e.ctx, []string{empty})
			noError(t, err)
			notNil(t, got[0], "a nil Value is stored as an empty value")
			isEmpty(t, len(got[0]))
			e.requireExpires(t, brief, setAt, 60*time.Millisecond)
			time.Sleep(20 * time.Millisecond)
			e.requireValue(t, a, []byte("A"))
			e.requireValue(t, old, []byte("replaced")) // its old TTL was replaced by 0
		}},
		{"SetMulti of no items is a no-op", func(t *testing.T, e *env) {
			b := batcher(t, e)
			noError(t, b.SetMulti(e.ctx, nil))
			noError(t, b.SetMulti(e.ctx, []provider.Item{}))
		}},
		{"SetMulti of many items stores them all", func(t *testing.T, e *env) {
			b := batcher(t, e)
			items := make([]provider.Item, 300)
			keys := make([]string, len(items))
			for i := range items {
				keys[i] = e.key(fmt.Sprintf("item%03d", i))
				items[i] = provider.Item{Key: keys[i], Value: []byte(fmt.Sprint(i)), TTL: time.Minute}
			}
			noError(t, b.SetMulti(e.ctx, items))
			got, err := e.p.GetMulti(e.ctx, keys)
			noError(t, err)
			for i := range items {
				equal(t, items[i].Value, got[i], "item %d", i)
			}
		}},
	}
}

func (s *suite) multiAdderTests() []test {
	adder := func(t *testing.T, e *env) provider.MultiAdder {
		t.Helper()
		a, ok := e.p.(provider.MultiAdder)
		if !ok {
			t.Skip("the provider does not implement provider.MultiAdder")
		}
		return a
	}
	return []test{
		{"AddMulti adds absent keys and reports what present keys hold", func(t *testing.T, e *env) {
			a := adder(t, e)
			fresh, taken, brief := e.key("fresh"), e.key("taken"), e.key("brief")
			e.mustSet(t, taken, []byte("first"), 0)
			setAt := time.Now()
			res, err := a.AddMulti(e.ctx, []provider.Item{
				{Key: fresh, Value: []byte("A"), TTL: 0},
				{Key: taken, Value: []byte("second"), TTL: time.Minute},
				{Key: brief, Value: []byte("B"), TTL: 60 * time.Millisecond},
			})
			noError(t, err)
			equal(t, 3, len(res), "one result per item")
			isTrue(t, res[0].Added, "an absent key is added")
			isFalse(t, res[1].Added, "a present key is not added")
			equal(t, []byte("first"), res[1].Existing, "the value already there is reported")
			isTrue(t, res[2].Added, "an absent key with a TTL is added")
			e.requireValue(t, fresh, []byte("A"))
			e.requireValue(t, taken, []byte("first"))
			e.requireExpires(t, brief, setAt, 60*time.Millisecond)
		}},
		{"AddMulti of no items is a no-op", func(t *testing.T, e *env) {
			a := adder(t, e)
			res, err := a.AddMulti(e.ctx, nil)
			noError(t, err)
			equal(t, 0, len(res), "no results")
		}},
		{"AddMulti of the same absent key twice adds it once", func(t *testing.T, e *env) {
			a := adder(t, e)
			k := e.key("twice")
			res, err := a.AddMulti(e.ctx, []provider.Item{{Key: k, Value: []byte("1")}, {Key: k, Value: []byte("2")}})
			noError(t, err)
			isTrue(t, res[0].Added, "the first item is added")
			isFalse(t, res[1].Added, "the second finds the first")
			equal(t, []byte("1"), res[1].Existing, "and reports it")
			e.requireValue(t, k, []byte("1"))
		}},
	}
}

func (s *suite) patternTests() []test {
	deleter := func(t *testing.T, e *env) provider.PatternDeleter {
		t.Helper()
		d, ok := patternDeleter(e)
		if !ok {
			t.Skip("the provider does not implement provider.PatternDeleter")
		}
		return d
	}
	// Every case starts from these keys under a fresh prefix.
	names := []string{"a1", "a2", "ab", "a*", "b1", "c1", "d1", "abc", "x?y", "xzy", "a", ""}
	cases := []struct {
		name    string
		pattern string
		deleted []string
	}{
		{"'*' matches any run of bytes, including none", "a*", []string{"a1", "a2", "ab", "a*", "abc", "a"}},
		{"'?' matches exactly one byte", "?1", []string{"a1", "b1", "c1", "d1"}},
		{"'[a-c]' matches a range", "[a-c]1", []string{"a1", "b1", "c1"}},
		{"'[^a]' negates a class", "[^a]1", []string{"b1", "c1", "d1"}},
		{"'\\*' matches a literal star only", `a\*`, []string{"a*"}},
		{"'\\?' matches a literal question mark only", `x\?y`, []string{"x?y"}},
		{"a pattern without metacharacters matches one key", "ab", []string{"ab"}},
		{"a pattern matching nothing deletes nothing", "zz*", nil},
		{"'*' alone matches every key under the prefix", "*", names},
	}
	tests := make([]test, 0, len(cases)+1)
	for _, tc := range cases {
		tests = append(tests, test{"DeletePattern: " + tc.name, func(t *testing.T, e *env) {
			d := deleter(t, e)
			// A neighbour prefix that shares the test prefix as its own prefix
			// must survive: only the pattern's matches may go.
			neighbour := e.prefix[:len(e.prefix)-1] + "-other:"
			for _, n := range names {
				e.mustSet(t, e.key(n), []byte("v"), 0)
				e.mustSet(t, neighbour+n, []byte("v"), 0)
			}
			t.Cleanup(func() {
				all := make([]string, len(names))
				for i, n := range names {
					all[i] = neighbour + n
				}
				_, _ = e.p.Delete(e.ctx, all...)
			})
			n, err := d.DeletePattern(e.ctx, e.prefix+tc.pattern)
			noError(t, err)
			equal(t, len(tc.deleted), n, "DeletePattern(%q) count", tc.pattern)
			gone := map[string]bool{}
			for _, k := range tc.deleted {
				gone[k] = true
			}
			for _, k := range names {
				if gone[k] {
					e.requireMissing(t, e.key(k))
				} else {
					e.requireValue(t, e.key(k), []byte("v"))
				}
				e.requireValue(t, neighbour+k, []byte("v"))
			}
		}})
	}
	tests = append(tests, test{"DeletePattern removes many keys, not just a first batch", func(t *testing.T, e *env) {
		d := deleter(t, e)
		const many = 2500
		keys := make([]string, many)
		for i := range keys {
			keys[i] = e.key(fmt.Sprintf("bulk:%04d", i))
		}
		if b, ok := e.p.(provider.Batcher); ok {
			items := make([]provider.Item, many)
			for i, k := range keys {
				items[i] = provider.Item{Key: k, Value: []byte("v")}
			}
			noError(t, b.SetMulti(e.ctx, items))
		} else {
			for _, k := range keys {
				e.mustSet(t, k, []byte("v"), 0)
			}
		}
		n, err := d.DeletePattern(e.ctx, e.key("bulk:*"))
		noError(t, err)
		equal(t, many, n)
		got, err := e.p.GetMulti(e.ctx, keys)
		noError(t, err)
		for i, v := range got {
			isNil(t, v, "key %d survived", i)
		}
	}})
	return tests
}

func (s *suite) counterTests() []test {
	return []test{
		{"Len grows with new keys and shrinks with deletes", func(t *testing.T, e *env) {
			c, ok := counter(e)
			if !ok {
				t.Skip("the provider does not implement provider.Counter")
			}
			length := func() int64 {
				t.Helper()
				n, err := c.Len(e.ctx)
				noError(t, err)
				isTrue(t, n >= 0, "Len = %d", n)
				return n
			}
			n0 := length()
			a, b, k := e.key("a"), e.key("b"), e.key("c")
			e.mustSet(t, a, []byte("1"), 0)
			e.mustSet(t, b, []byte("2"), 0)
			e.mustSet(t, k, []byte("3"), 0)
			if e.opts.SharedStore {
				isTrue(t, length() >= 3, "Len must count at least the suite's keys")
				return
			}
			equal(t, n0+3, length(), "after three new keys")
			e.mustSet(t, a, []byte("overwritten"), 0)
			equal(t, n0+3, length(), "an overwrite adds no key")
			_, added, err := e.p.Add(e.ctx, b, []byte("x"), 0)
			noError(t, err)
			isFalse(t, added)
			equal(t, n0+3, length(), "a refused Add adds no key")
			_, err = e.p.Delete(e.ctx, a, e.key("missing"))
			noError(t, err)
			equal(t, n0+2, length(), "after deleting one key")
			_, err = e.p.Delete(e.ctx, b, k)
			noError(t, err)
			equal(t, n0, length(), "after deleting the rest")
		}},
	}
}
