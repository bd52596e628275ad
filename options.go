package aside

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"
)

// Option tunes one Get, Set or Remember call. Options are small values, not
// closures, so that passing them costs no allocation on the hit path.
type Option struct {
	kind    optionKind
	d       time.Duration
	tags    []string
	budget  *FailureBudget
	tagsFor func(key string) []string
}

type optionKind uint8

const (
	optNone optionKind = iota
	optTTL
	optSWR
	optSIE
	optTags
	optBudget
	optTagsFor
	optAbsent
)

type callOptions struct {
	ttl     time.Duration
	swr     time.Duration
	sie     time.Duration
	tags    []string
	budget  *FailureBudget
	tagsFor func(key string) []string
	absent  time.Duration
}

// TTL sets how long the entry stays fresh. It must be positive.
func TTL(d time.Duration) Option { return Option{kind: optTTL, d: d} }

// StaleWhileRevalidate sets the window after freshness during which the
// entry is served stale while one background refresh runs (Remember only).
// 0 turns it off for this call.
func StaleWhileRevalidate(d time.Duration) Option { return Option{kind: optSWR, d: d} }

// StaleIfError sets the window after freshness during which, if the loader
// fails, Remember returns the last cached value instead of the error (RFC
// 5861 for data). An entry whose tags were invalidated is never served.
func StaleIfError(d time.Duration) Option { return Option{kind: optSIE, d: d} }

// Tags attaches tags to the entry written by Set or Remember, for
// InvalidateTags. Pass the same tags when reading (Get, Remember) and a tagged
// hit costs one provider round trip; an entry whose tags the read did not name
// costs a second one to check them. The slice is not retained past the call.
func Tags(tags ...string) Option { return Option{kind: optTags, tags: tags} }

// TagsFor attaches to each entry, besides the call's Tags, the tags fn
// returns for its key: the per-item tags of a batch (GetMany, SetMany,
// RememberMany: "product:7" on the entry of product 7), and the same for a
// single-key call. Read with the same TagsFor (or Tags) that wrote, as with
// Tags. fn is called once per key during the call and not retained past it
// (except by a stale-while-revalidate refresh the call starts).
func TagsFor(fn func(key string) []string) Option { return Option{kind: optTagsFor, tagsFor: fn} }

// AbsentTTL makes RememberMany remember, for d, the IDs its loader did not
// return (IDs that do not exist), so that asking for them again within d
// costs no loader call: each is stored as an absent marker, an entry
// without a value that carries the call's tags, and is ended like any entry
// by Delete, InvalidateTags and InvalidatePattern (after creating the item,
// delete its key or invalidate one of its tags). RememberMany leaves a
// marked ID out of its result without loading it; Get, GetMany and
// Remember read a marker as a miss, and Remember replaces it with what its
// loader returns. 0 (the default) remembers nothing: such IDs are loaded
// again on every call. Other calls ignore it.
func AbsentTTL(d time.Duration) Option { return Option{kind: optAbsent, d: d} }

// FailureBudget is shared by the calls that make up one operation, such as
// an HTTP request the middleware answers with a lookup and then a
// revalidation, so that the operation pays for at most one provider failure:
// once a call given the budget (with the SharedBudget option) saw the provider fail
// or time out, later calls given it skip the provider: their reads are
// misses and the writes of their loads are skipped. A single Get or
// Remember already works this way on its own. The zero value is ready to
// use; do not copy it after first use.
type FailureBudget struct{ spent atomic.Bool }

// Spent reports whether a call given the budget saw the provider fail.
func (b *FailureBudget) Spent() bool { return b != nil && b.spent.Load() }

func (b *FailureBudget) spend() {
	if b != nil {
		b.spent.Store(true)
	}
}

// SharedBudget makes the call share b with the other calls of its operation; see
// FailureBudget. A nil b does nothing.
func SharedBudget(b *FailureBudget) Option { return Option{kind: optBudget, budget: b} }

// grace is how long the provider keeps an entry past its freshness.
func (o *callOptions) grace() time.Duration { return max(o.swr, o.sie) }

func (c *Cache) options(opts []Option) (callOptions, error) {
	o := callOptions{ttl: c.ttl, swr: c.swr, sie: c.sie}
	for _, op := range opts {
		switch op.kind {
		case optTTL:
			if op.d <= 0 {
				return o, fmt.Errorf("%w: TTL must be positive, got %v", ErrInvalidOption, op.d)
			}
			o.ttl = op.d
		case optSWR:
			if op.d < 0 {
				return o, fmt.Errorf("%w: StaleWhileRevalidate must not be negative, got %v", ErrInvalidOption, op.d)
			}
			o.swr = op.d
		case optSIE:
			if op.d < 0 {
				return o, fmt.Errorf("%w: StaleIfError must not be negative, got %v", ErrInvalidOption, op.d)
			}
			o.sie = op.d
		case optTags:
			dup := false
			for i, t := range op.tags {
				if t == "" {
					return o, fmt.Errorf("%w: empty tag", ErrInvalidKey)
				}
				dup = dup || slices.Contains(op.tags[:i], t)
			}
			if o.tags == nil && !dup {
				o.tags = op.tags // the common case: one Tags option, no copy
			} else {
				o.tags = appendUnique(o.tags, op.tags)
			}
			if len(o.tags) > maxTags {
				return o, fmt.Errorf("%w: more than %d tags on one entry", ErrInvalidOption, maxTags)
			}
		case optBudget:
			o.budget = op.budget
		case optTagsFor:
			o.tagsFor = op.tagsFor
		case optAbsent:
			if op.d < 0 {
				return o, fmt.Errorf("%w: AbsentTTL must not be negative, got %v", ErrInvalidOption, op.d)
			}
			o.absent = op.d
		case optNone:
			// The zero Option does nothing.
		}
	}
	return o, nil
}

// keyOptions is options for a single-key call on key: TagsFor's tags for
// key join the call's Tags.
func (c *Cache) keyOptions(key string, opts []Option) (callOptions, error) {
	o, err := c.options(opts)
	if err == nil && o.tagsFor != nil {
		o.tags, err = o.tagsOf(key)
	}
	return o, err
}

// tagsOf returns the tags of key's entry: the call's Tags and, with
// TagsFor, key's own (a new slice then; o.tags otherwise).
func (o *callOptions) tagsOf(key string) ([]string, error) {
	if o.tagsFor == nil {
		return o.tags, nil
	}
	own := o.tagsFor(key)
	for _, t := range own {
		if t == "" {
			return nil, fmt.Errorf("%w: empty tag from TagsFor(%q)", ErrInvalidKey, key)
		}
	}
	tags := appendUnique(o.tags, own)
	if len(tags) > maxTags {
		return nil, fmt.Errorf("%w: more than %d tags on the entry of %q", ErrInvalidOption, maxTags, key)
	}
	return tags, nil
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

// jittered removes up to c.jitter of d at random.
func (c *Cache) jittered(d time.Duration) time.Duration {
	if c.jitter == 0 {
		return d
	}
	return d - time.Duration(rand.Float64()*c.jitter*float64(d))
}
