package redis

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Connection settings applied to the clients this package builds, where the
// URL's query does not set them. They make a Redis that is down fail fast
// (a refused dial is not retried in a loop) while Options.Timeout bounds the
// whole call; go-redis's pool then re-dials in the background about once a
// second, so the provider recovers by itself when Redis comes back.
const (
	dialTimeout   = time.Second
	dialerRetries = 1
	maxRetries    = 1
)

// NewFromURL returns a Provider over a new standalone client for rawURL:
//
//	redis://[[user]:password@]host[:port][/db][?option=value...]
//	rediss://...   (TLS)
//
// The password and the database number come from the URL; reserved
// characters in the password must be percent-encoded. Query options are
// go-redis's (see redis.ParseURL), e.g. ?pool_size=50. The client always has
// ContextTimeoutEnabled set, and unless the URL says otherwise a 1 s dial
// timeout, one dial attempt per connection and one retry per command. The
// provider owns the client: Close closes it. Nothing is sent to Redis until
// the first call.
func NewFromURL(rawURL string, o Options) (*Provider, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	u, err := checkURL(rawURL)
	if err != nil {
		return nil, err
	}
	opt, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, redacted(err, rawURL, u)
	}
	failFast(&opt.ContextTimeoutEnabled, &opt.DialTimeout, &opt.PoolTimeout, &opt.DialerRetries, &opt.MaxRetries, o.Timeout)
	o.CloseClient = true
	return New(goredis.NewClient(opt), o)
}

// NewCluster returns a Provider over a new Redis Cluster client. seeds are
// host:port addresses of some cluster nodes (go-redis discovers the rest).
// rawURL, which may be empty, carries what is common to every node in the
// same form as for [NewFromURL]: credentials, rediss:// for TLS, and
// go-redis cluster query options (see redis.ParseClusterURL); its host is a
// seed too unless it is empty ("rediss://:password@"). A Cluster has only database 0, so a /db path other than /0 is an
// error. The client gets the same fail-fast settings as in NewFromURL, and the
// provider owns it.
func NewCluster(rawURL string, seeds []string, o Options) (*Provider, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	for i, s := range seeds {
		// The address is not shown: a misplaced URL with a password may
		// have been passed as one.
		if h, port, err := net.SplitHostPort(s); err != nil || h == "" || port == "" {
			return nil, fmt.Errorf("%w: cluster seed address #%d is not host:port", ErrInvalidURL, i+1)
		}
	}
	opt := &goredis.ClusterOptions{}
	if rawURL != "" {
		u, err := checkURL(rawURL)
		if err != nil {
			return nil, err
		}
		if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
			return nil, fmt.Errorf("%w: Redis Cluster has only database 0; remove the /db path from the URL", ErrInvalidURL)
		}
		if opt, err = goredis.ParseClusterURL(rawURL); err != nil {
			return nil, redacted(err, rawURL, u)
		}
		if u.Host == "" {
			// go-redis would add localhost:6379 as a seed; the seeds are given.
			opt.Addrs = nil
		}
	}
	for _, s := range seeds {
		if !slices.Contains(opt.Addrs, s) {
			opt.Addrs = append(opt.Addrs, s)
		}
	}
	if len(opt.Addrs) == 0 {
		return nil, fmt.Errorf("%w: no cluster address; give at least one seed host:port", ErrInvalidURL)
	}
	failFast(&opt.ContextTimeoutEnabled, &opt.DialTimeout, &opt.PoolTimeout, &opt.DialerRetries, &opt.MaxRetries, o.Timeout)
	o.CloseClient = true
	return New(goredis.NewClusterClient(opt), o)
}

// FromURL is the constructor for configuration read from the environment
// (aside.FromEnv calls it with REDIS_URL and the Cluster seed list). With no
// clusterAddrs it is [NewFromURL](rawURL, o); otherwise it is
// [NewCluster](rawURL, clusterAddrs, o), and rawURL may be empty. Errors
// match [ErrInvalidURL] or [ErrInvalidOptions], say what to change, and never
// contain the URL or its password: wrap them with the variable's name.
func FromURL(rawURL string, clusterAddrs []string, o Options) (*Provider, error) {
	if len(clusterAddrs) == 0 {
		return NewFromURL(rawURL, o)
	}
	return NewCluster(rawURL, clusterAddrs, o)
}

const urlForm = "redis://[[user]:password@]host[:port][/db] (rediss:// for TLS)"

// checkURL parses rawURL and checks its shape. Its errors are written here,
// never taken from net/url, whose messages quote the URL or pieces of the
// password (an invalid percent-escape, say).
func checkURL(rawURL string) (*url.URL, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("%w: the URL is empty; expected %s", ErrInvalidURL, urlForm)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: it does not parse as %s; percent-encode characters such as "+
			"'@', ':', '/', '?', '#' and '%%' in the user name and password "+
			"(the URL is not shown because it may contain a password)", ErrInvalidURL, urlForm)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("%w: the scheme must be redis:// or rediss:// (TLS); expected %s", ErrInvalidURL, urlForm)
	}
	if u.Opaque != "" {
		return nil, fmt.Errorf("%w: write the address after '//'; expected %s", ErrInvalidURL, urlForm)
	}
	return u, nil
}

// redacted turns an error of go-redis's URL parsing into an ErrInvalidURL
// whose text holds neither the URL nor its user information. The original
// error is not wrapped, so its text cannot leak through errors.Unwrap.
func redacted(err error, rawURL string, u *url.URL) error {
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
	return fmt.Errorf("%w: %s; expected %s", ErrInvalidURL, msg, urlForm)
}

// failFast gives a client this package builds its settings for a cache: the
// caller's deadline reaches the socket, and a Redis that is down costs one
// short dial, not a retry loop. It takes the fields, not the options, because
// go-redis's single-node and cluster options are different types.
func failFast(contextTimeout *bool, dial, pool *time.Duration, dialRetries, retries *int, timeout time.Duration) {
	*contextTimeout = true
	if *pool == 0 {
		*pool = timeout // a saturated pool is a miss, not a 4 s wait
	}
	if *dial == 0 {
		*dial = dialTimeout
	}
	if *dialRetries == 0 {
		*dialRetries = dialerRetries
	}
	if *retries == 0 {
		*retries = maxRetries
	}
}
