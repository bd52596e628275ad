package middleware

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aside-go/aside"
)

// AdminConfig configures the optional admin endpoints. Nothing is exposed
// unless the application registers them with RegisterAdmin.
type AdminConfig struct {
	// Cache is the cache to report on and invalidate. Required.
	Cache *aside.Cache
	// Token is the bearer token ("Authorization: Bearer <Token>") the
	// invalidation endpoint requires, compared in constant time. Empty
	// leaves the invalidation endpoint unregistered.
	Token string
	// ProtectReads makes stats and health require the token as well.
	ProtectReads bool
	// HealthTimeout bounds the provider ping of the health endpoint. Default 2s.
	HealthTimeout time.Duration
	// Routes, when set, adds its per-route counts to /stats and to the
	// status page's table (see RouteStats).
	Routes *RouteStats
}

// Routes is what RegisterAdmin needs of an *echo.Echo or *echo.Group.
type Routes interface {
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	POST(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// RegisterAdmin adds, under r (mount it on a group such as e.Group("/_cache")):
//
//	GET  /            the status page: a small self-contained HTML page (no external
//	                  assets) showing health, hit rate over time, routes, savings,
//	                  circuit, budget, and invalidation forms; it holds no data itself
//	GET  /stats       the Cache's Stats as JSON, with hit_rate, savings, history
//	                  (the health window step by step) and routes (with Routes)
//	GET  /health      the Cache's Health as JSON: 200 when ok or degraded, 503 when down
//	POST /invalidate  {"tags":["product:42"]}, {"urls":["https://shop.example/products/42"]}
//	                  and/or {"pattern":"mw:http://*/products*"} behind the bearer
//	                  token; only when Token is set
//
// /health answers 503 only when the store is unreachable (down). Degraded
// (a low hit rate, errors, a budget nearly spent) is 200 because requests
// are still served correctly: taking an instance out of rotation for it
// moves load without fixing anything. And down is the cache's verdict, not
// the app's: the cache fails open, so the app still serves, only slower.
// Wire /health into a readiness probe only if an instance without its store
// must not get traffic (every instance shares the store, so they would all
// leave together); never into a liveness probe (a restart does not bring
// a store back). Alert on it instead.
//
// The page asks for the token and sends it as "Authorization: Bearer" from
// memory; it never puts it in a cookie, in storage or in a URL. Responses
// say Cache-Control: no-store, and the page a strict Content-Security-Policy.
// Errors never include the token or provider addresses. Health is computed
// at most once a second, however often /health is asked.
func RegisterAdmin(r Routes, cfg AdminConfig) error {
	if cfg.Cache == nil {
		return fmt.Errorf("%w: AdminConfig.Cache is nil", ErrConfig)
	}
	if cfg.ProtectReads && cfg.Token == "" {
		return fmt.Errorf("%w: AdminConfig.ProtectReads needs a Token", ErrConfig)
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = 2 * time.Second
	}
	a := &admin{cfg: cfg}
	if cfg.Token != "" {
		sum := sha256.Sum256([]byte(cfg.Token))
		a.tokenSum = sum[:]
	}
	var reads []echo.MiddlewareFunc
	if cfg.ProtectReads {
		reads = append(reads, a.auth)
	}
	r.GET("", a.page)
	r.GET("/", a.page)
	r.GET("/status.js", asset("status/status.js", "text/javascript; charset=utf-8"))
	r.GET("/status.css", asset("status/status.css", "text/css; charset=utf-8"))
	r.GET("/stats", a.stats, reads...)
	r.GET("/health", a.health, reads...)
	if cfg.Token != "" {
		r.POST("/invalidate", a.invalidate, a.auth)
	}
	return nil
}

type admin struct {
	cfg      AdminConfig
	tokenSum []byte

	healthMu sync.Mutex
	last     aside.Health
	lastAt   time.Time
}

// auth checks the bearer token. Both sides are hashed first so that the
// comparison takes the same time whatever the lengths.
func (a *admin) auth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		got, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || subtle.ConstantTimeCompare(sum[:], a.tokenSum) != 1 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="aside"`)
			return noStoreJSON(c, http.StatusUnauthorized, map[string]string{"error": "a valid bearer token is required"})
		}
		return next(c)
	}
}

type statsJSON struct {
	aside.Stats
	HitRate float64          `json:"hit_rate"`
	Savings float64          `json:"savings"`
	History []aside.Interval `json:"history"`
	Routes  []routeJSON      `json:"routes,omitempty"`
	// Invalidation says whether POST /invalidate is served (a Token is set).
	Invalidation bool `json:"invalidation"`
}

type routeJSON struct {
	RouteCount
	HitRate float64 `json:"hit_rate"`
}

func (a *admin) stats(c echo.Context) error {
	s := a.cfg.Cache.Stats()
	out := statsJSON{Stats: s, HitRate: s.HitRate(), Savings: s.Savings(), History: a.cfg.Cache.History(), Invalidation: a.cfg.Token != ""}
	if a.cfg.Routes != nil {
		for _, rc := range a.cfg.Routes.Routes() {
			out.Routes = append(out.Routes, routeJSON{RouteCount: rc, HitRate: rc.HitRate()})
		}
	}
	return noStoreJSON(c, http.StatusOK, out)
}

// healthEvery is how often /health computes Health at most; in between it
// answers with the last one, so that probes and visitors cannot turn
// requests into pings of the store.
const healthEvery = time.Second

func (a *admin) health(c echo.Context) error {
	a.healthMu.Lock()
	if time.Since(a.lastAt) >= healthEvery {
		ctx, cancel := context.WithTimeout(c.Request().Context(), a.cfg.HealthTimeout)
		a.last, a.lastAt = a.cfg.Cache.Health(ctx), time.Now()
		cancel()
	}
	h := a.last
	a.healthMu.Unlock()
	status := http.StatusOK
	if h.Status == aside.HealthDown {
		status = http.StatusServiceUnavailable
	}
	return noStoreJSON(c, status, h)
}

type invalidateRequest struct {
	Tags    []string `json:"tags"`
	URLs    []string `json:"urls"` // stored responses of these URLs, through URITag
	Pattern string   `json:"pattern"`
}

func (a *admin) invalidate(c echo.Context) error {
	var in invalidateRequest
	dec := json.NewDecoder(http.MaxBytesReader(c.Response(), c.Request().Body, 64<<10))
	if err := dec.Decode(&in); err != nil || (len(in.Tags) == 0 && len(in.URLs) == 0 && in.Pattern == "") {
		return noStoreJSON(c, http.StatusBadRequest, map[string]string{"error": `want a JSON body {"tags":[...]}, {"urls":[...]} and/or {"pattern":"..."}`})
	}
	for _, u := range in.URLs {
		tag, err := URITag(u)
		if err != nil {
			return noStoreJSON(c, http.StatusBadRequest, map[string]string{"error": "every entry of urls must be an absolute URL"})
		}
		in.Tags = append(in.Tags, tag)
	}
	ctx := c.Request().Context()
	out := map[string]any{}
	if len(in.Tags) > 0 {
		if err := a.cfg.Cache.InvalidateTags(ctx, in.Tags...); err != nil {
			return noStoreJSON(c, statusFor(err), map[string]string{"error": "invalidating tags failed"})
		}
		out["invalidated_tags"] = len(in.Tags)
	}
	if in.Pattern != "" {
		n, err := a.cfg.Cache.InvalidatePattern(ctx, in.Pattern)
		if err != nil {
			return noStoreJSON(c, statusFor(err), map[string]any{"error": "invalidating the pattern failed", "deleted": n})
		}
		out["deleted"] = n
	}
	return noStoreJSON(c, http.StatusOK, out)
}

func statusFor(err error) int {
	switch {
	case errors.Is(err, aside.ErrInvalidKey), errors.Is(err, aside.ErrNotSupported):
		return http.StatusBadRequest
	}
	return http.StatusBadGateway
}

func noStoreJSON(c echo.Context, status int, v any) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, v)
}

// statusFiles are the status page: plain HTML, CSS and JavaScript, served
// as they are (no build step, nothing fetched from elsewhere).
//
//go:embed status
var statusFiles embed.FS

// pageSecurity are the headers of the page and its assets: nothing but this
// origin's own script, style and JSON, no framing, no referrer.
var pageSecurity = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'self'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Cache-Control":           "no-store",
}

func securePage(c echo.Context) {
	for k, v := range pageSecurity {
		c.Response().Header().Set(k, v)
	}
}

// page serves the status page, with a <base> naming the route it is
// mounted at, so that its relative URLs work with or without the trailing
// slash ("/_cache" and "/_cache/").
func (a *admin) page(c echo.Context) error {
	index, err := statusFiles.ReadFile("status/index.html")
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(c.Path(), "/") + "/"
	securePage(c)
	return c.HTMLBlob(http.StatusOK, []byte(strings.Replace(string(index), "{{BASE}}", html.EscapeString(base), 1)))
}

// asset serves one of the page's files.
func asset(name, contentType string) echo.HandlerFunc {
	return func(c echo.Context) error {
		b, err := statusFiles.ReadFile(name)
		if err != nil {
			return err
		}
		securePage(c)
		return c.Blob(http.StatusOK, contentType, b)
	}
}
