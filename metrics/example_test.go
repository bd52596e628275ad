package metrics_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/metrics"
	"github.com/aside-go/aside/provider/memory"
)

func Example() {
	mo := metrics.Options{Cache: "shop"}
	store, _ := memory.New(memory.Options{})
	c, _ := aside.New(aside.Options{
		Provider: metrics.Instrument(store, mo), // optional: latency histograms
		Breaker:  aside.Breaker{Disabled: true}, // the in-process store never fails
	})
	defer c.Close()

	ctx := context.Background()
	for range 3 {
		_, _ = aside.Remember(ctx, c, "user:42", func(context.Context) (string, error) { return "Ada", nil })
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(c, mo))
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "aside_hits_total") || strings.HasPrefix(line, "aside_misses_total") ||
			strings.HasPrefix(line, `aside_provider_call_duration_seconds_count{cache="shop",op="get"`) {
			fmt.Println(line)
		}
	}
	// Output:
	// aside_hits_total{cache="shop"} 2
	// aside_misses_total{cache="shop"} 1
	// aside_provider_call_duration_seconds_count{cache="shop",op="get",provider="memory"} 3
}
