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
// concurrent use; counting a request costs a header read, a lock-free map
// lookup and an atomic add, and allocates nothing.
type RouteStats struct {
	// routes is read without a lock or an allocation on every request and
	// replaced by a copy under mu when a route is seen for the first time
	// (at most MaxRoutes+1 times).
	routes atomic.Pointer[map[string]*routeCounters]
	mu     sync.Mutex
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
	if m := s.routes.Load(); m != nil {
		if rc, ok := (*m)[route]; ok {
			return rc
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.routes.Load()
	if old != nil {
		if rc, ok := (*old)[route]; ok {
			return rc
		}
		if len(*old) >= MaxRoutes {
			if rc, ok := (*old)[OtherRoute]; ok {
				return rc
			}
			route = OtherRoute
		}
	}
	next := make(map[string]*routeCounters, 1)
	if old != nil {
		next = make(map[string]*routeCounters, len(*old)+1)
		for k, v := range *old {
			next[k] = v
		}
	}
	rc := new(routeCounters)
	next[route] = rc
	s.routes.Store(&next)
	return rc
}

// Routes returns the counts, sorted by route.
func (s *RouteStats) Routes() []RouteCount {
	m := s.routes.Load()
	if m == nil {
		return nil
	}
	out := make([]RouteCount, 0, len(*m))
	for route, rc := range *m {
		out = append(out, RouteCount{Route: route, Hits: rc.hits.Load(), Stale: rc.stale.Load(), Misses: rc.misses.Load(), Bypass: rc.bypass.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out
}
