package middleware

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// Bounds of the variants a response's own Vary creates (beyond the
// CacheConfig.Vary headers, which are part of every key).
const (
	// maxVaryHeaders is the most request headers one response may vary on.
	maxVaryHeaders = 8
	// maxVariantLen bounds the normalised request header values naming one
	// variant; a request with longer ones is not stored under a variant key.
	maxVariantLen = 1024
	// variantsPerURL is how many distinct variant keys one primary key may
	// gain in this process between two loads of the primary key itself.
	variantsPerURL = 32
	// variantURLs bounds the table counting them; it is cleared when full.
	variantURLs = 4096
)

// responseVary returns the request headers a response's Vary names that the
// key does not already hold (canonical, sorted, deduplicated; Accept-Encoding
// left out: the cache negotiates it, unless the body is in a coding it does
// not handle: opaque), and star when it says "*" or names more headers than
// the cache keys variants by: such a response is never stored.
func (m *cacher) responseVary(lines []string, opaque bool) (names []string, star bool) {
	for _, line := range lines {
		for tok := range strings.SplitSeq(line, ",") {
			tok = strings.Trim(tok, " \t")
			switch {
			case tok == "":
			case tok == "*":
				return nil, true
			case !opaque && strings.EqualFold(tok, "Accept-Encoding"):
			default:
				name := http.CanonicalHeaderKey(tok)
				if !slices.Contains(m.vary, name) && !slices.Contains(names, name) {
					names = append(names, name)
				}
			}
		}
	}
	if len(names) > maxVaryHeaders {
		return nil, true
	}
	slices.Sort(names)
	return names, false
}

// variant names the variant of a request for the headers names: each
// header's field lines combined, its list members trimmed of whitespace (and
// for Accept-Language lowercased and sorted, order and case carrying no
// meaning there), query-escaped. An absent header differs from an empty one.
// ok is false when the result is too long to key by.
func variant(h http.Header, names []string) (v string, ok bool) {
	var b strings.Builder
	for i, name := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(name)
		lines, present := h[name]
		if !present {
			continue
		}
		var members []string
		for _, line := range lines {
			for mem := range strings.SplitSeq(line, ",") {
				if mem = strings.Trim(mem, " \t"); mem != "" {
					members = append(members, mem)
				}
			}
		}
		if name == "Accept-Language" {
			for j := range members {
				members[j] = strings.ToLower(strings.ReplaceAll(members[j], " ", ""))
			}
			slices.Sort(members)
		}
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(strings.Join(members, ",")))
		if b.Len() > maxVariantLen {
			return "", false
		}
	}
	return b.String(), true
}

// variantKey is the key of the variant v of the response stored under key.
// '~' cannot start a header name, so it cannot be read as part of key.
func variantKey(key, v string) string { return key + " ~" + v }

// variantCounts bounds, per process, how many distinct variant keys each
// primary key gains: a client cycling through values of a header the origin
// varies on cannot fill the store. It is approximate (per process, reset
// when the primary key is loaded again or the table fills) and that is
// enough: every variant also expires with its own freshness.
type variantCounts struct {
	mu sync.Mutex
	m  map[string][]uint64 // primary key -> hashes of its variants seen
}

// admit reports whether variant v of key may be stored: one already seen,
// or a new one while key has fewer than variantsPerURL.
func (c *variantCounts) admit(key, v string) bool {
	h := xxhash.Sum64String(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= variantURLs {
		c.m = make(map[string][]uint64)
	}
	seen := c.m[key]
	if slices.Contains(seen, h) {
		return true
	}
	if len(seen) >= variantsPerURL {
		return false
	}
	c.m[key] = append(seen, h)
	return true
}

func (c *variantCounts) reset(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}
