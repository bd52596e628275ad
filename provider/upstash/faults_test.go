package upstash_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

// Under every fault the emulator injects, aside.Remember returns the
// loader's value to every caller, and the fault really happened. (Which
// requests meet a fault depends on timing, and the circuit breaker soon
// stops calls to a failing store, so the retries themselves are checked
// where they are deterministic, in retry_test.go.)
func TestRememberSurvivesEveryFault(t *testing.T) {
	tests := []struct {
		name    string
		faults  emulator.Faults
		timeout time.Duration
		// happened checks that the fault was injected and met as designed.
		happened func(t *testing.T, e emulator.Stats, s upstash.Stats)
	}{
		{"latency below the timeout", emulator.Faults{Latency: 10 * time.Millisecond, Jitter: 30 * time.Millisecond}, 0,
			func(t *testing.T, e emulator.Stats, s upstash.Stats) {
				require.Positive(t, e.Faults.Delayed)
				require.Positive(t, e.CommandsByName["get"]+e.CommandsByName["mget"], "reads reached the store")
			}},
		{"latency above the timeout", emulator.Faults{Latency: 400 * time.Millisecond}, 50 * time.Millisecond,
			func(t *testing.T, e emulator.Stats, s upstash.Stats) {
				require.Positive(t, e.Faults.Delayed)
			}},
		{"5xx on a third of the requests", emulator.Faults{ServerErrorRate: 0.3}, 0,
			func(t *testing.T, e emulator.Stats, s upstash.Stats) {
				require.Positive(t, e.Faults.ServerErrors)
				require.Positive(t, s.Unconfirmed, "the provider met them")
			}},
		{"quota errors on a third of the requests", emulator.Faults{QuotaRate: 0.3, Quota: emulator.QuotaDailyRequests}, 0,
			func(t *testing.T, e emulator.Stats, s upstash.Stats) {
				require.Positive(t, e.Faults.QuotaErrors)
				require.Positive(t, s.QuotaErrors)
				require.Zero(t, s.Retries, "quota errors are never retried")
			}},
		{"the monthly command budget runs out", emulator.Faults{CommandLimit: 40}, 0,
			func(t *testing.T, e emulator.Stats, s upstash.Stats) {
				require.Positive(t, e.Faults.QuotaErrors)
				require.Positive(t, s.QuotaErrors)
				require.Zero(t, s.Retries)
			}},
		{"connections dropped before the request runs", emulator.Faults{DropRate: 0.3}, 0,
			func(t *testing.T, e emulator.Stats, s upstash.Stats) {
				require.Positive(t, e.Faults.Dropped)
				require.Positive(t, s.Unconfirmed, "the provider met them")
			}},
		{"connections dropped after the request ran", emulator.Faults{DropAfterRate: 0.3}, 0,
			func(t *testing.T, e emulator.Stats, s upstash.Stats) {
				require.Positive(t, e.Faults.DroppedAfter)
				require.Positive(t, s.Unconfirmed)
			}},
		{"replies cut in half", emulator.Faults{TruncateRate: 0.3}, 0,
			func(t *testing.T, e emulator.Stats, s upstash.Stats) {
				require.Positive(t, e.Faults.Truncated)
				require.Positive(t, s.Unconfirmed)
			}},
		{"all of them at once", emulator.Faults{Latency: 5 * time.Millisecond, Jitter: 20 * time.Millisecond, ServerErrorRate: 0.1,
			QuotaRate: 0.1, DropRate: 0.1, DropAfterRate: 0.1, TruncateRate: 0.1}, 0,
			func(t *testing.T, e emulator.Stats, s upstash.Stats) {
				f := e.Faults
				require.Positive(t, f.ServerErrors+f.QuotaErrors+f.Dropped+f.DroppedAfter+f.Truncated)
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.faults.Seed = 7
			f := newFixture(t, emulator.Options{Faults: tt.faults})
			p := f.provider(t, upstash.Options{Timeout: tt.timeout})
			c, err := aside.New(aside.Options{Provider: p, Namespace: prefix(t)})
			require.NoError(t, err)
			defer c.Close()

			ctx := ctxFor(t)
			var calls, loads, wrong atomic.Int64
			var firstErr atomic.Value
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					for i := range 25 {
						key := fmt.Sprintf("item:%d", (g+i)%10)
						opts := []aside.Option{aside.TTL(time.Minute)}
						if i%2 == 0 {
							opts = append(opts, aside.Tags("items", "item-tag:"+key))
						}
						want := "value of " + key
						got, err := aside.Remember(ctx, c, key, func(context.Context) (string, error) {
							loads.Add(1)
							return want, nil
						}, opts...)
						calls.Add(1)
						if err != nil {
							firstErr.CompareAndSwap(nil, err)
						}
						if got != want {
							wrong.Add(1)
						}
						if i%10 == 9 {
							_ = c.InvalidateTags(ctx, "item-tag:"+key) // may fail under faults: not a Remember
						}
					}
				})
			}
			wg.Wait()
			require.Nil(t, firstErr.Load(), "an error reached a Remember caller")
			require.Zero(t, wrong.Load(), "a Remember caller got something other than the loader's value")
			e, s := f.emu.Stats(), p.Stats()
			tt.happened(t, e, s)
			t.Logf("%d Remember calls, %d loads; provider: %d requests, %d billed commands, %d retries, %d unconfirmed, %d quota errors; emulator faults: %+v; cache errors counted: %d",
				calls.Load(), loads.Load(), s.Requests, s.Commands, s.Retries, s.Unconfirmed, s.QuotaErrors, e.Faults, c.Stats().Errors)
		})
	}
}

// The whole stack on the emulator: Echo, the response-cache middleware, the
// Cache, the provider.
func TestMiddlewareRunsOnUpstash(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{})
	c, err := aside.New(aside.Options{Provider: p, Namespace: prefix(t)})
	require.NoError(t, err)
	defer c.Close()
	var handled atomic.Int64
	e := echo.New()
	e.Use(middleware.Cache(c))
	e.GET("/products/:id", func(ec echo.Context) error {
		handled.Add(1)
		middleware.Tag(ec, "product:"+ec.Param("id"))
		return ec.JSON(http.StatusOK, map[string]any{"id": ec.Param("id"), "name": "Teapot"})
	})
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/products/2", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		return rec
	}
	require.Contains(t, get().Header().Get("Cache-Status"), "stored")
	// The first hit learns which tags the response carries (they were named
	// while the handler ran) and reads their records in a second MGET; from
	// then on they are read with the entry.
	f.emu.ResetStats()
	require.Contains(t, get().Header().Get("Cache-Status"), "hit")
	require.EqualValues(t, 2, f.emu.Stats().Commands)
	f.emu.ResetStats()
	rec := get()
	require.Contains(t, rec.Header().Get("Cache-Status"), "hit")
	require.JSONEq(t, `{"id":"2","name":"Teapot"}`, rec.Body.String())
	require.EqualValues(t, 1, handled.Load())
	require.Equal(t, map[string]int64{"mget": 1}, f.emu.Stats().CommandsByName, "a cached response costs one billed command")
	require.NoError(t, c.InvalidateTags(ctxFor(t), "product:2"))
	require.Contains(t, get().Header().Get("Cache-Status"), "fwd=")
	require.EqualValues(t, 2, handled.Load())
}
