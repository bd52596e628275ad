package providertest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
)

func (s *suite) concurrencyTests() []test {
	return []test{
		{"many goroutines mixing every method keep each key's values intact", func(t *testing.T, e *env) {
			const (
				goroutines = 8
				ops        = 300
				nkeys      = 8
			)
			keyOf := func(i int) string { return e.key(fmt.Sprintf("c%d", i)) }
			// Every value written to key i starts with tag(i), so a read that
			// returns another key's bytes, or torn bytes, is caught.
			tag := func(i int) []byte { return []byte(fmt.Sprintf("<key %d>", i)) }
			valueOf := func(i, g, n int) []byte {
				return append(tag(i), fmt.Sprintf(" written by %d op %d %s", g, n, bytes.Repeat([]byte{byte(n)}, n%64))...)
			}
			checkValue := func(i int, v []byte) error {
				if !bytes.HasPrefix(v, tag(i)) {
					return fmt.Errorf("key %d holds %q", i, v)
				}
				return nil
			}
			ttls := []time.Duration{0, time.Second, time.Millisecond}

			batcher, _ := e.p.(provider.Batcher)
			deleter, _ := patternDeleter(e)
			counter, _ := counter(e)

			var wg sync.WaitGroup
			errs := make(chan error, goroutines)
			for g := range goroutines {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(g), 42))
					for n := range ops {
						if err := step(e, r, g, n, nkeys, keyOf, valueOf, checkValue, ttls, batcher, deleter, counter); err != nil {
							errs <- fmt.Errorf("goroutine %d op %d: %w", g, n, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			// The provider still works afterwards.
			e.mustSet(t, keyOf(0), valueOf(0, -1, 0), 0)
			got, err := e.p.Get(e.ctx, keyOf(0))
			noError(t, err)
			noError(t, checkValue(0, got))
		}},
	}
}

// step runs one random operation of the concurrency test.
func step(
	e *env, r *rand.Rand, g, n, nkeys int,
	keyOf func(int) string,
	valueOf func(i, g, n int) []byte,
	checkValue func(int, []byte) error,
	ttls []time.Duration,
	batcher provider.Batcher, deleter provider.PatternDeleter, counter provider.Counter,
) error {
	i := r.IntN(nkeys)
	k := keyOf(i)
	ttl := ttls[r.IntN(len(ttls))]
	switch r.IntN(10) {
	case 0, 1:
		v, err := e.p.Get(e.ctx, k)
		if errors.Is(err, provider.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return checkValue(i, v)
	case 2:
		j := r.IntN(nkeys)
		vs, err := e.p.GetMulti(e.ctx, []string{k, keyOf(j), k})
		if err != nil {
			return err
		}
		if len(vs) != 3 {
			return fmt.Errorf("GetMulti of 3 keys returned %d values", len(vs))
		}
		for pos, idx := range []int{i, j, i} {
			if vs[pos] != nil {
				if err := checkValue(idx, vs[pos]); err != nil {
					return err
				}
			}
		}
		return nil
	case 3, 4:
		return e.p.Set(e.ctx, k, valueOf(i, g, n), ttl)
	case 5:
		ex, added, err := e.p.Add(e.ctx, k, valueOf(i, g, n), ttl)
		if err != nil || added {
			return err
		}
		return checkValue(i, ex)
	case 6:
		cur, err := e.p.Get(e.ctx, k)
		if errors.Is(err, provider.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = e.p.CompareAndSwap(e.ctx, k, cur, valueOf(i, g, n), ttl)
		return err
	case 7:
		_, err := e.p.Delete(e.ctx, k, keyOf(r.IntN(nkeys)))
		return err
	case 8:
		if batcher == nil {
			return e.p.Ping(e.ctx)
		}
		j := r.IntN(nkeys)
		return batcher.SetMulti(e.ctx, []provider.Item{
			{Key: k, Value: valueOf(i, g, n), TTL: ttl},
			{Key: keyOf(j), Value: valueOf(j, g, n)},
		})
	default:
		if counter != nil {
			if c, err := counter.Len(e.ctx); err != nil || c < 0 {
				return fmt.Errorf("Len = %d, %v", c, err)
			}
		}
		if deleter != nil && r.IntN(4) == 0 {
			_, err := deleter.DeletePattern(e.ctx, e.key(fmt.Sprintf("c%d", i)))
			return err
		}
		return nil
	}
}
