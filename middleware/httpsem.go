package middleware

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cacheControl is what this cache reads from a Cache-Control header.
type cacheControl struct {
	noStore, noCache, private, public, mustRevalidate bool
	maxAge, sMaxAge                                   int64 // seconds; -1 when absent
}

// parseCacheControl reads every Cache-Control line of h. Directive names are
// case-insensitive; a malformed max-age counts as 0 (RFC 9111 section
// 4.2.1: treat an invalid freshness as stale), and private or no-cache with
// a field list count as the unqualified directive (stricter, never wrong).
func parseCacheControl(lines []string) cacheControl {
	cc := cacheControl{maxAge: -1, sMaxAge: -1}
	for _, line := range lines {
		for line != "" {
			var d string
			d, line, _ = cutDirective(line)
			d = strings.TrimSpace(d)
			if d == "" {
				continue
			}
			name, val, _ := strings.Cut(d, "=")
			name = strings.TrimSpace(name)
			val = strings.Trim(strings.TrimSpace(val), `"`)
			switch strings.ToLower(name) {
			case "no-store":
				cc.noStore = true
			case "no-cache":
				cc.noCache = true
			case "private":
				cc.private = true
			case "public":
				cc.public = true
			case "must-revalidate", "proxy-revalidate":
				cc.mustRevalidate = true
			case "max-age":
				cc.maxAge = seconds(val)
			case "s-maxage":
				cc.sMaxAge = seconds(val)
			}
		}
	}
	return cc
}

// cutDirective splits at the first comma outside a quoted string.
func cutDirective(s string) (before, after string, found bool) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\\':
			if quoted {
				i++
			}
		case ',':
			if !quoted {
				return s[:i], s[i+1:], true
			}
		}
	}
	return s, "", false
}

func seconds(v string) int64 {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return min(n, 1<<31) // RFC 9111 section 1.2.2: cap delta-seconds
}

// lifetime is the freshness the origin grants (s-maxage over max-age over
// Expires), ok false when it names none.
func lifetime(cc cacheControl, h http.Header) (d time.Duration, ok bool) {
	switch {
	case cc.sMaxAge >= 0:
		return time.Duration(cc.sMaxAge) * time.Second, true
	case cc.maxAge >= 0:
		return time.Duration(cc.maxAge) * time.Second, true
	}
	if exp := h.Get("Expires"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil {
			return 0, true // an invalid Expires means already expired
		}
		now := time.Now()
		if date, err := http.ParseTime(h.Get("Date")); err == nil {
			now = date
		}
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// hopByHop are the headers never stored or replayed (RFC 9110 section 7.6.1),
// plus those the cache writes itself.
var notStored = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Set-Cookie": true, "Set-Cookie2": true,
	"Date": true, "Age": true, "Content-Length": true, "Content-Encoding": true,
	"Cache-Status": true,
}

// acceptsEncoding reports whether an Accept-Encoding value allows coding
// (RFC 9110 section 12.5.3): listed, or covered by "*", with a q-value above
// zero.
func acceptsEncoding(lines []string, coding string) bool {
	star := false
	for _, line := range lines {
		for line != "" {
			var item string
			item, line, _ = strings.Cut(line, ",")
			name, params, _ := strings.Cut(item, ";")
			name = strings.TrimSpace(name)
			q := 1.0
			if params != "" {
				if k, v, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
						q = f
					}
				}
			}
			switch {
			case strings.EqualFold(name, coding):
				return q > 0
			case name == "*":
				star = q > 0
			}
		}
	}
	return star
}

// etagMatches is the weak comparison of If-None-Match (RFC 9110 section
// 13.1.2) against etag.
func etagMatches(ifNoneMatch, etag string) bool {
	if etag == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for s := ifNoneMatch; s != ""; {
		var t string
		t, s, _ = strings.Cut(s, ",")
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// notModifiedSince reports whether If-Modified-Since (used only without
// If-None-Match) shows the client's copy is current.
func notModifiedSince(ims, lastModified string) bool {
	if ims == "" || lastModified == "" {
		return false
	}
	t, err := http.ParseTime(ims)
	if err != nil {
		return false
	}
	lm, err := http.ParseTime(lastModified)
	return err == nil && !lm.After(t)
}

// headersFor304 are the stored headers a 304 repeats (RFC 9110 section
// 15.4.5).
var headersFor304 = []string{"Cache-Control", "Content-Location", "Etag", "Expires", "Last-Modified", "Vary"}

// isCompressible reports whether a body of this media type gains from
// compression; images, archives and media are compressed already.
func isCompressible(contentType string) bool {
	ct := strings.ToLower(contentType)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	switch {
	case strings.HasPrefix(ct, "text/"),
		strings.HasSuffix(ct, "+json"), strings.HasSuffix(ct, "+xml"),
		ct == "application/json", ct == "application/xml", ct == "application/javascript",
		ct == "application/x-javascript", ct == "application/ecmascript",
		ct == "application/x-ndjson", ct == "application/graphql-response+json",
		ct == "image/svg+xml", ct == "application/wasm", ct == "application/x-www-form-urlencoded",
		ct == "":
		return true
	}
	return false
}

// isJSON reports whether the media type is JSON, for redaction.
func isJSON(contentType string) bool {
	ct := strings.ToLower(contentType)
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}

func isUnsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}
