// Package middleware is Echo response caching on an [aside.Cache]: repeat
// GET and HEAD requests are answered from the cache, under the HTTP caching
// rules of a shared cache (RFC 9111, RFC 5861 stale windows, RFC 9211
// Cache-Status), and never with one user's or an attacker's response.
//
// # Use
//
//	c, _ := aside.FromEnv()
//	e.Use(middleware.Cache(c)) // or per route: e.GET("/products", h, middleware.Cache(c))
//	e.GET("/products/:id", func(c echo.Context) error {
//		middleware.Tag(c, "product:"+c.Param("id"))
//		...
//	})
//	...
//	cache.InvalidateTags(ctx, "product:42") // after a write; clears Remember entries too
//
// [CacheWithConfig] takes a [CacheConfig] (Echo's Skipper-first pattern;
// every field's zero value works). Stored responses share the Cache's
// provider, tags, stats and redaction with aside.Remember; they live under
// keys starting with "mw:".
//
// # What is stored, and what is served
//
//   - GET is stored. HEAD is the GET it stands for, without content (RFC 9110
//     section 9.3.2): a fresh stored GET response answers it, and otherwise it
//     runs as a GET through the whole Echo (so a GET-only route answers HEAD
//     with 200, not 405, whatever the cache holds) and stores the response.
//     Other safe methods pass through.
//   - POST, PUT, PATCH, DELETE and unknown methods always reach the handler;
//     a 2xx or 3xx reply invalidates every variant stored for the target URI
//     and for a same-origin Location or Content-Location.
//   - Requests carrying Cookie bypass the cache unless the config declares
//     responses Public or keys them per user (KeyFunc); so do those carrying
//     Authorization, except with Public or in ReverseProxy mode, where their
//     responses are stored only when they say public, s-maxage or
//     must-revalidate (RFC 9111 section 3.5).
//   - Freshness (RFC 9111 section 4.2): a targeted field (CDN-Cache-Control,
//     RFC 9213, read in ReverseProxy mode or when configured) replaces
//     Cache-Control and Expires; otherwise s-maxage, then max-age, then
//     Expires minus Date (an invalid Expires means already expired). Without
//     any, the TTL — or, in ReverseProxy mode, at most a tenth of the time
//     since Last-Modified (capped), never an invented lifetime. The Age a
//     response arrives with (and the age its Date shows) counts against it;
//     hits carry the origin's Date and an Age of origin age plus time stored.
//   - Stale responses are kept KeepStale and revalidated with conditional
//     requests built from their validators; a 304 refreshes the stored
//     response (RFC 9111 section 4.3). Within its stale-while-revalidate
//     window a stale response is served while that happens in the
//     background; within stale-if-error it answers an origin failure (RFC
//     5861, the response's own directives or the config's windows, capped by
//     KeepStale); never for no-cache, must-revalidate or s-maxage.
//   - Not stored: request or response no-store (unless must-understand with
//     a known status), private, no-cache or stale responses without a
//     validator, Vary: *, Set-Cookie, 206, bodies over MaxBodySize, handler
//     errors other than *echo.HTTPError, streamed responses, and statuses
//     outside CacheConfig.StatusCodes unless the response has explicit
//     freshness (any final status then: RFC 9111 section 3).
//   - A response whose Vary names request headers beyond CacheConfig.Vary is
//     stored as one variant, found by those headers' normalised values
//     (bounded per URL). Range requests are answered from a stored complete
//     200 (206, or the whole response for ranges it does not serve); 1xx
//     responses (103 Early Hints) reach the client and are never stored.
//   - Every response has Cache-Status; 200s have an ETag (a weak one
//     generated from the body when the handler sets none) and answer
//     If-None-Match and If-Modified-Since with 304.
//   - Bodies are stored compressed (gzip by default) and sent as-is to
//     clients that accept the coding, decompressed for the others. A body the
//     handler encoded is never encoded again; in ReverseProxy mode a coding
//     the cache does not know is stored and replayed as it came.
//
// # The key, and attacks on it
//
// The key ([keys.AppendRequest]) is the scheme (from the connection, never
// X-Forwarded-Proto), host with port, the path exactly as Echo routes it
// (/a%2Fb is not /a/b, /account;x.css is not /account), the query as
// net/url parses it (canonical order; a query net/url rejects bypasses the
// cache), the CacheConfig.Vary headers, and — when present — the headers
// handlers may reflect without meaning to (X-Forwarded-Host, Forwarded...:
// CacheConfig.UnkeyedHeaders), so a reflected value only reaches requests
// that sent the same one. Requests with routing-rewrite headers
// (X-Original-URL, X-HTTP-Method-Override...) or a body bypass the cache.
// No extension or path suffix ever makes a response cacheable, so cache
// deception (/account/x.css) finds nothing to exploit.
//
// # Concurrency and the handler
//
// Concurrent misses of one key run the handler once (aside.Remember's
// stampede protection). The handler then runs on a goroutine of the Cache,
// with the request's context replaced by the load's context (one client
// leaving does not cancel the others), writing into a buffer; each request
// then writes the stored response to its own writer. A response that may not
// be stored is never handed to another request: those requests run the
// handler themselves. The request whose Context the handler uses waits for
// it before returning, so Echo never recycles a Context in use.
//
// A response that streams (Flush, Hijack, 101, text/event-stream, or a body
// over MaxBodySize) switches to pass-through to its own client: it is never
// stored or shared. Requests announcing a stream (Upgrade, Accept:
// text/event-stream) bypass the cache up front.
//
// A stale-while-revalidate refresh that outlives its request runs the
// handler on a fresh echo.Context holding the request, route path and
// params — but not values earlier middleware set with c.Set.
//
// All functions are safe for concurrent use.
//
// # What it does not do
//
// It does not obey request cache directives (client Cache-Control: no-cache
// or max-age=0 are ignored, as Varnish does, so clients cannot bust the
// cache), store partial (206) responses, read Surrogate-Control, or store
// responses with Set-Cookie or serve requests with Cookie unless told to
// (deliberate safety choices). The "stored" Cache-Status parameter means
// the response was storable and handed to the Cache; the Cache may still
// decline to write it (an invalidation of one of its tags during the load).
package middleware
