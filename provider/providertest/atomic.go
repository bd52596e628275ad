package providertest

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func (s *suite) addTests() []test {
	return []test{
		{"Add stores a value under an absent key", func(t *testing.T, e *env) {
			k := e.key("k")
			existing, added, err := e.p.Add(e.ctx, k, []byte("v"), 0)
			noError(t, err)
			isTrue(t, added)
			isNil(t, existing, "Add reports no existing value when it adds")
			e.requireValue(t, k, []byte("v"))
		}},
		{"Add returns the existing value and leaves it untouched", func(t *testing.T, e *env) {
			k := e.key("k")
			e.mustSet(t, k, []byte("first"), 0)
			existing, added, err := e.p.Add(e.ctx, k, []byte("second"), 0)
			noError(t, err)
			isFalse(t, added)
			equal(t, []byte("first"), existing)
			e.requireValue(t, k, []byte("first"))
		}},
		{"Add on a present key does not give it the new TTL", func(t *testing.T, e *env) {
			k, ref := e.key("k"), e.key("ref")
			setAt := time.Now()
			e.mustSet(t, k, []byte("v"), 0)
			_, added, err := e.p.Add(e.ctx, k, []byte("w"), 50*time.Millisecond)
			noError(t, err)
			isFalse(t, added)
			e.mustSet(t, ref, []byte("v"), 50*time.Millisecond)
			e.requireExpires(t, ref, setAt, 50*time.Millisecond)
			time.Sleep(30 * time.Millisecond)
			e.requireValue(t, k, []byte("v"))
		}},
		{"Add on a present key does not clear its TTL", func(t *testing.T, e *env) {
			k := e.key("k")
			setAt := time.Now()
			e.mustSet(t, k, []byte("v"), 100*time.Millisecond)
			_, added, err := e.p.Add(e.ctx, k, []byte("w"), 0)
			noError(t, err)
			isFalse(t, added)
			e.requireExpires(t, k, setAt, 100*time.Millisecond)
		}},
		{"Add stores again once the key has expired", func(t *testing.T, e *env) {
			k := e.key("k")
			setAt := time.Now()
			e.mustSet(t, k, []byte("old"), 50*time.Millisecond)
			e.requireExpires(t, k, setAt, 50*time.Millisecond)
			existing, added, err := e.p.Add(e.ctx, k, []byte("new"), 0)
			noError(t, err)
			isTrue(t, added, "an expired key must behave as absent")
			isNil(t, existing)
			e.requireValue(t, k, []byte("new"))
		}},
		{"Add gives an added key its TTL", func(t *testing.T, e *env) {
			k := e.key("k")
			setAt := time.Now()
			_, added, err := e.p.Add(e.ctx, k, []byte("v"), 60*time.Millisecond)
			noError(t, err)
			isTrue(t, added)
			e.requireExpires(t, k, setAt, 60*time.Millisecond)
		}},
		{"Add by many goroutines at once adds exactly once", func(t *testing.T, e *env) {
			k := e.key("k")
			const n = 16
			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				winner []byte
				wins   int
			)
			existing := make([][]byte, n)
			for i := range n {
				wg.Go(func() {
					v := []byte("writer " + strconv.Itoa(i))
					ex, added, err := e.p.Add(e.ctx, k, v, 0)
					if err != nil {
						t.Errorf("Add: %v", err)
						return
					}
					if added {
						mu.Lock()
						wins++
						winner = v
						mu.Unlock()
						return
					}
					existing[i] = ex
				})
			}
			wg.Wait()
			equal(t, 1, wins, "exactly one Add must win")
			for i, ex := range existing {
				if ex != nil {
					equal(t, winner, ex, "loser %d must see the winner's value", i)
				}
			}
			e.requireValue(t, k, winner)
		}},
	}
}

func (s *suite) casTests() []test {
	return []test{
		{"CompareAndSwap swaps on an exact match", func(t *testing.T, e *env) {
			k := e.key("k")
			e.mustSet(t, k, []byte("old"), 0)
			ok, err := e.p.CompareAndSwap(e.ctx, k, []byte("old"), []byte("new"), 0)
			noError(t, err)
			isTrue(t, ok)
			e.requireValue(t, k, []byte("new"))
		}},
		{"CompareAndSwap fails on a missing key and does not create it", func(t *testing.T, e *env) {
			k := e.key("k")
			for _, old := range [][]byte{nil, {}, []byte("x")} {
				ok, err := e.p.CompareAndSwap(e.ctx, k, old, []byte("new"), 0)
				noError(t, err)
				isFalse(t, ok, "old %q", old)
				e.requireMissing(t, k)
			}
		}},
		{"CompareAndSwap fails on a mismatch and leaves the value", func(t *testing.T, e *env) {
			k := e.key("k")
			e.mustSet(t, k, []byte("value"), 0)
			for _, old := range [][]byte{
				[]byte("other"),
				[]byte("valu"),   // a prefix
				[]byte("value!"), // an extension
				[]byte("VALUE"),
				[]byte("value\x00"),
				{},
				nil,
			} {
				ok, err := e.p.CompareAndSwap(e.ctx, k, old, []byte("new"), 0)
				noError(t, err)
				isFalse(t, ok, "old %q must not match %q", old, "value")
				e.requireValue(t, k, []byte("value"))
			}
		}},
		{"CompareAndSwap matches an empty value only with an empty old", func(t *testing.T, e *env) {
			k := e.key("k")
			e.mustSet(t, k, []byte{}, 0)
			ok, err := e.p.CompareAndSwap(e.ctx, k, []byte("x"), []byte("new"), 0)
			noError(t, err)
			isFalse(t, ok)
			ok, err = e.p.CompareAndSwap(e.ctx, k, []byte{}, []byte("new"), 0)
			noError(t, err)
			isTrue(t, ok)
			e.requireValue(t, k, []byte("new"))
		}},
		{"CompareAndSwap compares binary values byte for byte", func(t *testing.T, e *env) {
			k := e.key("k")
			v := bigValue(4096)
			e.mustSet(t, k, v, 0)
			w := append([]byte(nil), v...)
			w[len(w)-1] ^= 1
			ok, err := e.p.CompareAndSwap(e.ctx, k, w, []byte("new"), 0)
			noError(t, err)
			isFalse(t, ok, "values differing in the last bit must not match")
			ok, err = e.p.CompareAndSwap(e.ctx, k, v, []byte("new"), 0)
			noError(t, err)
			isTrue(t, ok)
		}},
		{"CompareAndSwap sets the new TTL", func(t *testing.T, e *env) {
			k := e.key("k")
			e.mustSet(t, k, []byte("old"), 0)
			setAt := time.Now()
			ok, err := e.p.CompareAndSwap(e.ctx, k, []byte("old"), []byte("new"), 60*time.Millisecond)
			noError(t, err)
			isTrue(t, ok)
			e.requireExpires(t, k, setAt, 60*time.Millisecond)
		}},
		{"CompareAndSwap with TTL 0 clears the old TTL", func(t *testing.T, e *env) {
			k, ref := e.key("k"), e.key("ref")
			setAt := time.Now()
			e.mustSet(t, k, []byte("old"), 60*time.Millisecond)
			e.mustSet(t, ref, []byte("old"), 60*time.Millisecond)
			ok, err := e.p.CompareAndSwap(e.ctx, k, []byte("old"), []byte("new"), 0)
			noError(t, err)
			isTrue(t, ok)
			e.requireExpires(t, ref, setAt, 60*time.Millisecond)
			time.Sleep(30 * time.Millisecond)
			e.requireValue(t, k, []byte("new"))
		}},
		{"CompareAndSwap is atomic under contention", func(t *testing.T, e *env) {
			k := e.key("counter")
			e.mustSet(t, k, []byte("0"), 0)
			const goroutines, increments = 8, 40
			var wg sync.WaitGroup
			for range goroutines {
				wg.Go(func() {
					for done := 0; done < increments; {
						cur, err := e.p.Get(e.ctx, k)
						if err != nil {
							t.Errorf("Get: %v", err)
							return
						}
						n, err := strconv.Atoi(string(cur))
						if err != nil {
							t.Errorf("counter holds %q: %v", cur, err)
							return
						}
						ok, err := e.p.CompareAndSwap(e.ctx, k, cur, []byte(strconv.Itoa(n+1)), 0)
						if err != nil {
							t.Errorf("CompareAndSwap: %v", err)
							return
						}
						if ok {
							done++
						}
					}
				})
			}
			wg.Wait()
			e.requireValue(t, k, []byte(strconv.Itoa(goroutines*increments)))
		}},
	}
}
