// Package redisurl checks redis:// URLs and redacts the errors of the
// clients' own URL parsers, for the two Redis providers (provider/redis over
// go-redis, provider/rueidis). Nothing it returns holds the URL or its user
// information: errors name what to change, never the password.
package redisurl

import (
	"fmt"
	"net/url"
	"strings"
)

// Form is the URL shape the providers accept, quoted in their errors.
const Form = "redis://[[user]:password@]host[:port][/db] (rediss:// for TLS)"

// Check parses rawURL and checks its shape; its errors wrap invalid (the
// calling package's ErrInvalidURL). They are written here, never taken from
// net/url, whose messages quote the URL or pieces of the password (an
// invalid percent-escape, say).
func Check(rawURL string, invalid error) (*url.URL, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("%w: the URL is empty; expected %s", invalid, Form)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: it does not parse as %s; percent-encode characters such as "+
			"'@', ':', '/', '?', '#' and '%%' in the user name and password "+
			"(the URL is not shown because it may contain a password)", invalid, Form)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("%w: the scheme must be redis:// or rediss:// (TLS); expected %s", invalid, Form)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("%w: write the address after '//'; expected %s", invalid, Form)
	}
	return u, nil
}

// Redacted turns an error of a client's URL parsing into one wrapping
// invalid whose text holds neither the URL nor its user information. err
// itself is not wrapped, so its text cannot leak through errors.Unwrap.
func Redacted(err error, rawURL string, u *url.URL, invalid error) error {
	msg := strings.TrimPrefix(err.Error(), "redis: ")
	secrets := []string{rawURL}
	if u.User != nil {
		secrets = append(secrets, u.User.String())
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return fmt.Errorf("%w: %s; expected %s", invalid, msg, Form)
}
