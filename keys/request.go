package keys

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// ErrUnkeyable means an HTTP request cannot be given a key that identifies
// it: its query holds a pair that net/url rejects (a ';' or a bad
// %-escape), which url.ParseQuery would silently drop, so two different
// requests would share a key. Such a request must not be cached.
var ErrUnkeyable = errors.New("aside: keys: request cannot be keyed (its query does not parse)")

// RequestOptions say which parts of an HTTP request, besides its URL, make up
// its key. The zero value keys on the URL alone.
type RequestOptions struct {
	// IgnoreQuery names query parameters left out of the key, compared
	// exactly (utm_source, fbclid...). Only list parameters the response
	// does not depend on.
	IgnoreQuery []string
	// Headers names request headers whose values are part of the key (the
	// Vary set), in canonical form (textproto.CanonicalMIMEHeaderKey), in
	// the order they are written; keep the order fixed (sorted) for a
	// stable key. An absent header and an empty one key differently.
	Headers []string
}

// AppendRequest appends the key of r to dst:
//
//	<scheme>://<host><path>[?<query>][ <Header>[=<v1>,<v2>...]]...
//
// where scheme is https when the connection is TLS (never taken from
// X-Forwarded-Proto), host is r.Host with its port, path is the path as Echo
// routes it (r.URL.EscapedPath, so /a%2Fb and /a/b differ), and query is
// r.URL.RawQuery parsed as url.ParseQuery parses it, ignored parameters
// dropped, sorted by name (values of one name keep their order) and
// re-escaped as url.QueryEscape does. Every component is written so that it
// cannot run into the next: two requests get the same key only if they
// agree on scheme, host, routed path, parsed query (minus IgnoreQuery) and
// the values of Headers. It fails with ErrUnkeyable when the query does not
// parse.
func AppendRequest(dst []byte, r *http.Request, o *RequestOptions) ([]byte, error) {
	var ignore []string
	if o != nil {
		ignore = o.IgnoreQuery
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	dst, err := AppendURL(dst, scheme, r.Host, r.URL, ignore)
	if err != nil || o == nil {
		return dst, err
	}
	return AppendHeaders(dst, r.Header, o.Headers), nil
}

// AppendHeaders appends the header part of a request key (see
// AppendRequest): for each name, a space, the name, and when h holds it '='
// and its values, query-escaped and separated by commas. names must be in
// canonical form.
func AppendHeaders(dst []byte, h http.Header, names []string) []byte {
	for _, name := range names {
		dst = append(dst, ' ')
		dst = append(dst, name...)
		vs, ok := h[name]
		if !ok {
			continue
		}
		dst = append(dst, '=')
		for i, v := range vs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendQueryEscaped(dst, v)
		}
	}
	return dst
}

// AppendURL appends the URL part of a request key (see AppendRequest) for
// the resource at u on scheme and host; u.Host and u.Scheme are ignored. The
// HTTP middleware uses it to name the entries of a target URI it must
// invalidate, from the request or a Location header.
func AppendURL(dst []byte, scheme, host string, u *url.URL, ignoreQuery []string) ([]byte, error) {
	dst = append(dst, scheme...)
	dst = append(dst, "://"...)
	dst = appendHost(dst, host)
	p := u.EscapedPath()
	if !strings.HasPrefix(p, "/") {
		// A space never occurs in an escaped host or path, so "a" + " b"
		// cannot be confused with "ab" + "".
		dst = append(dst, ' ')
	}
	dst = append(dst, p...)
	return appendQuery(dst, u.RawQuery, ignoreQuery)
}

// appendHost copies host, escaping every byte that is not valid in a host
// and port (so '/', '?', ' ' and '%' never appear raw and the path starts
// unambiguously).
func appendHost(dst []byte, host string) []byte {
	for i := 0; i < len(host); i++ {
		c := host[i]
		if isHostByte(c) {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xf])
	}
	return dst
}

func isHostByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '.', '-', '_', '~', ':', '[', ']', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

type queryPair struct{ k, v string }

// appendQuery writes "?" and the canonical form of raw, or nothing when no
// pair is left.
func appendQuery(dst []byte, raw string, ignore []string) ([]byte, error) {
	if raw == "" {
		return dst, nil
	}
	var stack [16]queryPair
	pairs := stack[:0]
	for q := raw; q != ""; {
		var piece string
		piece, q, _ = strings.Cut(q, "&")
		if strings.Contains(piece, ";") {
			return dst, ErrUnkeyable
		}
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		k, err := queryUnescape(k)
		if err != nil {
			return dst, ErrUnkeyable
		}
		v, err = queryUnescape(v)
		if err != nil {
			return dst, ErrUnkeyable
		}
		if slices.Contains(ignore, k) {
			continue
		}
		pairs = append(pairs, queryPair{k, v})
	}
	if len(pairs) == 0 {
		return dst, nil
	}
	slices.SortStableFunc(pairs, func(a, b queryPair) int { return strings.Compare(a.k, b.k) })
	dst = append(dst, '?')
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = appendQueryEscaped(dst, p.k)
		dst = append(dst, '=')
		dst = appendQueryEscaped(dst, p.v)
	}
	return dst, nil
}

func queryUnescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// appendQueryEscaped appends url.QueryEscape(s) without allocating.
func appendQueryEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			dst = append(dst, c)
		case c == ' ':
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xf])
		}
	}
	return dst
}
