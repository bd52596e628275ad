package middleware

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// RFC 9110 section 5.6.7 and RFC 9111 section 4.2: the three HTTP-date forms,
// names case-insensitive, nothing looser.
func TestParseHTTPDate(t *testing.T) {
	want := time.Date(1994, time.November, 6, 8, 49, 37, 0, time.UTC)
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT",
		"sun, 06 nov 1994 08:49:37 gmt",
		"Sunday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov  6 08:49:37 1994",
	} {
		got, ok := parseHTTPDate(s)
		require.True(t, ok, s)
		require.Equal(t, want, got, s)
	}
	for _, s := range []string{
		"", "0", "-1",
		"Sun, 06 Nov 1994 8:49:37 GMT",
		"Sun, 06  Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 06 Nov 1994 08:49:37 AEST",
		"Sun, 06 Nov 94 08:49:37 GMT",
		"Sun 06 Nov 1994 08:49:37 GMT",
		"Sun, 06-Nov-1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 08.49.37 GMT",
		"Sun, 31 Feb 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:49:37 GMT",
		"Funday, 06-Nov-94 08:49:37 GMT",
		"Sun Nov 6 08:49:37 1994",
	} {
		_, ok := parseHTTPDate(s)
		require.False(t, ok, s)
	}
}

// RFC 9110 section 5.6.7: a two-digit year more than 50 years ahead is the
// most recent past year with those digits.
func TestParseHTTPDateTwoDigitYears(t *testing.T) {
	now := time.Now().UTC().Year()
	for _, ahead := range []int{1, 49, 51, 99} {
		y := now + ahead
		s := time.Date(y, 1, 2, 3, 4, 5, 0, time.UTC).Format("Monday, 02-Jan-06 15:04:05 GMT")
		got, ok := parseHTTPDate(s)
		require.True(t, ok, s)
		if ahead <= 50 {
			require.Equal(t, y, got.Year(), s)
		} else {
			require.Equal(t, y-100, got.Year(), s)
		}
	}
}

func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{
		"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
		"Thu, 18 Aug 2050 2:01:18 GMT", ",", "Sunday,", strings.Repeat("x", 29), strings.Repeat(",", 40),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseHTTPDate(s)
		if !ok {
			return
		}
		// Whatever parses is a real instant that formats back to a date
		// that parses to the same instant.
		again, ok := parseHTTPDate(got.Format(http.TimeFormat))
		if !ok || !again.Equal(got) {
			t.Fatalf("%q parsed to %v, which does not round-trip", s, got)
		}
	})
}

func FuzzParseAge(f *testing.F) {
	for _, s := range []string{"0", "7200, 0", "abc", "-1", "99999999999999999999", "7200;foo=bar", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n := parseAge([]string{s}); n < 0 || n > maxDelta {
			t.Fatalf("parseAge(%q) = %d", s, n)
		}
	})
}

func FuzzParseTargeted(f *testing.F) {
	for _, s := range []string{"max-age=60", "no-store", `max-age="60"`, "max-age=60, &&&", "no-cache=(\"a\" \"b\"), max-age=1;x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cc, ok := parseTargeted([]string{s}, surrogateDevice)
		if ok && (cc.maxAge > maxDelta || cc.sMaxAge > maxDelta) {
			t.Fatalf("parseTargeted(%q) = %+v", s, cc)
		}
	})
}
