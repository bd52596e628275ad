package rueidis

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	rue "github.com/redis/rueidis"

	"github.com/aside-go/aside/internal/redisurl"
)

// Connection settings of the clients this package builds, where the URL's
// query does not set them (rueidis semantics, v1.0.79):
//
//   - No retry of a failed read (DisableRetry): a cache read that fails is a
//     miss; retrying it would spend more of a struggling server's time than
//     the miss costs.
//   - A 1 s dial timeout (it bounds the handshake too). The dial runs on a
//     goroutine of the provider's, so the call that started it stops
//     waiting at Options.Timeout.
//   - A connection whose replies stop for longer than Options.Timeout plus
//     1 s is dropped (ConnWriteTimeout; rueidis's default is 10 s), which
//     hands back the in-flight slots its unanswered commands held.
//   - No client-side caching (DisableCache): the provider never asks for
//     it, so CLIENT TRACKING is not turned on.
const (
	dialTimeout = time.Second
	hungGrace   = time.Second
)

// NewFromURL returns a Provider over a new rueidis client to one server:
//
//	redis://[[user]:password@]host[:port][/db][?option=value...]
//	rediss://...   (TLS)
//
// The password and the database number come from the URL; reserved
// characters in the password must be percent-encoded. Query options are
// rueidis's (see rueidis.ParseURL), e.g. ?dial_timeout=2s. The provider owns
// the client: Close closes it.
//
// rueidis connects when its client is made; the provider makes it on the
// first call instead, so a Redis that is down at start fails nothing here.
// When the URL names a database other than 0, NewFromURL tries that first
// connection at once, bounded by Options.Timeout, and fails with
// [ErrInvalidURL] if the server answers that the database does not exist; a
// server that does not answer, or answers anything else, does not fail it.
func NewFromURL(rawURL string, o Options) (*Provider, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	u, err := checkURL(rawURL)
	if err != nil {
		return nil, err
	}
	opt, err := rue.ParseURL(rawURL)
	if err != nil {
		return nil, redacted(err, rawURL, u)
	}
	if opt.SelectDB < 0 {
		return nil, fmt.Errorf("%w: the database number is negative; use 0 to %d with the default 'databases' setting", ErrInvalidURL, defaultDatabases-1)
	}
	opt.ForceSingleClient = true
	p := newLazy(failFast(opt, o.Timeout), o)
	if opt.SelectDB != 0 {
		if err := p.checkDB(opt.SelectDB); err != nil {
			_ = p.Close()
			return nil, err
		}
	}
	return p, nil
}

// defaultDatabases is the number of databases of a Redis server whose
// configuration does not set 'databases'.
const defaultDatabases = 16

// checkDB connects within Options.Timeout and fails only when the server
// answers that database db does not exist: a mistake in the URL that no
// retry will fix. A Redis that is down, hung or still loading must not stop
// the program from starting.
func (p *Provider) checkDB(db int) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.o.Timeout)
	defer cancel()
	_, err := p.client(ctx)
	if err != nil && strings.Contains(err.Error(), "DB index is out of range") {
		return fmt.Errorf("%w: the server has no database %d (it answered \"DB index is out of range\"); "+
			"use a database below its 'databases' setting (%d by default) in the URL's /db path", ErrInvalidURL, db, defaultDatabases)
	}
	return nil
}

// NewCluster returns a Provider over a new rueidis Cluster client. seeds are
// host:port addresses of some cluster nodes (rueidis discovers the rest).
// rawURL, which may be empty, carries what is common to every node in the
// same form as for [NewFromURL]: credentials, rediss:// for TLS and rueidis
// query options; its host is a seed too unless it is empty
// ("rediss://:password@"). A Cluster has only database 0, so a /db path
// other than /0 is an error. The client gets the same settings as in
// NewFromURL, the provider owns it, and it is made on the first call.
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
	var opt rue.ClientOption
	if rawURL != "" {
		u, err := checkURL(rawURL)
		if err != nil {
			return nil, err
		}
		if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
			return nil, fmt.Errorf("%w: Redis Cluster has only database 0; remove the /db path from the URL", ErrInvalidURL)
		}
		if opt, err = rue.ParseURL(rawURL); err != nil {
			return nil, redacted(err, rawURL, u)
		}
		if u.Host == "" {
			// rueidis would add localhost:6379 as a seed; the seeds are given.
			opt.InitAddress = nil
		}
	}
	for _, s := range seeds {
		if !slices.Contains(opt.InitAddress, s) {
			opt.InitAddress = append(opt.InitAddress, s)
		}
	}
	if len(opt.InitAddress) == 0 {
		return nil, fmt.Errorf("%w: no cluster address; give at least one seed host:port", ErrInvalidURL)
	}
	return newLazy(failFast(opt, o.Timeout), o), nil
}

// FromURL is the constructor for configuration read from the environment.
// With no clusterAddrs it is [NewFromURL](rawURL, o); otherwise it is
// [NewCluster](rawURL, clusterAddrs, o), and rawURL may be empty. Errors
// match [ErrInvalidURL] or [ErrInvalidOptions], say what to change, and never
// contain the URL or its password: wrap them with the variable's name.
func FromURL(rawURL string, clusterAddrs []string, o Options) (*Provider, error) {
	if len(clusterAddrs) == 0 {
		return NewFromURL(rawURL, o)
	}
	return NewCluster(rawURL, clusterAddrs, o)
}

// failFast gives a client this package builds its settings for a cache (see
// the constants above). Fields the URL set are kept.
func failFast(opt rue.ClientOption, timeout time.Duration) rue.ClientOption {
	opt.DisableRetry = true
	opt.DisableCache = true
	if opt.Dialer.Timeout == 0 {
		opt.Dialer.Timeout = dialTimeout
	}
	if opt.ConnWriteTimeout == 0 {
		opt.ConnWriteTimeout = timeout + hungGrace
	}
	return opt
}

const urlForm = redisurl.Form

// checkURL is redisurl.Check with this package's ErrInvalidURL.
func checkURL(rawURL string) (*url.URL, error) { return redisurl.Check(rawURL, ErrInvalidURL) }

// redacted is redisurl.Redacted with this package's ErrInvalidURL.
func redacted(err error, rawURL string, u *url.URL) error {
	return redisurl.Redacted(err, rawURL, u, ErrInvalidURL)
}
