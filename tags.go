package aside

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aside-go/aside/provider"
)

// How tags work (one design, chosen for O(1) invalidation that holds across
// processes and Redis Cluster slots):
//
// Every tag has a version record, a 16-byte value under its own key (an
// 8-byte random version and the time of the invalidation that wrote it),
// living TagTTL. Before a loader runs, the Cache reads the records of the
// entry's tags (in the same round trip as the entry itself, when the caller
// names the tags) and creates missing ones with Add, then stamps the entry
// with those versions. A read serves an entry only if every stamp still
// equals its tag's current record. InvalidateTags writes a fresh random
// version to each tag: one write per tag whatever the number of entries, and
// every entry stamped earlier, including one a slow loader stores after the
// invalidation returned, is dead on arrival. A record that expires or is
// evicted also kills its entries (a false miss, never a stale hit), so the
// bookkeeping is bounded by TagTTL and by the store's own eviction.
//
// Records live in their own keys; no command ever spans an entry and its
// tags, so nothing is co-located on a Redis Cluster slot.

// skewMargin absorbs clock differences between processes when a tag named
// during a load (LoadTags) is compared with its last invalidation time.
const skewMargin = time.Second

// captureTags returns stamps for tags. known holds versions already read
// (0 = no record seen); missing records are created. When since is not zero
// (LoadTags), every record is read here and changed reports that a tag was
// invalidated at or after since (less skewMargin).
func (c *Cache) captureTags(ctx context.Context, tags []string, known []uint64, since time.Time) (stamps []stamp, changed bool, err error) {
	if len(tags) == 0 {
		return nil, false, nil
	}
	stamps = make([]stamp, len(tags))
	var fetch []int
	for i, t := range tags {
		stamps[i].name = t
		if i < len(known) && known[i] != 0 {
			stamps[i].version = known[i]
			continue
		}
		fetch = append(fetch, i)
	}
	for _, i := range fetch {
		tk, err := c.tagKey(tags[i])
		if err != nil {
			return nil, false, err
		}
		rec := newTagRecord(time.Time{})
		existing, added, err := c.p.Add(ctx, tk, rec, c.tagTTL)
		if err != nil {
			return nil, false, fmt.Errorf("create tag record %q: %w", tags[i], err)
		}
		if added {
			existing = rec
		}
		v, inv := parseTagRecord(existing)
		if v == 0 {
			return nil, false, fmt.Errorf("tag record %q: %w", tags[i], ErrCorruptEntry)
		}
		stamps[i].version = v
		if !since.IsZero() && inv >= since.Add(-skewMargin).UnixNano() {
			changed = true
		}
	}
	return stamps, changed, nil
}

// tagsChanged re-reads the records of stamps; any difference, or a failure
// to read, counts as changed.
func (c *Cache) tagsChanged(ctx context.Context, stamps []stamp) bool {
	ks := make([]string, len(stamps))
	for i, s := range stamps {
		tk, err := c.tagKey(s.name)
		if err != nil {
			return true
		}
		ks[i] = tk
	}
	vals, err := c.p.GetMulti(ctx, ks)
	if err != nil || len(vals) != len(ks) {
		return true
	}
	for i, rec := range vals {
		if v, _ := parseTagRecord(rec); v != stamps[i].version {
			return true
		}
	}
	return false
}

// InvalidateTags makes every entry carrying any of tags a miss, everywhere,
// in one provider round trip (for providers with provider.Batcher) whatever
// the number of entries. Once it returns, no Get or Remember returns a value
// loaded before it began. A failure is returned: the caller must know that
// stale data may still be served.
func (c *Cache) InvalidateTags(ctx context.Context, tags ...string) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if len(tags) == 0 {
		return nil
	}
	now := time.Now()
	items := make([]provider.Item, len(tags))
	for i, t := range tags {
		if t == "" {
			return fmt.Errorf("%w: empty tag", ErrInvalidKey)
		}
		tk, err := c.tagKey(t)
		if err != nil {
			return err
		}
		items[i] = provider.Item{Key: tk, Value: newTagRecord(now), TTL: c.tagTTL}
	}
	var err error
	if b, ok := c.p.(provider.Batcher); ok {
		err = b.SetMulti(ctx, items)
	} else {
		for _, it := range items {
			if err = c.p.Set(ctx, it.Key, it.Value, it.TTL); err != nil {
				break
			}
		}
	}
	if err != nil {
		c.stats.errors.Add(1)
		c.log.WarnContext(ctx, "cache INVALIDATE tags failed", "tags", tags, "err", err)
		return fmt.Errorf("aside: invalidate tags: %w", err)
	}
	c.stats.invalidations.Add(int64(len(tags)))
	if c.debug(ctx) {
		c.log.DebugContext(ctx, "cache INVALIDATE", "tags", tags)
	}
	return nil
}

// InvalidatePattern deletes the entries of this cache's namespace whose keys
// match glob (Redis glob syntax: '*', '?', '[a-z]', '\' escapes) and returns
// how many it removed. It is not the fast path: the provider walks its keys
// in bounded batches (SCAN and UNLINK on every Redis master; an in-process
// match on the memory provider), so its cost grows with the store's size.
// Entries written while it runs may survive; a loader whose lease it deletes
// stores nothing.
func (c *Cache) InvalidatePattern(ctx context.Context, glob string) (int, error) {
	if c.closed.Load() {
		return 0, ErrClosed
	}
	pd, ok := c.p.(provider.PatternDeleter)
	if !ok {
		return 0, fmt.Errorf("%w: InvalidatePattern needs a provider.PatternDeleter", ErrNotSupported)
	}
	pattern, err := c.keys.EntryPattern(glob)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	n, err := pd.DeletePattern(ctx, pattern)
	c.stats.patternDeletes.Add(int64(n))
	if err != nil {
		c.stats.errors.Add(1)
		return n, fmt.Errorf("aside: invalidate pattern: %w", err)
	}
	if c.debug(ctx) {
		c.log.DebugContext(ctx, "cache INVALIDATE pattern", "pattern", glob, "deleted", n)
	}
	return n, nil
}

// loadState is what a running loader can add to its entry through its ctx.
type loadState struct {
	c          *Cache
	start      time.Time
	background bool

	mu      sync.Mutex
	stamps  []stamp
	ttl     time.Duration
	noStore bool
	changed bool
}

type loadStateKey struct{}

// ErrNotLoading is returned by LoadTags, LoadTTL and DontStore when ctx is
// not a loader's context from Remember.
var ErrNotLoading = errors.New("aside: not inside a Remember loader")

func loading(ctx context.Context) (*loadState, error) {
	ls, ok := ctx.Value(loadStateKey{}).(*loadState)
	if !ok {
		return nil, ErrNotLoading
	}
	return ls, nil
}

// LoadTags adds tags to the entry a running loader is producing, for tags
// known only once loading has begun (the HTTP middleware uses it). Name tags
// before reading the data they cover: a tag is stamped when named, and an
// invalidation of it after that, or within a second (clock skew) before the
// load began, keeps the result from being stored. Tags known up front belong
// in Tags, which is stricter and cheaper.
func LoadTags(ctx context.Context, tags ...string) error {
	ls, err := loading(ctx)
	if err != nil {
		return err
	}
	for _, t := range tags {
		if t == "" {
			return fmt.Errorf("%w: empty tag", ErrInvalidKey)
		}
	}
	stamps, changed, err := ls.c.captureTags(ctx, tags, nil, ls.start)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err != nil {
		ls.noStore = true
		return fmt.Errorf("aside: load tags: %w", err)
	}
	ls.stamps = append(ls.stamps, stamps...)
	ls.changed = ls.changed || changed
	if len(ls.stamps) > maxTags {
		ls.noStore = true
		return fmt.Errorf("%w: more than %d tags on one entry", ErrInvalidOption, maxTags)
	}
	return nil
}

// Refreshing reports whether ctx is the context of a loader that runs as a
// background stale-while-revalidate refresh: the Remember call that started
// it has already returned the stale value, so the loader must not use
// anything that belongs to that caller (the HTTP middleware's request).
func Refreshing(ctx context.Context) bool {
	ls, err := loading(ctx)
	return err == nil && ls.background
}

// LoadTTL sets the freshness of the entry a running loader is producing,
// overriding the call's TTL (the middleware uses it for Cache-Control
// max-age).
func LoadTTL(ctx context.Context, d time.Duration) error {
	ls, err := loading(ctx)
	if err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("%w: LoadTTL must be positive, got %v", ErrInvalidOption, d)
	}
	ls.mu.Lock()
	ls.ttl = d
	ls.mu.Unlock()
	return nil
}

// DontStore makes Remember return the running loader's value without caching
// it (for example an HTTP response that turned out to be private).
func DontStore(ctx context.Context) error {
	ls, err := loading(ctx)
	if err != nil {
		return err
	}
	ls.mu.Lock()
	ls.noStore = true
	ls.mu.Unlock()
	return nil
}
