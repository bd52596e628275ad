package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/metrics"
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
	"github.com/aside-go/aside/provider/providertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newMemory(t testing.TB) *memory.Provider {
	t.Helper()
	p, err := memory.New(memory.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func newCache(t testing.TB, o aside.Options) *aside.Cache {
	t.Helper()
	c, err := aside.New(o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestInstrumentedProviderConforms runs the provider conformance suite
// through the wrapper, and the invalidation race through a Cache over it.
func TestInstrumentedProviderConforms(t *testing.T) {
	providertest.Run(t, func(t *testing.T) provider.Provider {
		return metrics.Instrument(newMemory(t), metrics.Options{})
	})
	shared := metrics.Instrument(newMemory(t), metrics.Options{})
	providertest.RunCache(t, func(*testing.T) provider.Provider { return shared }, providertest.CacheOptions{Rounds: 100})
}

// bare is a provider with no optional ability.
type bare struct{ provider.Provider }

func TestInstrumentedProviderOffersOptionalAbilitiesTheWrappedOneLacks(t *testing.T) {
	ctx := context.Background()
	p := metrics.Instrument(bare{newMemory(t)}, metrics.Options{})
	require.NoError(t, p.SetMulti(ctx, []provider.Item{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}))
	res, err := p.AddMulti(ctx, []provider.Item{{Key: "a", Value: []byte("x")}, {Key: "c", Value: []byte("3")}})
	require.NoError(t, err)
	require.Equal(t, []provider.AddResult{{Existing: []byte("1")}, {Added: true}}, res)
	_, err = p.DeletePattern(ctx, "*")
	require.ErrorIs(t, err, provider.ErrNotSupported)
	_, err = p.Len(ctx)
	require.ErrorIs(t, err, provider.ErrNotSupported)

	// Through a Cache, the missing abilities read as missing.
	c := newCache(t, aside.Options{Provider: p, Breaker: aside.Breaker{Disabled: true}})
	_, err = c.InvalidatePattern(ctx, "*")
	require.ErrorIs(t, err, aside.ErrNotSupported)
	require.EqualValues(t, -1, c.Stats().Keys)
}

// gather registers col alone and returns its metric families by name.
func gather(t *testing.T, col prometheus.Collector) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(col))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

// value returns the value of the series of family name whose labels
// include want (name=value pairs).
func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, want ...string) float64 {
	t.Helper()
	mf, ok := mfs[name]
	require.True(t, ok, "no metric %s", name)
next:
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if got[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no series of %s with labels %v", name, want)
	return 0
}

func TestCollectorExportsStatsRoutesAndLatencies(t *testing.T) {
	ctx := context.Background()
	var routes middleware.RouteStats
	mo := metrics.Options{Cache: "shop", Routes: &routes}
	c := newCache(t, aside.Options{Provider: metrics.Instrument(newMemory(t), mo), Breaker: aside.Breaker{Disabled: true}})

	e := echo.New()
	g := e.Group("", routes.Count, middleware.CacheWithConfig(middleware.CacheConfig{Cache: c}))
	g.GET("/products/:id", func(ec echo.Context) error {
		return ec.JSON(http.StatusOK, map[string]string{"name": strings.Repeat("teapot ", 100)})
	})
	for range 3 {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/products/1?secret=x", nil))
	}
	require.NoError(t, aside.Set(ctx, c, "k", strings.Repeat("teapot ", 1000)))

	col := metrics.NewCollector(c, mo)
	mfs := gather(t, col)
	require.EqualValues(t, 2, value(t, mfs, "aside_hits_total", "cache", "shop"))
	require.EqualValues(t, 1, value(t, mfs, "aside_misses_total", "cache", "shop"))
	require.EqualValues(t, 2, value(t, mfs, "aside_sets_total"))
	require.Positive(t, value(t, mfs, "aside_compression_saved_bytes_total"), "the repetitive value compressed")
	require.Positive(t, value(t, mfs, "aside_keys"))
	require.Positive(t, value(t, mfs, "aside_memory_bytes"))
	require.Equal(t, float64(memory.DefaultMaxBytes), value(t, mfs, "aside_memory_max_bytes"))
	require.EqualValues(t, 2, value(t, mfs, "aside_route_requests_total", "route", "/products/:id", "result", "hit"))
	require.EqualValues(t, 1, value(t, mfs, "aside_route_requests_total", "route", "/products/:id", "result", "miss"))
	require.Positive(t, value(t, mfs, "aside_provider_call_duration_seconds", "cache", "shop", "provider", "memory", "op", "get_multi"))
	require.Positive(t, value(t, mfs, "aside_provider_call_duration_seconds", "op", "add"))
	require.NotContains(t, mfs, "aside_circuit_state", "no breaker, no circuit metrics")
	require.NotContains(t, mfs, "aside_billed_commands_total", "no meter, no billing")
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				require.NotContains(t, lp.GetValue(), "secret", "a URL reached a label")
			}
		}
	}

	problems, err := testutil.CollectAndLint(col)
	require.NoError(t, err)
	require.Empty(t, problems, "Prometheus naming conventions")
}

// metered bills like Upstash.
type metered struct {
	provider.Provider
	u provider.Usage
}

func (m *metered) Usage() provider.Usage { return m.u }

// pair is a composite of two stores, as a migration provider reports them.
type pair struct {
	provider.Provider
	up  *metered
	mem provider.Provider
}

func (p *pair) Members() []provider.Member {
	return []provider.Member{
		{Provider: p.up, Stats: provider.MemberStats{Name: "upstash", Role: "primary", Hits: 8, Misses: 2, Calls: 10, CallTime: 50 * time.Millisecond}},
		{Provider: p.mem, Stats: provider.MemberStats{Name: "memory", Role: "secondary", Hits: 6, Misses: 4, Errors: 1, Calls: 11, CallTime: time.Millisecond}},
	}
}

func TestCollectorExportsBillingBudgetCircuitAndMembers(t *testing.T) {
	mo := metrics.Options{Cache: "shop"}
	up := &metered{Provider: newMemory(t), u: provider.Usage{Commands: 1200, Requests: 1000, BytesSent: 3000, BytesReceived: 7000}}
	mem := metrics.Instrument(newMemory(t), mo)
	c := newCache(t, aside.Options{
		Provider: &pair{Provider: up, up: up, mem: mem},
		Budget:   aside.Budget{MonthlyCommands: aside.UpstashFreeCommands, MonthlyBandwidth: aside.UpstashFreeBandwidth},
	})
	up.u.Commands += 300 // billed after the Cache started: this month's
	_, _, err := aside.Get[int](context.Background(), c, "k")
	require.NoError(t, err)

	col := metrics.NewCollector(c, mo)
	mfs := gather(t, col)
	require.EqualValues(t, 1, value(t, mfs, "aside_circuit_state", "state", "closed"))
	require.EqualValues(t, 0, value(t, mfs, "aside_circuit_state", "state", "open"))
	require.EqualValues(t, 0, value(t, mfs, "aside_circuit_opens_total"))
	require.EqualValues(t, 1500, value(t, mfs, "aside_billed_commands_total", "provider", "upstash", "role", "primary"))
	require.EqualValues(t, 7000, value(t, mfs, "aside_billed_bytes_total", "provider", "upstash", "direction", "received"))
	require.EqualValues(t, 300, value(t, mfs, "aside_month_billed_commands"))
	require.EqualValues(t, 500_000, value(t, mfs, "aside_budget_commands"))
	require.EqualValues(t, 1e10, value(t, mfs, "aside_budget_bytes"))
	require.GreaterOrEqual(t, value(t, mfs, "aside_month_projected_commands"), 300.0)
	require.EqualValues(t, 8, value(t, mfs, "aside_member_reads_total", "provider", "upstash", "result", "hit"))
	require.EqualValues(t, 4, value(t, mfs, "aside_member_reads_total", "provider", "memory", "role", "secondary", "result", "miss"))
	require.EqualValues(t, 0.05, value(t, mfs, "aside_member_call_seconds_total", "provider", "upstash"))
	_, ok := mfs["aside_provider_call_duration_seconds"]
	require.True(t, ok, "an instrumented member's histogram is found inside the composite")

	problems, err := testutil.CollectAndLint(col)
	require.NoError(t, err)
	require.Empty(t, problems)
}

// sharedMemory is a memory provider the Cache does not recognise as
// in-process (as if shared by several processes), so that it may have a
// near tier; its Broadcaster is the memory provider's in-process fan-out.
type sharedMemory struct{ *memory.Provider }

func TestCollectorExportsTheNearTier(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, aside.Options{Provider: sharedMemory{newMemory(t)}, Near: aside.Near{MaxBytes: 1 << 20, Lease: 50 * time.Millisecond}})
	require.Eventually(t, func() bool { return c.Stats().Near.Serving }, 5*time.Second, 5*time.Millisecond)
	load := func(context.Context) (string, error) { return "v", nil }
	for range 3 { // a load that fills the tier, then two near hits
		_, err := aside.Remember(ctx, c, "k", load)
		require.NoError(t, err)
	}
	mfs := gather(t, metrics.NewCollector(c, metrics.Options{}))
	require.EqualValues(t, 2, value(t, mfs, "aside_near_hits_total"))
	require.EqualValues(t, 1, value(t, mfs, "aside_near_misses_total"))
	require.EqualValues(t, 1, value(t, mfs, "aside_near_serving"))
	require.Positive(t, value(t, mfs, "aside_near_bytes"))

	plain := newCache(t, aside.Options{Provider: newMemory(t)})
	require.NotContains(t, gather(t, metrics.NewCollector(plain, metrics.Options{})), "aside_near_hits_total", "no tier, no near metrics")
}
