// Command example is an Echo shop API cached by aside: a cached product list
// and product pages tagged per product, a write route that invalidates them,
// a Remember-backed route, and the cache's operations: a status page on
// /_cache/, health on /_cache/health, stats on /_cache/stats and Prometheus
// metrics on /metrics. Run it with
//
//	go run ./example                     # in-memory cache, on 127.0.0.1:8080
//	CACHE_PROVIDER=redis REDIS_URL=redis://127.0.0.1:6379/0 go run ./example
//
// ADDR changes the listen address, ADMIN_TOKEN turns on
// POST /_cache/invalidate (and the status page's buttons), and LOG_LEVEL=debug
// logs one line per cache operation. Alerts (a low hit rate, provider errors,
// the circuit opening, a budget share) are printed on standard error. The
// README shows the curl commands and what you will see.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/metrics"
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/provider/memory"
)

// cacheName is the cache label of the metrics.
const cacheName = "shop"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run() error {
	o, err := aside.OptionsFromEnv(nil)
	if err != nil {
		return err
	}
	if o.Provider == nil {
		// The default in-memory store, built here so that its calls can be
		// timed; it never fails, so it needs no circuit breaker.
		mp, err := memory.New(memory.Options{MaxBytes: o.MemoryMaxBytes})
		if err != nil {
			return err
		}
		o.Provider, o.Breaker.Disabled = mp, true
	}
	o.Provider = metrics.Instrument(o.Provider, metrics.Options{Cache: cacheName})
	o.OnAlert = func(a aside.Alert) {
		state := "resolved"
		if a.Firing {
			state = "FIRING"
		}
		fmt.Fprintf(os.Stderr, "example: cache alert %s %s: %s\n", a.Kind, state, a.Message)
	}
	c, err := aside.New(o)
	if err != nil {
		return err
	}
	defer c.Close()
	e, err := newServer(c, newShop(), os.Getenv("ADMIN_TOKEN"))
	if err != nil {
		return err
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = e.Shutdown(shutdown)
	}()
	// Bind first, so that "listening" is only printed once it is true (a
	// port already taken fails here, before the message).
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	e.Listener = ln
	fmt.Fprintf(os.Stderr, "example: listening on http://%s (try curl -i http://%s/products; status page: http://%s/_cache/)\n", ln.Addr(), ln.Addr(), ln.Addr())
	if err := e.Start(""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Product is what the shop sells.
type Product struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Price float64 `json:"price"`
}

// Summary is computed per user from slow queries, cached with Remember.
type Summary struct {
	UserID   int    `json:"user_id"`
	Orders   int    `json:"orders"`
	Favorite string `json:"favorite"`
}

// shop is the "database": slow on purpose, so that hits are visible.
type shop struct {
	mu       sync.RWMutex
	products map[int]Product
	delay    time.Duration
}

func newShop() *shop {
	return &shop{delay: 50 * time.Millisecond, products: map[int]Product{
		1: {1, "Kettle", 39.90}, 2: {2, "Teapot", 24.50}, 3: {3, "Cup", 7.25},
	}}
}

func (s *shop) list(ctx context.Context) ([]Product, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Product, 0, len(s.products))
	for _, p := range s.products {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (s *shop) get(ctx context.Context, id int) (Product, bool, error) {
	if err := s.wait(ctx); err != nil {
		return Product{}, false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.products[id]
	return p, ok, nil
}

func (s *shop) put(p Product) {
	s.mu.Lock()
	s.products[p.ID] = p
	s.mu.Unlock()
}

func (s *shop) wait(ctx context.Context) error {
	select {
	case <-time.After(s.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newServer wires the routes; adminToken "" leaves invalidation over HTTP off.
func newServer(c *aside.Cache, s *shop, adminToken string) (*echo.Echo, error) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true

	// Per-route hit and miss counts, for the status page and /metrics: in
	// front of the cache middleware, so that it sees what the cache did.
	routes := &middleware.RouteStats{}
	cached := e.Group("", routes.Count, middleware.CacheWithConfig(middleware.CacheConfig{
		Cache:                c,
		TTL:                  5 * time.Minute,
		StaleWhileRevalidate: time.Minute,
		StaleIfError:         time.Hour,
		Vary:                 []string{"Accept-Language"},
		IgnoreQuery:          []string{"utm_source", "utm_medium", "utm_campaign"},
		Routes: map[string]middleware.Route{
			"/products": {TTL: time.Minute, Tags: []string{"products"}},
		},
	}))

	cached.GET("/products", func(ec echo.Context) error {
		ps, err := s.list(ec.Request().Context())
		if err != nil {
			return err
		}
		return ec.JSON(http.StatusOK, ps)
	})
	cached.GET("/products/:id", func(ec echo.Context) error {
		id, err := strconv.Atoi(ec.Param("id"))
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "id must be a number")
		}
		// Tag before reading: an invalidation racing the read keeps the
		// result out of the cache.
		if err := middleware.Tag(ec, "product:"+ec.Param("id")); err != nil {
			return err
		}
		p, ok, err := s.get(ec.Request().Context(), id)
		switch {
		case err != nil:
			return err
		case !ok:
			return echo.NewHTTPError(http.StatusNotFound, "no such product") // 404s are cached too
		}
		return ec.JSON(http.StatusOK, p)
	})
	// Writes reach the handler; the middleware invalidates the target URI,
	// and the handler invalidates the tags of every page that shows the product.
	cached.PUT("/products/:id", func(ec echo.Context) error {
		id, err := strconv.Atoi(ec.Param("id"))
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "id must be a number")
		}
		var p Product
		if err := ec.Bind(&p); err != nil {
			return err
		}
		p.ID = id
		s.put(p)
		if err := c.InvalidateTags(ec.Request().Context(), "product:"+ec.Param("id"), "products"); err != nil {
			return err
		}
		return ec.JSON(http.StatusOK, p)
	})

	// Remember-backed: the value, not the response, is cached.
	e.GET("/users/:id/summary", func(ec echo.Context) error {
		id, err := strconv.Atoi(ec.Param("id"))
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "id must be a number")
		}
		start := time.Now()
		sum, err := aside.Remember(ec.Request().Context(), c, "user:"+ec.Param("id")+":summary",
			func(ctx context.Context) (Summary, error) {
				if err := s.wait(ctx); err != nil {
					return Summary{}, err
				}
				return Summary{UserID: id, Orders: 3 + id%5, Favorite: "Teapot"}, nil
			}, aside.TTL(10*time.Minute), aside.Tags("user:"+ec.Param("id")))
		if err != nil {
			return err
		}
		ec.Response().Header().Set("Server-Timing", fmt.Sprintf("remember;dur=%.1f", float64(time.Since(start).Microseconds())/1000))
		return ec.JSON(http.StatusOK, sum)
	})

	// /_cache/ (the status page), /_cache/stats, /_cache/health and, with a
	// token, POST /_cache/invalidate.
	if err := middleware.RegisterAdmin(e.Group("/_cache"), middleware.AdminConfig{Cache: c, Token: adminToken, Routes: routes}); err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		metrics.NewCollector(c, metrics.Options{Cache: cacheName, Routes: routes}),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
	return e, nil
}
