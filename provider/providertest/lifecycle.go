package providertest

import (
	"context"
	"testing"
	"time"

	"github.com/aside-go/aside/provider"
)

// allCalls returns every method of the provider but Close, optional ones
// included when the provider has them, each called with valid arguments
// under ctx.
func allCalls(e *env, ctx context.Context) map[string]func() error {
	k, v := e.key("k"), []byte("v")
	calls := map[string]func() error{
		"Get":      func() error { _, err := e.p.Get(ctx, k); return err },
		"GetMulti": func() error { _, err := e.p.GetMulti(ctx, []string{k, e.key("k2")}); return err },
		"Set":      func() error { return e.p.Set(ctx, k, v, time.Minute) },
		"Add":      func() error { _, _, err := e.p.Add(ctx, k, v, time.Minute); return err },
		"CompareAndSwap": func() error {
			_, err := e.p.CompareAndSwap(ctx, k, v, []byte("w"), time.Minute)
			return err
		},
		"Delete": func() error { _, err := e.p.Delete(ctx, k); return err },
		"Ping":   func() error { return e.p.Ping(ctx) },
	}
	if b, ok := e.p.(provider.Batcher); ok {
		calls["SetMulti"] = func() error {
			return b.SetMulti(ctx, []provider.Item{{Key: k, Value: v, TTL: time.Minute}})
		}
	}
	if a, ok := e.p.(provider.MultiAdder); ok {
		calls["AddMulti"] = func() error {
			_, err := a.AddMulti(ctx, []provider.Item{{Key: k, Value: v, TTL: time.Minute}})
			return err
		}
	}
	if d, ok := patternDeleter(e); ok {
		calls["DeletePattern"] = func() error { _, err := d.DeletePattern(ctx, e.prefix+"*"); return err }
	}
	if c, ok := counter(e); ok {
		calls["Len"] = func() error { _, err := c.Len(ctx); return err }
	}
	return calls
}

func (s *suite) contextTests() []test {
	return []test{
		{"a cancelled context fails every method with context.Canceled", func(t *testing.T, e *env) {
			e.mustSet(t, e.key("k"), []byte("v"), time.Minute)
			ctx, cancel := context.WithCancel(e.ctx)
			cancel()
			for name, call := range allCalls(e, ctx) {
				errorIs(t, call(), context.Canceled, name)
			}
		}},
		{"an expired deadline fails every method with context.DeadlineExceeded", func(t *testing.T, e *env) {
			e.mustSet(t, e.key("k"), []byte("v"), time.Minute)
			ctx, cancel := context.WithDeadline(e.ctx, time.Now().Add(-time.Second))
			defer cancel()
			for name, call := range allCalls(e, ctx) {
				errorIs(t, call(), context.DeadlineExceeded, name)
			}
		}},
		{"a live context with a deadline does not get in the way", func(t *testing.T, e *env) {
			ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
			defer cancel()
			for name, call := range allCalls(e, ctx) {
				err := call()
				if name == "Get" && err != nil {
					errorIs(t, err, provider.ErrNotFound, name)
					continue
				}
				noError(t, err, name)
			}
		}},
	}
}

func (s *suite) closeTests() []test {
	return []test{
		{"after Close every method returns ErrClosed", func(t *testing.T, e *env) {
			e.mustSet(t, e.key("k"), []byte("v"), time.Minute)
			noError(t, e.p.Close())
			for name, call := range allCalls(e, e.ctx) {
				errorIs(t, call(), provider.ErrClosed, name)
			}
		}},
		{"Close twice is fine", func(t *testing.T, e *env) {
			noError(t, e.p.Close())
			noError(t, e.p.Close(), "Close must be idempotent")
			errorIs(t, e.p.Ping(e.ctx), provider.ErrClosed)
		}},
	}
}
