package providertest

import (
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
)

func (s *suite) ttlTests() []test {
	return []test{
		{"a key with a TTL is present until the TTL and gone after it", func(t *testing.T, e *env) {
			k := e.key("k")
			setAt := time.Now()
			e.mustSet(t, k, []byte("v"), 150*time.Millisecond)
			e.requireExpires(t, k, setAt, 150*time.Millisecond)
		}},
		{"an expired key is missing for every method", func(t *testing.T, e *env) {
			k := e.key("k")
			setAt := time.Now()
			e.mustSet(t, k, []byte("v"), 50*time.Millisecond)
			e.requireExpires(t, k, setAt, 50*time.Millisecond)

			got, err := e.p.GetMulti(e.ctx, []string{k})
			noError(t, err)
			isNil(t, got[0], "GetMulti of an expired key")
			ok, err := e.p.CompareAndSwap(e.ctx, k, []byte("v"), []byte("w"), 0)
			noError(t, err)
			isFalse(t, ok, "CompareAndSwap must not swap an expired key")
			e.requireMissing(t, k)
			n, err := e.p.Delete(e.ctx, k)
			noError(t, err)
			equal(t, 0, n, "Delete must not count an expired key")
		}},
		{"TTL 0 means no expiry", func(t *testing.T, e *env) {
			forever, brief := e.key("forever"), e.key("brief")
			setAt := time.Now()
			e.mustSet(t, forever, []byte("v"), 0)
			e.mustSet(t, brief, []byte("v"), 50*time.Millisecond)
			e.requireExpires(t, brief, setAt, 50*time.Millisecond)
			time.Sleep(50 * time.Millisecond)
			e.requireValue(t, forever, []byte("v"))
		}},
		{"a sub-millisecond TTL rounds up, so the key is present right after Set and then expires", func(t *testing.T, e *env) {
			for _, ttl := range []time.Duration{time.Nanosecond, time.Microsecond, 999 * time.Microsecond} {
				// Set and Get must fit within the rounded-up millisecond; a
				// scheduler hiccup can break one attempt, not all of them.
				seen := false
				for attempt := 0; attempt < 10 && !seen; attempt++ {
					k := e.key(ttl.String() + "/" + string(rune('a'+attempt)))
					setAt := time.Now()
					e.mustSet(t, k, []byte("v"), ttl)
					seen = e.present(t, k)
					if seen {
						// Rounding down to 0 would mean "no expiry": it must still expire.
						e.requireExpires(t, k, setAt, ttl)
					}
				}
				if !seen {
					// A store whose round trip is a millisecond or more (a
					// REST store under -race) cannot show a 1 ms key to a
					// read sent after the write returned.
					if rtt := e.fastestRoundTrip(t); rtt >= time.Millisecond {
						t.Skipf("the store's fastest round trip is %v, longer than the 1 ms a sub-millisecond TTL lasts", rtt)
					}
				}
				isTrue(t, seen, "a key with TTL %v was never present right after Set (rounded down?)", ttl)
			}
		}},
		{"a negative TTL fails with ErrInvalidTTL and stores nothing", func(t *testing.T, e *env) {
			for _, ttl := range []time.Duration{-time.Nanosecond, -time.Millisecond, -time.Hour} {
				k, old := e.key("new"), e.key("old")
				e.mustSet(t, old, []byte("old"), 0)

				errorIs(t, e.p.Set(e.ctx, k, []byte("v"), ttl), provider.ErrInvalidTTL, "Set(ttl %v)", ttl)
				e.requireMissing(t, k)
				errorIs(t, e.p.Set(e.ctx, old, []byte("v"), ttl), provider.ErrInvalidTTL, "Set(ttl %v) over a value", ttl)
				e.requireValue(t, old, []byte("old"))

				_, added, err := e.p.Add(e.ctx, k, []byte("v"), ttl)
				errorIs(t, err, provider.ErrInvalidTTL, "Add(ttl %v)", ttl)
				isFalse(t, added)
				e.requireMissing(t, k)

				ok, err := e.p.CompareAndSwap(e.ctx, old, []byte("old"), []byte("v"), ttl)
				errorIs(t, err, provider.ErrInvalidTTL, "CompareAndSwap(ttl %v)", ttl)
				isFalse(t, ok)
				e.requireValue(t, old, []byte("old"))

				if b, ok := e.p.(provider.Batcher); ok {
					err := b.SetMulti(e.ctx, []provider.Item{{Key: k, Value: []byte("v"), TTL: ttl}})
					errorIs(t, err, provider.ErrInvalidTTL, "SetMulti(ttl %v)", ttl)
					e.requireMissing(t, k)
				}
			}
		}},
		{"Set replaces the TTL of an existing key", func(t *testing.T, e *env) {
			keep, expire, ref := e.key("keep"), e.key("expire"), e.key("ref")
			setAt := time.Now()
			e.mustSet(t, keep, []byte("v"), 80*time.Millisecond)
			e.mustSet(t, keep, []byte("v2"), 0)
			e.mustSet(t, expire, []byte("v"), 0)
			e.mustSet(t, expire, []byte("v2"), 80*time.Millisecond)
			e.mustSet(t, ref, []byte("v"), 80*time.Millisecond)
			e.requireExpires(t, expire, setAt, 80*time.Millisecond)
			e.requireExpires(t, ref, setAt, 80*time.Millisecond)
			time.Sleep(30 * time.Millisecond)
			e.requireValue(t, keep, []byte("v2"))
		}},
		{"a TTL of a hundred years is accepted and the key stays", func(t *testing.T, e *env) {
			k := e.key("k")
			e.mustSet(t, k, []byte("v"), 100*365*24*time.Hour)
			e.requireValue(t, k, []byte("v"))
		}},
	}
}

// fastestRoundTrip is the shortest of a few Gets of a missing key.
func (e *env) fastestRoundTrip(t *testing.T) time.Duration {
	t.Helper()
	best := time.Hour
	for range 5 {
		start := time.Now()
		_, _ = e.p.Get(e.ctx, e.key("round-trip"))
		best = min(best, time.Since(start))
	}
	return best
}
