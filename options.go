package aside

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Option tunes one Get, Set or Remember call.
type Option func(*callOptions)

type callOptions struct {
	ttl    time.Duration
	swr    time.Duration
	swrSet bool
	sie    time.Duration
	tags   []string
	err    error
}

// TTL sets how long the entry stays fresh. It must be positive.
func TTL(d time.Duration) Option {
	return func(o *callOptions) {
		if d <= 0 {
			o.err = fmt.Errorf("%w: TTL must be positive, got %v", ErrInvalidOption, d)
			return
		}
		o.ttl = d
	}
}

// StaleWhileRevalidate sets the window after freshness during which the
// entry is served stale while one background refresh runs (Remember only).
// 0 turns it off for this call.
func StaleWhileRevalidate(d time.Duration) Option {
	return func(o *callOptions) {
		if d < 0 {
			o.err = fmt.Errorf("%w: StaleWhileRevalidate must not be negative, got %v", ErrInvalidOption, d)
			return
		}
		o.swr, o.swrSet = d, true
	}
}

// StaleIfError sets the window after freshness during which, if the loader
// fails, Remember returns the last cached value instead of the error (RFC
// 5861 for data). An entry whose tags were invalidated is never served.
func StaleIfError(d time.Duration) Option {
	return func(o *callOptions) {
		if d < 0 {
			o.err = fmt.Errorf("%w: StaleIfError must not be negative, got %v", ErrInvalidOption, d)
			return
		}
		o.sie = d
	}
}

// grace is how long the provider keeps an entry past its freshness.
func (o *callOptions) grace() time.Duration { return max(o.swr, o.sie) }

// Tags attaches tags to the entry written by Set or Remember, for
// InvalidateTags. Pass the same tags when reading (Get, Remember) and a tagged
// hit costs one provider round trip; an entry whose tags the read did not name
// costs a second one to check them.
func Tags(tags ...string) Option {
	return func(o *callOptions) {
		dup := false
		for i, t := range tags {
			if t == "" {
				o.err = fmt.Errorf("%w: empty tag", ErrInvalidKey)
				return
			}
			dup = dup || slices.Contains(tags[:i], t)
		}
		if o.tags == nil && !dup {
			o.tags = tags // the common case: one Tags option, no copy
		} else {
			o.tags = appendUnique(o.tags, tags)
		}
		if len(o.tags) > maxTags {
			o.err = fmt.Errorf("%w: more than %d tags on one entry", ErrInvalidOption, maxTags)
		}
	}
}

func (c *Cache) options(opts []Option) (callOptions, error) {
	o := callOptions{ttl: c.ttl, swr: c.swr, sie: c.sie}
	for _, fn := range opts {
		fn(&o)
	}
	return o, o.err
}

// jittered removes up to c.jitter of d at random.
func (c *Cache) jittered(d time.Duration) time.Duration {
	if c.jitter == 0 {
		return d
	}
	return d - time.Duration(rand.Float64()*c.jitter*float64(d))
}

func appendUnique(dst, src []string) []string {
	dst = slices.Clip(dst)
	for _, t := range src {
		if !slices.Contains(dst, t) {
			dst = append(dst, t)
		}
	}
	return dst
}
