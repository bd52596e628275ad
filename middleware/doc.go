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
//   - Only GET is stored; HEAD is answered from a GET entry (a HEAD miss runs
//     the handler and stores nothing). Other safe methods pass through.
//   - POST, PUT, PATCH and DELETE always reach the handler; a 2xx or 3xx
//     reply invalidates every variant stored for the target URI and for a
//     same-origin Location or Content-Location.
//   - Requests carrying Cookie or Authorization bypass the cache unless the
//     config declares responses Public or keys them per user (KeyFunc).
//     Responses to Authorization requests are stored only when they say
//     public, s-maxage or must-revalidate.
//   - Not stored: request or response no-store, response private or
//     no-cache, Vary: * or Vary on a header outside CacheConfig.Vary,
//     Set-Cookie, statuses outside CacheConfig.StatusCodes, bodies over
//     MaxBodySize, content codings other than gzip and zstd, handler errors
//     other than *echo.HTTPError, streamed responses.
//   - Freshness: s-maxage, then max-age, then Expires, then the TTL. Every
//     response has Cache-Status; hits have Age; 200s have an ETag (a weak
//     one generated from the body when the handler sets none) and answer
//     If-None-Match and If-Modified-Since with 304.
//   - Bodies are stored compressed (gzip by default) and sent as-is to
//     clients that accept the coding, decompressed for the others. A body the
//     handler encoded is never encoded again.
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
// It does not cache request no-cache forcing (client Cache-Control:
// no-cache is ignored, as Varnish does, so clients cannot bust the cache),
// revalidate stale entries with conditional requests to the handler, store
// partial (206) responses, or vary on headers it was not told about. The
// "stored" Cache-Status parameter means the response was storable and
// handed to the Cache; the Cache may still decline to write it (an
// invalidation of one of its tags during the load).
package middleware
