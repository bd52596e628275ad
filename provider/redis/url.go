package redis

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/redisurl"
)

// Connection settings of the clients this package builds, where the URL's
// query does not set them (go-redis semantics, v9.23):
//
//   - One dial attempt per connection (DialerRetries: 1, not 5 with 100 ms
//     between) and no retry of a failed command (MaxRetries: -1, not 3): a
//     refused connection fails the call at once instead of after a backoff
//     sleep and a second dial, and a command that timed out is not sent
//     again. A cache read that fails is a miss; retrying it would spend more
//     of a struggling server's time than the miss costs.
//   - No sleep between a Cluster client's own attempts (MinRetryBackoff:
//     -1): it still follows MOVED/ASK redirects and tries another node, at
//     once, within the call's bound.
//   - A 1 s dial timeout: a dial runs on go-redis's own goroutine, so the
//     call that started it stops waiting at Options.Timeout, but a slow TLS
//     handshake may still finish and serve the next calls. go-redis's pool
//     re-dials a Redis that was down about once a second, so the provider
//     recovers by itself when Redis comes back.
const (
	dialTimeout     = time.Second
	dialerRetries   = 1
	maxRetries      = -1 // go-redis: -1 means none; 0 means its default, 3
	minRetryBackoff = -1 // go-redis: -1 means none; 0 means its default, 10 ms
)

// NewFromURL returns a Provider over a new standalone client for rawURL:
//
//	redis://[[user]:password@]host[:port][/db][?option=value...]
//	rediss://...   (TLS)
//
// The password and the database number come from the URL; reserved
// characters in the password must be percent-encoded. Query options are
// go-redis's (see redis.ParseURL), e.g. ?pool_size=50. The client always has
// ContextTimeoutEnabled set and, unless the URL says otherwise, one dial
// attempt per connection (1 s dial timeout), no retry of a failed command and
// a pool wait of at most Options.Timeout. The provider owns the client: Close
// closes it.
//
// When the URL names a database other than 0, NewFromURL sends one PING,
// bounded by Options.Timeout, and fails with [ErrInvalidURL] if the server
// answers that the database does not exist. A server that does not answer,
// or answers anything else, does not fail it: a Redis that is down at start
// must not keep the program from starting. Otherwise nothing is sent until
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
	if opt.DB < 0 {
		// go-redis would skip the SELECT and use database 0.
		return nil, fmt.Errorf("%w: the database number is negative; use 0 to %d with the default 'databases' setting", ErrInvalidURL, defaultDatabases-1)
	}
	failFast(settings{&opt.ContextTimeoutEnabled, &opt.DialTimeout, &opt.PoolTimeout, &opt.MinRetryBackoff, &opt.DialerRetries, &opt.MaxRetries}, o.Timeout)
	o.CloseClient = true
	p, err := New(goredis.NewClient(opt), o)
	if err != nil {
		return nil, err
	}
	if opt.DB != 0 {
		if err := p.checkDB(opt.DB); err != nil {
			_ = p.Close()
			return nil, err
		}
	}
	return p, nil
}

// defaultDatabases is the number of databases of a Redis server whose
// configuration does not set 'databases'.
const defaultDatabases = 16

// checkDB asks the server, within Options.Timeout, to select database db,
// and fails only when the server answers that db does not exist: that is a
// mistake in the URL that no retry will fix, better reported at start than
// as a failure of every call. Anything else passes: a Redis that is down,
// hung or still loading at start must not stop the program from starting
// (the cache misses until it answers), and a wrong password can be a
// rotation in progress. Only a URL naming a database other than 0 costs
// this round trip; its connection stays in the pool.
func (p *Provider) checkDB(db int) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.o.Timeout)
	defer cancel()
	err := p.c.Ping(ctx).Err()
	if err != nil && goredis.HasErrorPrefix(err, "DB index is out of range") {
		return fmt.Errorf("%w: the server has no database %d (it answered \"DB index is out of range\"); "+
			"use a database below its 'databases' setting (%d by default) in the URL's /db path", ErrInvalidURL, db, defaultDatabases)
	}
	return nil
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
	failFast(settings{&opt.ContextTimeoutEnabled, &opt.DialTimeout, &opt.PoolTimeout, &opt.MinRetryBackoff, &opt.DialerRetries, &opt.MaxRetries}, o.Timeout)
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

const urlForm = redisurl.Form

// checkURL is redisurl.Check with this package's ErrInvalidURL.
func checkURL(rawURL string) (*url.URL, error) { return redisurl.Check(rawURL, ErrInvalidURL) }

// redacted is redisurl.Redacted with this package's ErrInvalidURL.
func redacted(err error, rawURL string, u *url.URL) error {
	return redisurl.Redacted(err, rawURL, u, ErrInvalidURL)
}

// settings points at the fields failFast sets, because go-redis's
// single-node and cluster options are different types.
type settings struct {
	contextTimeout         *bool
	dial, pool, minBackoff *time.Duration
	dialRetries, retries   *int
}

// failFast gives a client this package builds its settings for a cache (see
// the constants above): the call's deadline reaches the socket, and a Redis
// that is down or hung costs one short failure, not a retry loop. Fields the
// URL set are kept.
func failFast(s settings, timeout time.Duration) {
	*s.contextTimeout = true
	if *s.pool == 0 {
		*s.pool = timeout // a saturated pool is a miss, not a 6 s wait
	}
	if *s.dial == 0 {
		*s.dial = dialTimeout
	}
	if *s.minBackoff == 0 {
		*s.minBackoff = minRetryBackoff
	}
	if *s.dialRetries == 0 {
		*s.dialRetries = dialerRetries
	}
	if *s.retries == 0 {
		*s.retries = maxRetries
	}
}
