package aside

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/provider"
)

// ErrInvalidationPending wraps the error of an InvalidateTagsEventually whose
// first attempt failed: the invalidation is being retried in the background.
var ErrInvalidationPending = errors.New("aside: invalidation failed; retrying in the background")

// Retry pacing of pending invalidations: exponential backoff with full
// jitter between these bounds, each attempt bounded by retryAttemptTimeout.
const (
	retryMinWait        = 100 * time.Millisecond
	retryMaxWait        = 5 * time.Second
	retryAttemptTimeout = 5 * time.Second
)

// InvalidateTagsEventually is InvalidateTags for callers who must not lose
// an invalidation to a store that is down, such as a handler that has just
// written to the database. When the first attempt fails it returns that
// error wrapped with ErrInvalidationPending and keeps retrying in the
// background, with backoff, until an attempt succeeds, the Cache is closed,
// or every entry the invalidation guards has expired (the longest lifetime
// this Cache has written, counted from the first attempt). Meanwhile this
// process serves no entry carrying a pending tag (they read as misses);
// other processes may, until the retry lands. Retries are counted in
// Stats.InvalidationRetries and Stats.InvalidationsPending, and logged.
func (c *Cache) InvalidateTagsEventually(ctx context.Context, tags ...string) error {
	err := c.InvalidateTags(ctx, tags...)
	if err == nil || errors.Is(err, ErrInvalidKey) || errors.Is(err, ErrClosed) {
		return err
	}
	items, ierr := c.invalidationItems(tags)
	if ierr != nil {
		return ierr
	}
	deadline := time.Now().Add(time.Duration(c.maxLife.Load()))
	own := append([]string(nil), tags...)
	c.pending.add(own)
	if c.near != nil {
		// This process serves none of them meanwhile, from its near tier
		// either (a fill racing this is refused by the generation).
		c.near.apply(invalidation{tags: own})
	}
	c.stats.invalidationsPending.Add(1)
	if !c.workers.goBackground(func() { c.retryInvalidation(own, items, deadline) }) {
		c.pending.remove(own)
		c.stats.invalidationsPending.Add(-1)
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrInvalidationPending, err)
}

func (c *Cache) retryInvalidation(tags []string, items []provider.Item, deadline time.Time) {
	defer func() {
		c.pending.remove(tags)
		c.stats.invalidationsPending.Add(-1)
	}()
	wait := retryMinWait
	for attempt := 1; ; attempt++ {
		sleep := time.Duration(rand.Int64N(int64(wait))) + time.Millisecond
		t := time.NewTimer(sleep)
		select {
		case <-t.C:
		case <-*c.recovered.Load(): // the store is back: try now
			t.Stop()
			wait = retryMinWait
		case <-c.bgCtx.Done():
			t.Stop()
			c.log.Warn("cache INVALIDATE abandoned: the cache closed while it was pending", "tags", len(tags), "attempts", attempt)
			return
		}
		if time.Now().After(deadline) {
			c.log.Info("cache INVALIDATE no longer needed: every entry it guarded has expired", "tags", len(tags), "attempts", attempt)
			return
		}
		c.stats.invalidationRetries.Add(1)
		ctx, cancel := context.WithTimeout(c.bgCtx, retryAttemptTimeout)
		err := c.writeInvalidation(ctx, items)
		if err == nil {
			// The store is written; the other processes' near tiers must
			// hear of it before the invalidation counts as done.
			err = c.nearInvalidate(ctx, invalidation{tags: tags})
		}
		cancel()
		if err == nil {
			c.invalidated(c.bgCtx, tags)
			c.log.Info("cache INVALIDATE succeeded on retry", "tags", len(tags), "attempts", attempt+1)
			return
		}
		if !errors.Is(err, provider.ErrUnavailable) {
			c.stats.errors.Add(1)
			if attempt == 1 || attempt%10 == 0 {
				c.log.Warn("cache INVALIDATE retry failed", "tags", len(tags), "attempts", attempt+1, "err", err)
			}
		}
		wait = min(2*wait, retryMaxWait)
	}
}

// pendingTags counts, per tag, the pending invalidations that name it.
type pendingTags struct {
	n  atomic.Int64 // tags with a pending invalidation; 0 keeps reads off the lock
	mu sync.RWMutex
	m  map[string]int
}

func (p *pendingTags) add(tags []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = make(map[string]int)
	}
	for _, t := range tags {
		if p.m[t] == 0 {
			p.n.Add(1)
		}
		p.m[t]++
	}
}

func (p *pendingTags) remove(tags []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range tags {
		if p.m[t]--; p.m[t] <= 0 {
			delete(p.m, t)
			p.n.Add(-1)
		}
	}
}

// covers reports whether the entry carries a tag whose invalidation is
// pending.
func (p *pendingTags) covers(env envelope) bool {
	if p.n.Load() == 0 {
		return false
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	raw := env.tagsRaw
	for range env.nTags {
		name, _, rest := nextTag(raw)
		raw = rest
		if p.m[string(name)] > 0 {
			return true
		}
	}
	return false
}
