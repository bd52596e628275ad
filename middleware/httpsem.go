package middleware

import (
	"net/http"
	"strconv"
	"strings"
)

// cacheControl is what this cache reads from a Cache-Control header (or a
// targeted field, see parseTargeted).
type cacheControl struct {
	noStore, noCache, private, public, mustRevalidate, mustUnderstand bool
	maxAge, sMaxAge                                                   int64 // seconds; -1 when absent
	swr, sie                                                          int64 // stale-while-revalidate, stale-if-error; -1 when absent
}

// parseCacheControl reads every Cache-Control line of h. Directive names are
// case-insensitive; the first occurrence of a directive wins (RFC 9111
// section 4.2.1); a malformed delta-seconds counts as 0 (treat an invalid
// freshness as stale), and a directive with whitespace around its "=" is not
// one. private or no-cache with a field list count as the unqualified
// directive (stricter, never wrong).
func parseCacheControl(lines []string) cacheControl {
	cc := cacheControl{maxAge: -1, sMaxAge: -1, swr: -1, sie: -1}
	for _, line := range lines {
		for line != "" {
			var d string
			d, line, _ = cutDirective(line)
			d = strings.Trim(d, " \t")
			if d == "" {
				continue
			}
			name, val, hasVal := strings.Cut(d, "=")
			if hasVal && (name == "" || strings.ContainsAny(name[len(name)-1:]+val[:min(len(val), 1)], " \t")) {
				continue
			}
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
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
			case "must-understand":
				cc.mustUnderstand = true
			case "max-age":
				first(&cc.maxAge, val)
			case "s-maxage":
				first(&cc.sMaxAge, val)
			case "stale-while-revalidate":
				first(&cc.swr, val)
			case "stale-if-error":
				first(&cc.sie, val)
			}
		}
	}
	return cc
}

func first(dst *int64, val string) {
	if *dst < 0 {
		*dst = seconds(val)
	}
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

// seconds parses delta-seconds: 0 when invalid (stale), capped at 2^31.
func seconds(v string) int64 {
	if v == "" {
		return 0
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0
		}
		if n < maxDelta {
			n = n*10 + int64(v[i]-'0')
		}
	}
	return min(n, maxDelta)
}

// notStored are the headers never stored or replayed: hop-by-hop ones (RFC
// 9110 section 7.6.1), cookies, and those the cache writes itself.
var notStored = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true,
	"Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Proxy-Authenticate": true, "Proxy-Authorization": true, "Proxy-Authentication-Info": true,
	"Set-Cookie": true, "Set-Cookie2": true,
	"Age": true, "Content-Length": true, "Content-Encoding": true,
	"Cache-Status": true,
}

// notUpdatedBy304 are the stored header fields a 304 does not replace when
// it refreshes a stored response (RFC 9111 section 3.2): those describing
// the stored content itself, and the validator the cache selected it by.
var notUpdatedBy304 = map[string]bool{
	"Content-Encoding": true, "Content-Length": true, "Content-Md5": true, "Content-Range": true,
	"Etag": true, "Vary": true,
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
	t, ok := parseHTTPDate(ims)
	if !ok {
		return false
	}
	lm, ok := parseHTTPDate(lastModified)
	return ok && !lm.After(t)
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
