package middleware

import (
	"net/http"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// policy is the caching policy a response states: its Cache-Control (or the
// targeted field that replaces Cache-Control and Expires, RFC 9213) and the
// explicit freshness lifetime they and Expires give.
type policy struct {
	cc       cacheControl
	lifetime time.Duration // explicit freshness lifetime when explicit
	explicit bool          // the response names a lifetime (possibly 0: stale)
	targeted bool          // cc came from a targeted field
}

// policyOf reads the caching policy of a response with header h: the first
// valid, non-empty targeted field in targets replaces Cache-Control and
// Expires (RFC 9213 section 2.1); otherwise freshness is s-maxage, then
// max-age, then Expires minus Date (RFC 9111 section 4.2.1, a shared cache).
// now is the time the response was received.
func policyOf(h http.Header, targets []string, now time.Time) policy {
	for _, name := range targets {
		device := ""
		if name == surrogateControl {
			device = surrogateDevice
		}
		if cc, ok := parseTargeted(h[name], device); ok {
			p := policy{cc: cc, targeted: true}
			p.lifetime, p.explicit = ccLifetime(cc)
			return p
		}
	}
	p := policy{cc: parseCacheControl(h["Cache-Control"])}
	if p.lifetime, p.explicit = ccLifetime(p.cc); p.explicit {
		return p
	}
	if lines := h["Expires"]; len(lines) > 0 {
		p.explicit = true
		exp, ok := time.Time{}, len(lines) == 1 // several Expires lines: invalid
		if ok {
			exp, ok = parseHTTPDate(lines[0])
		}
		if !ok {
			return p // RFC 9111 section 5.3: an invalid Expires means already expired
		}
		p.lifetime = max(exp.Sub(dateOf(h, now)), 0)
	}
	return p
}

func ccLifetime(cc cacheControl) (time.Duration, bool) {
	switch {
	case cc.sMaxAge >= 0:
		return time.Duration(cc.sMaxAge) * time.Second, true
	case cc.maxAge >= 0:
		return time.Duration(cc.maxAge) * time.Second, true
	}
	return 0, false
}

// dateOf is the response's Date, or now when it has none or an invalid one
// (RFC 9110 section 6.6.1: the recipient records the time it received it).
func dateOf(h http.Header, now time.Time) time.Time {
	if v := h["Date"]; len(v) == 1 {
		if t, ok := parseHTTPDate(v[0]); ok {
			return t
		}
	}
	return now
}

// heuristicLifetime is RFC 9111 section 4.2.2's heuristic: a tenth of the
// time since Last-Modified, at most limit; ok false without a valid
// Last-Modified in the past.
func heuristicLifetime(h http.Header, now time.Time, limit time.Duration) (time.Duration, bool) {
	v := h["Last-Modified"]
	if len(v) != 1 {
		return 0, false
	}
	lm, ok := parseHTTPDate(v[0])
	if !ok {
		return 0, false
	}
	since := dateOf(h, now).Sub(lm)
	if since <= 0 {
		return 0, false
	}
	return min(since/10, limit), true
}

// correctedInitialAge is RFC 9111 section 4.2.3's corrected_initial_age:
// how old the response already was when it arrived, from its Age field and
// the time its Date says it was generated. start is when the request left
// for the origin, now when the response arrived.
func correctedInitialAge(h http.Header, start, now time.Time) time.Duration {
	apparent := time.Duration(0)
	if v := h["Date"]; len(v) == 1 {
		if date, ok := parseHTTPDate(v[0]); ok {
			apparent = max(now.Sub(date), 0)
		}
	}
	corrected := time.Duration(parseAge(h["Age"]))*time.Second + max(now.Sub(start), 0)
	return max(apparent, corrected)
}

// maxDelta is the cap of delta-seconds values (RFC 9111 section 1.2.2).
const maxDelta = 1 << 31

// parseAge reads an Age field as RFC 9111 section 5.1 says: the first member
// of the first line; a value that is not a non-negative integer is ignored
// (0), and huge ones are capped.
func parseAge(lines []string) int64 {
	if len(lines) == 0 {
		return 0
	}
	v, _, _ := strings.Cut(lines[0], ",")
	v = strings.Trim(v, " \t")
	if v == "" {
		return 0
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta)
}

// Surrogate-Control (the Edge Architecture Specification's targeted field):
// this cache advertises itself with Surrogate-Capability as surrogateDevice,
// and obeys directives targeted at no device or at it.
const (
	surrogateControl    = "Surrogate-Control"
	surrogateCapability = "Surrogate-Capability"
	surrogateDevice     = "aside"
)

// parseTargeted reads a targeted cache-control field (RFC 9213): a
// Structured Fields dictionary. ok is false when the field is absent, empty
// or invalid, and the cache then falls back to Cache-Control. With device
// set (Surrogate-Control), a directive with parameters names the devices it
// targets, and applies only when device is one of them.
func parseTargeted(lines []string, device string) (cc cacheControl, ok bool) {
	if len(lines) == 0 {
		return cc, false
	}
	if device != "" {
		lines = lowerASCII(lines)
	}
	d, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil || len(d.Names()) == 0 {
		return cc, false
	}
	cc = cacheControl{maxAge: -1, sMaxAge: -1, swr: -1, sie: -1}
	applied := 0
	for _, name := range d.Names() {
		m, _ := d.Get(name)
		it, isItem := m.(httpsfv.Item)
		if device != "" && isItem && len(it.Params.Names()) > 0 {
			if _, mine := it.Params.Get(device); !mine {
				continue // targeted at another device
			}
		}
		applied++
		delta := func() (int64, bool) {
			n, isInt := it.Value.(int64)
			if !isItem || !isInt || n < 0 {
				return 0, false
			}
			return min(n, maxDelta), true
		}
		set := isItem && it.Value == true
		if _, isList := m.(httpsfv.InnerList); isList {
			set = true // no-cache=("a" "b") and the like: stricter to treat as unqualified
		}
		var valid bool
		switch name {
		case "max-age":
			cc.maxAge, valid = delta()
		case "s-maxage":
			cc.sMaxAge, valid = delta()
		case "stale-while-revalidate":
			cc.swr, valid = delta()
		case "stale-if-error":
			cc.sie, valid = delta()
		case "no-store":
			cc.noStore, valid = set, true
		case "no-cache":
			cc.noCache, valid = set, true
		case "private":
			cc.private, valid = set, true
		case "public":
			cc.public, valid = set, true
		case "must-revalidate", "proxy-revalidate":
			cc.mustRevalidate, valid = cc.mustRevalidate || set, true
		case "must-understand":
			cc.mustUnderstand, valid = set, true
		default:
			valid = true // extensions are ignored
		}
		if !valid {
			return cacheControl{}, false // a directive of the wrong type: the field is invalid
		}
	}
	return cc, applied > 0
}

// lowerASCII returns lines with their ASCII letters in lower case (lines
// itself when it has none in upper case). Surrogate-Control predates
// Structured Fields, whose keys must be lower case: like Cache-Control's,
// its directive names are case-insensitive (MaX-aGe=60), and nothing it
// says that this cache reads (numbers, booleans, device names) changes
// when lowered.
func lowerASCII(lines []string) []string {
	upper := false
	for _, l := range lines {
		upper = upper || strings.IndexFunc(l, func(r rune) bool { return 'A' <= r && r <= 'Z' }) >= 0
	}
	if !upper {
		return lines
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = strings.ToLower(l)
	}
	return out
}

var (
	dayNames  = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	longDays  = [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
	monthName = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
)

// parseHTTPDate parses an HTTP-date (RFC 9110 section 5.6.7): IMF-fixdate,
// or the obsolete RFC 850 and asctime forms, exactly as the grammar says —
// one space where it has one, two-digit hours — except that names are
// matched case-insensitively, as RFC 9111 section 4.2 asks of caches.
// Anything else is invalid: a 1-digit hour, runs of spaces, "UTC" or other
// zones, dashes or periods in the wrong places.
func parseHTTPDate(s string) (time.Time, bool) {
	var (
		day, mon, year int
		clock          string
		ok             bool
	)
	switch {
	case len(s) == 29 && s[3] == ',': // Sun, 06 Nov 1994 08:49:37 GMT
		ok = name(s[0:3], dayNames[:]) >= 0 && s[4] == ' ' && s[7] == ' ' && s[11] == ' ' && s[16] == ' ' &&
			s[25] == ' ' && strings.EqualFold(s[26:], "GMT")
		day, ok = digits(s[5:7], ok)
		mon = name(s[8:11], monthName[:])
		year, ok = digits(s[12:16], ok)
		clock = s[17:25]
	case len(s) == 24 && s[3] == ' ': // Sun Nov  6 08:49:37 1994
		ok = name(s[0:3], dayNames[:]) >= 0 && s[7] == ' ' && s[10] == ' ' && s[19] == ' '
		mon = name(s[4:7], monthName[:])
		d := s[8:10]
		if d[0] == ' ' {
			d = d[1:]
		}
		day, ok = digits(d, ok)
		clock = s[11:19]
		year, ok = digits(s[20:24], ok)
	default: // Sunday, 06-Nov-94 08:49:37 GMT
		comma := strings.IndexByte(s, ',')
		if comma < 0 || name(s[:comma], longDays[:]) < 0 || len(s)-comma != 24 {
			return time.Time{}, false
		}
		r := s[comma+1:]
		ok = r[0] == ' ' && r[3] == '-' && r[7] == '-' && r[10] == ' ' && r[19] == ' ' && strings.EqualFold(r[20:], "GMT")
		day, ok = digits(r[1:3], ok)
		mon = name(r[4:7], monthName[:])
		year, ok = digits(r[8:10], ok)
		clock = r[11:19]
		if ok {
			// RFC 9110 section 5.6.7: a two-digit year more than 50 years
			// in the future is the most recent past year with those digits.
			now := time.Now().UTC().Year()
			year += now - now%100
			if year > now+50 {
				year -= 100
			}
		}
	}
	if !ok || mon < 0 || len(clock) != 8 || clock[2] != ':' || clock[5] != ':' {
		return time.Time{}, false
	}
	hour, ok := digits(clock[0:2], true)
	minute, ok := digits(clock[3:5], ok)
	sec, ok := digits(clock[6:8], ok)
	if !ok || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(mon+1), day, hour, minute, min(sec, 59), 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, false // 31 Feb and the like
	}
	return t, true
}

func name(s string, names []string) int {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return i
		}
	}
	return -1
}

// digits parses s, all ASCII digits, when ok.
func digits(s string, ok bool) (int, bool) {
	if !ok || s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// knownStatus reports whether the cache understands status (for
// must-understand, RFC 9111 section 5.2.2.3): the codes RFC 9110 defines.
func knownStatus(status int) bool {
	switch {
	case status >= 200 && status <= 206, status >= 300 && status <= 308 && status != 306,
		status >= 400 && status <= 417, status == 421, status == 422, status == 426,
		status >= 500 && status <= 505:
		return true
	}
	return false
}
