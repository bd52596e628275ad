package middleware

import (
	"fmt"
	"net/textproto"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/codec"
	"github.com/aside-go/aside/keys"
)

// Defaults used when a CacheConfig field is zero.
const (
	// DefaultMaxBodySize bounds the body of a response that may be stored;
	// a larger one is streamed to its client and not stored.
	DefaultMaxBodySize = 1 << 20
	// DefaultMinCompressSize is the body size below which a body is stored
	// as it is: compressing a few hundred bytes saves little and costs every
	// identity client a decompression.
	DefaultMinCompressSize = 256
	// DefaultKeepStale is how long, in ReverseProxy mode, a response stays
	// stored past its freshness to be revalidated with a conditional request.
	DefaultKeepStale = time.Hour
	// DefaultHeuristicMaxAge caps the heuristic freshness (a tenth of the
	// time since Last-Modified) of a response without explicit freshness in
	// ReverseProxy mode.
	DefaultHeuristicMaxAge = 24 * time.Hour
)

// DefaultTargetedCacheControl are the targeted cache-control fields read in
// ReverseProxy mode, most specific first: CDN-Cache-Control (RFC 9213), then
// Surrogate-Control (the Edge Architecture Specification), whose directives
// may target devices: this cache announces itself to the origin with
// Surrogate-Capability: aside="Surrogate/1.0" and obeys the directives
// targeted at "aside" or at no device.
var DefaultTargetedCacheControl = []string{"CDN-Cache-Control", "Surrogate-Control"}

// DefaultStatusCodes are the status codes stored by default: those RFC 9110
// section 15.1 calls heuristically cacheable.
var DefaultStatusCodes = []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}

// CacheConfig configures the response cache. Only Cache is required; every
// other field has a working zero value.
type CacheConfig struct {
	// Skipper skips the middleware for a request: the handler runs and
	// nothing is read or stored. Default: never skip.
	Skipper func(c echo.Context) bool

	// Cache stores the responses; it shares providers, tags, redaction and
	// stats with Remember. Required.
	Cache *aside.Cache

	// ReverseProxy makes the middleware a shared cache in front of an origin
	// that speaks HTTP caching (an httputil.ReverseProxy, say), as RFC 9111
	// asks of one: a response without explicit freshness (Cache-Control
	// s-maxage or max-age, Expires, a targeted field) is not given TTL but
	// at most the RFC's heuristic freshness — a tenth of the time since its
	// Last-Modified, capped by HeuristicMaxAge — and only for a heuristically
	// cacheable status (StatusCodes) or a response marked public; without
	// Last-Modified it is not stored. It also reads TargetedCacheControl
	// (CDN-Cache-Control) by default, keeps stale responses KeepStale
	// (DefaultKeepStale) for conditional revalidation, and lets requests
	// carrying Authorization through to the cache under RFC 9111 section
	// 3.5 (their responses are stored only when public, s-maxage or
	// must-revalidate). Requests carrying Cookie still bypass the cache and
	// responses with Set-Cookie are still never stored. Default false: an
	// application's own handlers, whose responses without a lifetime get
	// TTL.
	ReverseProxy bool

	// TTL is how long a stored response stays fresh when the origin names no
	// lifetime (not in ReverseProxy mode). Default: the Cache's DefaultTTL.
	TTL time.Duration
	// HeuristicMaxAge caps heuristic freshness in ReverseProxy mode.
	// Default DefaultHeuristicMaxAge (24h).
	HeuristicMaxAge time.Duration
	// KeepStale is how long a response stays stored past its freshness so
	// that it can be revalidated with a conditional request (If-None-Match,
	// If-Modified-Since from its validators: a 304 refreshes it without a
	// body) and served within its stale-while-revalidate and stale-if-error
	// windows; it also caps the windows a response asks for with those
	// Cache-Control directives (RFC 5861). Default: DefaultKeepStale (1h) in
	// ReverseProxy mode, otherwise the longest StaleWhileRevalidate or
	// StaleIfError configured here or in Routes (no extra storage unless a
	// window asks for it).
	KeepStale time.Duration
	// TargetedCacheControl names the targeted cache-control fields (RFC
	// 9213) this cache obeys, most specific first: the first one present
	// with a valid value replaces Cache-Control and Expires for this cache.
	// Default: DefaultTargetedCacheControl (CDN-Cache-Control, then
	// Surrogate-Control) in ReverseProxy mode, none otherwise.
	TargetedCacheControl []string
	// IgnoreOriginLifetime makes every stored response live TTL, ignoring
	// the response's Cache-Control s-maxage and max-age and its Expires,
	// which otherwise set the lifetime (s-maxage first). private, no-store,
	// no-cache and Vary are honoured whatever this says. Default false.
	IgnoreOriginLifetime bool
	// StaleWhileRevalidate is the window after freshness during which a
	// stored response is served while one background refresh (a conditional
	// one when it has validators) runs (RFC 5861), for responses that name
	// no stale-while-revalidate of their own. Default: the Cache's
	// (aside.Options.StaleWhileRevalidate).
	StaleWhileRevalidate time.Duration
	// StaleIfError is the window after freshness during which a stored
	// response answers a handler that fails with an error or a
	// 500/502/503/504 (RFC 5861), for responses that name no stale-if-error
	// of their own. Default: the Cache's. Neither window applies to a
	// response saying no-cache, must-revalidate, proxy-revalidate or
	// s-maxage (RFC 9111 section 4.2.4).
	StaleIfError time.Duration
	// Tags are attached to every stored response, for InvalidateTags.
	// Handlers add more per request with [Tag].
	Tags []string

	// Routes overrides TTL, windows and tags per route, keyed by the route
	// path Echo reports (c.Path(), e.g. "/products/:id").
	Routes map[string]Route

	// KeyFunc returns what, besides the request URL and the Vary headers,
	// distinguishes one response from another — typically the signed-in
	// user's ID. When set, requests carrying Cookie are cached, each key
	// apart. An error bypasses the cache for that request.
	KeyFunc func(c echo.Context) (string, error)
	// Public declares that responses do not depend on cookies: requests
	// carrying Cookie are served from and stored in the shared cache
	// (Varnish's default is to bypass them, and so is this middleware's).
	// Requests carrying Authorization are served, but their responses are
	// stored only when they say public, s-maxage or must-revalidate (RFC
	// 9111 section 3.5; ReverseProxy mode does the same for Authorization).
	Public bool

	// Vary names the request headers that select a variant of every
	// response (Accept-Language, X-Tenant...); their values are part of the
	// key. A response whose own Vary names other headers is stored as one
	// variant, found by those headers' normalised values in later requests
	// (at most 8 headers and 32 variants per URL and process); Accept-Encoding
	// is negotiated by the cache itself, and Vary: * is never stored.
	Vary []string
	// IgnoreQuery names query parameters left out of the key (utm_source...).
	IgnoreQuery []string
	// UnkeyedHeaders are request headers a handler might reflect into a
	// response (X-Forwarded-Host...) but that are not part of a normal
	// request: when present their values join the key, so a reflected value
	// only ever reaches requests that sent the same one. Default:
	// DefaultUnkeyedHeaders.
	UnkeyedHeaders []string
	// BypassHeaders are request headers whose mere presence bypasses the
	// cache (they rewrite routing or the method in some stacks). Default:
	// DefaultBypassHeaders.
	BypassHeaders []string

	// StatusCodes are the status codes stored without explicit freshness
	// (with TTL, or heuristic freshness in ReverseProxy mode). A response
	// with explicit freshness is stored whatever its final status (RFC 9111
	// section 3), except a 5xx that stale-if-error answers instead, and a
	// status the cache does not know when it says must-understand.
	// Default: DefaultStatusCodes.
	StatusCodes []int
	// MaxBodySize is the largest body stored; a larger response streams to
	// its client uncached. Default DefaultMaxBodySize (1 MiB).
	MaxBodySize int

	// Compression is the content coding bodies are stored in and sent as-is
	// to clients that accept it: "gzip" (default: every client accepts it),
	// "zstd" (cheaper to decompress for the clients that do not), or "none".
	Compression string
	// CompressionLevel is passed to codec.AppendCompressed; 0 is the
	// algorithm's default.
	CompressionLevel int
	// MinCompressSize: bodies smaller than this are stored uncompressed.
	// Default DefaultMinCompressSize.
	MinCompressSize int

	// RedactForLoader, when true, sends the client whose request ran the
	// handler the handler's own body, while the stored (and later served)
	// JSON body is redacted. Default false: that client gets the same
	// redacted body every later hit gets.
	RedactForLoader bool

	// KeepOnUnsafe turns off invalidation by unsafe methods. By default a
	// 2xx or 3xx reply to POST, PUT, PATCH or DELETE invalidates the stored
	// responses (every variant) for the target URI and for a same-origin
	// Location and Content-Location.
	KeepOnUnsafe bool
}

// Route overrides CacheConfig for one route.
type Route struct {
	// Disable bypasses the cache for this route.
	Disable bool
	// TTL, StaleWhileRevalidate and StaleIfError replace the config's when
	// not zero.
	TTL                  time.Duration
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	// Tags are added to the config's Tags.
	Tags []string
}

// DefaultUnkeyedHeaders are the request headers keyed when present; see
// CacheConfig.UnkeyedHeaders.
var DefaultUnkeyedHeaders = []string{
	"Forwarded", "X-Forwarded-Host", "X-Forwarded-Port", "X-Forwarded-Prefix",
	"X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Forwarded-Server", "X-Host",
	"X-Forwarded-Ssl", "Front-End-Https", "X-Url-Scheme",
}

// DefaultBypassHeaders are the request headers that bypass the cache; see
// CacheConfig.BypassHeaders.
var DefaultBypassHeaders = []string{
	"X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Http-Method",
	"X-Method-Override",
}

// Cache returns the response cache middleware with CacheConfig defaults.
func Cache(c *aside.Cache) echo.MiddlewareFunc {
	return CacheWithConfig(CacheConfig{Cache: c})
}

// CacheWithConfig returns the response cache middleware configured by cfg.
// Like Echo's own XWithConfig functions it panics on a config error (a nil
// Cache, a negative size or duration, an unsupported Compression).
func CacheWithConfig(cfg CacheConfig) echo.MiddlewareFunc {
	m, err := newCacher(cfg)
	if err != nil {
		panic(err)
	}
	return m.middleware
}

// route is a Route with its Remember options built once.
type route struct {
	disabled bool
	ttl      time.Duration
	swr, sie time.Duration // the configured windows (0: the Cache's)
	tags     []string
	opts     []aside.Option // TTL, the stored-stale window and static tags
	sieOpts  []aside.Option // for a synchronous revalidation: TTL, the same retention, static tags
}

// cacher is a CacheConfig with its defaults filled and its derived values
// computed once.
type cacher struct {
	cfg          CacheConfig
	skip         func(echo.Context) bool
	honorOrigin  bool
	invalidate   bool
	proxy        bool
	keepStale    time.Duration
	heuristicMax time.Duration
	targets      []string // canonical
	surrogate    bool     // Surrogate-Control is a target: announce Surrogate-Capability
	variants     variantCounts
	statuses     [600]bool
	vary         []string // canonical, sorted
	keyOpts      keys.RequestOptions
	unkeyed      []string   // canonical, minus those in vary
	unkeyedOne   [][]string // unkeyed[i] alone, for keys.AppendHeaders
	bypass       []string   // canonical
	def          *route
	routes       map[string]*route
	alg          codec.Algorithm
	enc          uint8 // stored body encoding for identity bodies
	parsed       parsedCache
}

func newCacher(cfg CacheConfig) (*cacher, error) {
	if cfg.Cache == nil {
		return nil, fmt.Errorf("%w: CacheConfig.Cache is nil", ErrConfig)
	}
	switch {
	case cfg.TTL < 0:
		return nil, fmt.Errorf("%w: TTL is negative (use 0 for the Cache's default)", ErrConfig)
	case cfg.StaleWhileRevalidate < 0 || cfg.StaleIfError < 0:
		return nil, fmt.Errorf("%w: StaleWhileRevalidate and StaleIfError must not be negative", ErrConfig)
	case cfg.KeepStale < 0 || cfg.HeuristicMaxAge < 0:
		return nil, fmt.Errorf("%w: KeepStale and HeuristicMaxAge must not be negative", ErrConfig)
	case cfg.MaxBodySize < 0:
		return nil, fmt.Errorf("%w: MaxBodySize is negative", ErrConfig)
	case cfg.MinCompressSize < 0:
		return nil, fmt.Errorf("%w: MinCompressSize is negative", ErrConfig)
	}
	m := &cacher{cfg: cfg, skip: cfg.Skipper, honorOrigin: !cfg.IgnoreOriginLifetime, invalidate: !cfg.KeepOnUnsafe, proxy: cfg.ReverseProxy}
	m.heuristicMax = orDur(cfg.HeuristicMaxAge, DefaultHeuristicMaxAge)
	cfg.StaleWhileRevalidate = orDur(cfg.StaleWhileRevalidate, cfg.Cache.StaleWhileRevalidate())
	cfg.StaleIfError = orDur(cfg.StaleIfError, cfg.Cache.StaleIfError())
	m.cfg = cfg
	m.keepStale = cfg.KeepStale
	if m.keepStale == 0 {
		if m.proxy {
			m.keepStale = DefaultKeepStale
		}
		m.keepStale = max(m.keepStale, cfg.StaleWhileRevalidate, cfg.StaleIfError)
		for _, r := range cfg.Routes {
			m.keepStale = max(m.keepStale, r.StaleWhileRevalidate, r.StaleIfError)
		}
	}
	targets := cfg.TargetedCacheControl
	if targets == nil && m.proxy {
		targets = DefaultTargetedCacheControl
	}
	for _, t := range targets {
		t = textproto.CanonicalMIMEHeaderKey(t)
		m.targets = append(m.targets, t)
		m.surrogate = m.surrogate || t == surrogateControl
	}
	if m.skip == nil {
		m.skip = func(echo.Context) bool { return false }
	}
	if m.cfg.MaxBodySize == 0 {
		m.cfg.MaxBodySize = DefaultMaxBodySize
	}
	if m.cfg.MinCompressSize == 0 {
		m.cfg.MinCompressSize = DefaultMinCompressSize
	}
	codes := cfg.StatusCodes
	if len(codes) == 0 {
		codes = DefaultStatusCodes
	}
	for _, s := range codes {
		if s < 100 || s > 599 {
			return nil, fmt.Errorf("%w: StatusCodes holds %d, not an HTTP status", ErrConfig, s)
		}
		m.statuses[s] = true
	}
	alg := codec.Gzip
	if cfg.Compression != "" {
		var err error
		if alg, err = codec.ParseAlgorithm(cfg.Compression); err != nil || alg == codec.S2 {
			return nil, fmt.Errorf("%w: Compression %q: want gzip, zstd or none (s2 has no HTTP content coding)", ErrConfig, cfg.Compression)
		}
	}
	m.alg = alg
	switch alg {
	case codec.Gzip:
		m.enc = encGzip
	case codec.Zstd:
		m.enc = encZstd
	default:
		m.enc = encIdentity
	}
	if _, err := codec.AppendCompressed(nil, []byte("probe"), alg, cfg.CompressionLevel); err != nil {
		return nil, fmt.Errorf("%w: CompressionLevel: %w", ErrConfig, err)
	}
	m.vary = canonical(cfg.Vary)
	unkeyed := cfg.UnkeyedHeaders
	if unkeyed == nil {
		unkeyed = DefaultUnkeyedHeaders
	}
	for _, name := range canonical(unkeyed) {
		if !slices.Contains(m.vary, name) {
			m.unkeyed = append(m.unkeyed, name)
			m.unkeyedOne = append(m.unkeyedOne, []string{name})
		}
	}
	bypass := cfg.BypassHeaders
	if bypass == nil {
		bypass = DefaultBypassHeaders
	}
	m.bypass = canonical(bypass)
	m.keyOpts = keys.RequestOptions{IgnoreQuery: cfg.IgnoreQuery, Headers: m.vary}

	var err error
	if m.def, err = m.buildRoute(Route{}); err != nil {
		return nil, err
	}
	m.routes = make(map[string]*route, len(cfg.Routes))
	for path, r := range cfg.Routes {
		if m.routes[path], err = m.buildRoute(r); err != nil {
			return nil, fmt.Errorf("%w (route %q)", err, path)
		}
	}
	return m, nil
}

func (m *cacher) buildRoute(r Route) (*route, error) {
	if r.TTL < 0 || r.StaleWhileRevalidate < 0 || r.StaleIfError < 0 {
		return nil, fmt.Errorf("%w: Route durations must not be negative", ErrConfig)
	}
	rt := &route{disabled: r.Disable, ttl: orDur(r.TTL, m.cfg.TTL)}
	if rt.ttl > 0 {
		rt.opts = append(rt.opts, aside.TTL(rt.ttl))
	}
	rt.swr = min(orDur(r.StaleWhileRevalidate, m.cfg.StaleWhileRevalidate), m.keepStale)
	rt.sie = min(orDur(r.StaleIfError, m.cfg.StaleIfError), m.keepStale)
	rt.sieOpts = slices.Clone(rt.opts)
	if m.keepStale > 0 {
		// Entries are kept (and read back, stale) keepStale past freshness;
		// the middleware itself decides, per entry, whether a stale one may
		// be served (its windows) or must be revalidated first. The Cache's
		// own windows apply only when nothing here asks for any.
		rt.opts = append(rt.opts, aside.StaleWhileRevalidate(m.keepStale), aside.StaleIfError(0))
	}
	// A synchronous revalidation must load (no stale answer from the Cache)
	// and store with the same retention.
	rt.sieOpts = append(rt.sieOpts, aside.StaleWhileRevalidate(0), aside.StaleIfError(m.keepStale))
	for _, t := range append(slices.Clone(m.cfg.Tags), r.Tags...) {
		if t == "" {
			return nil, fmt.Errorf("%w: empty tag", ErrConfig)
		}
		if !slices.Contains(rt.tags, t) {
			rt.tags = append(rt.tags, t)
		}
	}
	return rt, nil
}

func orDur(d, def time.Duration) time.Duration {
	if d != 0 {
		return d
	}
	return def
}

func canonical(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = textproto.CanonicalMIMEHeaderKey(n)
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func (m *cacher) routeFor(c echo.Context) *route {
	if len(m.routes) > 0 {
		if r, ok := m.routes[c.Path()]; ok {
			return r
		}
	}
	return m.def
}

// cacheableStatus reports whether status may be stored.
func (m *cacher) cacheableStatus(status int) bool {
	return status >= 100 && status < len(m.statuses) && m.statuses[status]
}
