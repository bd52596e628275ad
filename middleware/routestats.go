package middleware

import (
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"
)

// MaxRoutes bounds the routes a RouteStats counts apart; requests of any
// further route are counted under OtherRoute.
const MaxRoutes = 1000

// OtherRoute is the route name of requests past MaxRoutes, and of requests
// Echo matched to no route.
const OtherRoute = "(other)"

// RouteStats counts, per Echo route, how the response cache answered GET
// and HEAD requests, from the Cache-Status header it sets: served from the
// cache (fresh or stale), a miss that ran the handler, or a bypass. The
// route is the path Echo routed by (c.Path(), "/products/:id"), never the
// URL, so the counts stay few whatever the traffic.
//
// The zero value is ready. Put its Count method in front of the cache
// middleware (outside it, so it sees the header once the cache has set it):
//
//	var routes middleware.RouteStats
//	g := e.Group("", routes.Count, middleware.Cache(c))
//
// and hand it to AdminConfig.Routes (the status page's per-route table) and
// to package metrics (aside_route_requests_total). All methods are safe for
// concurrent use; counting a request costs a header read, a map lookup and
// an atomic add.
type RouteStats struct {
	m sync.Map // route -> *routeCounters
	n atomic.Int64
}

type routeCounters struct {
	hits, stale, misses, bypass atomic.Int64
}

// RouteCount is what RouteStats counted for one route.
type RouteCount struct {
	Route string `json:"route"`
	// Hits were served fresh from the cache.
	Hits int64 `json:"hits"`
	// Stale were served from the cache past their freshness: while
	// revalidating, or standing in for a failing handler.
	Stale int64 `json:"stale"`
	// Misses ran the handler (or waited for another request's run).
	Misses int64 `json:"misses"`
	// Bypass went around the cache: cookies, Authorization, no-store,
	// uncacheable routes, or a request the cache middleware did not see.
	Bypass int64 `json:"bypass"`
}

// HitRate is (Hits + Stale) / (Hits + Stale + Misses), or 0 without such
// requests; bypasses are not cache reads.
func (r RouteCount) HitRate() float64 {
	served := r.Hits + r.Stale
	if served+r.Misses == 0 {
		return 0
	}
	return float64(served) / float64(served+r.Misses)
}

// Count is an Echo middleware that counts each GET and HEAD request under
// its route once the handlers inside it have run.
func (s *RouteStats) Count(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := next(c)
		if m := c.Request().Method; m == http.MethodGet || m == http.MethodHead {
			s.add(c.Path(), c.Response().Header().Get("Cache-Status"))
		}
		return err
	}
}

func (s *RouteStats) add(route, status string) {
	rc := s.counters(route)
	switch {
	case !strings.HasPrefix(status, "aside;"):
		rc.bypass.Add(1)
	case strings.Contains(status, "; hit"):
		if strings.Contains(status, "ttl=-") {
			rc.stale.Add(1)
		} else {
			rc.hits.Add(1)
		}
	case strings.Contains(status, "detail=stale-if-error"):
		rc.stale.Add(1)
	case strings.Contains(status, "fwd=miss"):
		rc.misses.Add(1)
	default: // fwd=bypass, fwd=request (no-store), fwd=method
		rc.bypass.Add(1)
	}
}

func (s *RouteStats) counters(route string) *routeCounters {
	if route == "" {
		route = OtherRoute
	}
	if rc, ok := s.m.Load(route); ok {
		return rc.(*routeCounters)
	}
	if s.n.Load() >= MaxRoutes {
		route = OtherRoute
	}
	rc, loaded := s.m.LoadOrStore(route, new(routeCounters))
	if !loaded {
		s.n.Add(1)
	}
	return rc.(*routeCounters)
}

// Routes returns the counts, sorted by route.
func (s *RouteStats) Routes() []RouteCount {
	var out []RouteCount
	s.m.Range(func(k, v any) bool {
		rc := v.(*routeCounters)
		out = append(out, RouteCount{Route: k.(string), Hits: rc.hits.Load(), Stale: rc.stale.Load(), Misses: rc.misses.Load(), Bypass: rc.bypass.Load()})
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out
}
