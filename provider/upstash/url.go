package upstash

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// checkURL returns the base of every request URL (scheme, host and path,
// without a trailing slash) for rawURL, or an error saying what to change.
// No error quotes the URL.
func checkURL(rawURL string, allowHTTP bool) (string, error) {
	s := strings.TrimSpace(rawURL)
	if s == "" {
		return "", fmt.Errorf("%w: it is empty (want the database's REST URL, https://<name>.upstash.io)", ErrInvalidURL)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w: it does not parse as a URL (want https://<name>.upstash.io)", ErrInvalidURL)
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: it holds user information; the token goes in UPSTASH_REDIS_REST_TOKEN, never in the URL", ErrInvalidURL)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("%w: it has no host (want https://<name>.upstash.io)", ErrInvalidURL)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("%w: it has a query or a fragment (the token goes in UPSTASH_REDIS_REST_TOKEN, never in the URL)", ErrInvalidURL)
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !allowHTTP && !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("%w: http:// sends the token in clear; it is accepted only to a loopback host such as the local emulator "+
				"(Upstash's REST URL is https://; set Options.AllowHTTP to accept another host)", ErrInvalidURL)
		}
	default:
		return "", fmt.Errorf("%w: the scheme must be https (or http to a loopback host)", ErrInvalidURL)
	}
	return strings.ToLower(u.Scheme) + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// isLoopback reports whether host names this machine: localhost, or an
// address in 127.0.0.0/8 or ::1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkToken refuses a token that cannot travel in an HTTP header, without
// quoting it.
func checkToken(token string) error {
	if token == "" {
		return ErrNoToken
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: the REST token holds a space or a byte that is not printable ASCII (byte %d); copy it again from the Upstash console", ErrInvalidOptions, i)
		}
	}
	return nil
}
