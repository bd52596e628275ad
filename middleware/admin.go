package middleware

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
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
}

// Routes is what RegisterAdmin needs of an *echo.Echo or *echo.Group.
type Routes interface {
	GET(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
	POST(path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// RegisterAdmin adds, under r (mount it on a group such as e.Group("/_cache")):
//
//	GET  /stats       the Cache's Stats as JSON, with hit_rate and savings
//	GET  /health      200 {"status":"ok"} when the provider answers a ping, else 503
//	POST /invalidate  {"tags":["product:42"]}, {"urls":["https://shop.example/products/42"]}
//	                  and/or {"pattern":"mw:http://*/products*"} behind the bearer
//	                  token; only when Token is set
//
// Responses say Cache-Control: no-store. Errors never include the token or
// provider addresses.
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
	HitRate float64 `json:"hit_rate"`
	Savings float64 `json:"savings"`
}

func (a *admin) stats(c echo.Context) error {
	s := a.cfg.Cache.Stats()
	return noStoreJSON(c, http.StatusOK, statsJSON{Stats: s, HitRate: s.HitRate(), Savings: s.Savings()})
}

func (a *admin) health(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), a.cfg.HealthTimeout)
	defer cancel()
	if err := a.cfg.Cache.Ping(ctx); err != nil {
		return noStoreJSON(c, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
	}
	return noStoreJSON(c, http.StatusOK, map[string]string{"status": "ok"})
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
