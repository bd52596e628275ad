package aside

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/provider"
)

// How tags work (one design, chosen for O(1) invalidation that holds across
// processes and Redis Cluster slots):
//
// Every tag has a version record, a 28-byte value under its own key (an
// 8-byte random version, the time of the invalidation that wrote it, how long
// it is kept, and a checksum). Before a loader runs, the Cache reads the
// records of the entry's tags (in the same round trip as the entry itself,
// when the caller names the tags), creates missing ones with Add (one round
// trip for all of them with provider.MultiAdder) and replaces garbled ones
// with CompareAndSwap, then stamps the entry with those versions. A read
// serves an entry only if every stamp still equals its tag's current record.
// InvalidateTags writes a fresh random version to each tag: one write per tag
// whatever the number of entries, and every entry stamped earlier, including
// one a slow loader stores after the invalidation returned, is dead on
// arrival.
//
// Bookkeeping is bounded and heals itself: a record that expires or is
// evicted also kills its entries (a false miss, never a stale hit); a record
// that does not parse is replaced by the next writer; and a record lives
// about as long as the entries stamped with it: a reader creates it for twice
// the lifetime of the entry it is about to store, and a writer whose entry
// would outlive it extends it (same version, so nothing is invalidated). An
// invalidation's record lives twice LeaseTTL (plus the clock-skew margin):
// long enough for every loader that may still store to see it, after which
// its absence invalidates just as well.
//
// Records live in their own keys; no command ever spans an entry and its
// tags, so nothing is co-located on a Redis Cluster slot.

// skewMargin absorbs clock differences between processes when a tag named
// during a load (LoadTags) is compared with its last invalidation time.
const skewMargin = time.Second

// captureTags returns stamps for tags. known[i], when present, holds the
// bytes already read under tags[i]'s key (nil: none); records that are
// missing are created, to be kept for at least keep, and garbled ones are
// replaced. When since is not zero (LoadTags), changed reports that a tag
// was invalidated at or after since (less skewMargin).
func (c *Cache) captureTags(ctx context.Context, tags []string, known [][]byte, since time.Time, keep time.Duration) (stamps []stamp, changed bool, err error) {
	if len(tags) == 0 {
		return nil, false, nil
	}
	stamps = make([]stamp, len(tags))
	var fetch []int
	for i, t := range tags {
		stamps[i].name = t
		if i < len(known) {
			if r, st := parseTagRecord(known[i]); st == recOK {
				stamps[i].version, stamps[i].rec = r.version, known[i]
				continue
			}
		}
		fetch = append(fetch, i)
	}
	if len(fetch) == 0 {
		return stamps, false, nil
	}
	keep = max(keep, time.Millisecond)
	keptUntil := time.Now().Add(2 * keep)
	items := make([]provider.Item, len(fetch))
	for j, i := range fetch {
		tk, err := c.tagKey(tags[i])
		if err != nil {
			return nil, false, err
		}
		items[j] = provider.Item{Key: tk, Value: newTagRecord(time.Time{}, keptUntil), TTL: 2 * keep}
	}
	res, err := c.addMulti(ctx, items)
	if err != nil {
		if errors.Is(err, provider.ErrWrongType) {
			// Something else sits under a tag key: drop them all (that
			// only invalidates), so the next writer creates records.
			ks := make([]string, len(items))
			for j, it := range items {
				ks[j] = it.Key
			}
			_, _ = c.p.Delete(ctx, ks...)
		}
		return nil, false, fmt.Errorf("create tag records: %w", err)
	}
	for j, i := range fetch {
		rec := items[j].Value
		if !res[j].Added {
			rec = res[j].Existing
		}
		r, st := parseTagRecord(rec)
		if st != recOK {
			if rec, err = c.repairRecord(ctx, items[j], rec); err != nil {
				return nil, false, err
			}
			r, _ = parseTagRecord(rec)
		}
		stamps[i].version, stamps[i].rec = r.version, rec
		if !since.IsZero() && r.invalidatedAt >= since.Add(-skewMargin).UnixNano() {
			changed = true
		}
	}
	return stamps, changed, nil
}

// addMulti adds items in one round trip when the provider can, else one by
// one, stopping at the first failure.
func (c *Cache) addMulti(ctx context.Context, items []provider.Item) ([]provider.AddResult, error) {
	if ma, ok := c.p.(provider.MultiAdder); ok && len(items) > 1 {
		res, err := ma.AddMulti(ctx, items)
		if err == nil && len(res) != len(items) {
			err = fmt.Errorf("provider answered %d results for %d items", len(res), len(items))
		}
		return res, err
	}
	res := make([]provider.AddResult, len(items))
	for i, it := range items {
		existing, added, err := c.p.Add(ctx, it.Key, it.Value, it.TTL)
		if err != nil {
			return nil, err
		}
		res[i] = provider.AddResult{Added: added, Existing: existing}
	}
	return res, nil
}

// repairRecord replaces bytes under a tag key that are not a record (found
// by Add) with the fresh record of it, and returns the record now in place.
// Replacing a garbled record only invalidates the entries that carried it.
func (c *Cache) repairRecord(ctx context.Context, it provider.Item, garbled []byte) ([]byte, error) {
	c.stats.repairs.Add(1)
	c.log.WarnContext(ctx, "cache tag record garbled; replacing it")
	ok, err := c.p.CompareAndSwap(ctx, it.Key, garbled, it.Value, it.TTL)
	if err != nil {
		return nil, fmt.Errorf("replace a garbled tag record: %w", err)
	}
	if ok {
		return it.Value, nil
	}
	// Someone else wrote it meanwhile: take theirs if it is a record.
	cur, err := c.p.Get(ctx, it.Key)
	if err != nil {
		return nil, fmt.Errorf("read a replaced tag record: %w", err)
	}
	if _, st := parseTagRecord(cur); st != recOK {
		return nil, fmt.Errorf("tag record: %w", ErrCorruptEntry)
	}
	return cur, nil
}

// keepRecords makes sure the record behind every stamp is kept until at
// least until, extending those that would expire earlier to twice the
// entry's remaining lifetime, with the same version (so nothing stamped with
// it is invalidated). It reports false when a record changed version
// meanwhile: the entry stamped with it is dead and must not be stored.
func (c *Cache) keepRecords(ctx context.Context, stamps []stamp, until time.Time) (bool, error) {
	for _, s := range stamps {
		if ok, err := c.keepRecord(ctx, s, until); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

func (c *Cache) keepRecord(ctx context.Context, s stamp, until time.Time) (bool, error) {
	cur := s.rec
	for range 3 { // concurrent writers extending the same record
		r, st := parseTagRecord(cur)
		if st != recOK || r.version != s.version {
			return false, nil
		}
		if r.keptUntil >= until.UnixMilli() {
			return true, nil
		}
		now := time.Now()
		keep := 2 * until.Sub(now)
		if keep <= 0 {
			return true, nil
		}
		r.keptUntil = now.Add(keep).UnixMilli()
		tk, err := c.tagKey(s.name)
		if err != nil {
			return false, err
		}
		ok, err := c.p.CompareAndSwap(ctx, tk, cur, r.encode(), keep)
		if err != nil || ok {
			return ok, err
		}
		if cur, err = c.p.Get(ctx, tk); err != nil {
			if errors.Is(err, provider.ErrNotFound) {
				return false, nil
			}
			return false, err
		}
	}
	return false, nil
}

// tagsChanged re-reads the records of stamps; any difference, or a failure
// to read, counts as changed. The failure is returned to be counted.
func (c *Cache) tagsChanged(ctx context.Context, stamps []stamp) (bool, error) {
	ks := make([]string, len(stamps))
	for i, s := range stamps {
		tk, err := c.tagKey(s.name)
		if err != nil {
			return true, nil
		}
		ks[i] = tk
	}
	vals, err := c.p.GetMulti(ctx, ks)
	if err == nil && len(vals) != len(ks) {
		err = fmt.Errorf("provider returned %d values for %d keys", len(vals), len(ks))
	}
	if err != nil {
		return true, err
	}
	for i, rec := range vals {
		if recordVersion(rec) != stamps[i].version {
			return true, nil
		}
	}
	return false, nil
}

// InvalidateTags makes every entry carrying any of tags a miss, everywhere,
// in one provider round trip (for providers with provider.Batcher) whatever
// the number of entries. Once it returns, no Get or Remember returns a value
// loaded before it began. A failure is returned: the caller must know that
// stale data may still be served (or use InvalidateTagsEventually).
func (c *Cache) InvalidateTags(ctx context.Context, tags ...string) error {
	if c.closed.Load() {
		return ErrClosed
	}
	items, err := c.invalidationItems(tags)
	if err != nil || len(items) == 0 {
		return err
	}
	c.invalidating()
	if err := c.writeInvalidation(ctx, items); err != nil {
		c.failed(ctx, "cache INVALIDATE tags failed", "", err)
		return fmt.Errorf("aside: invalidate tags: %w", err)
	}
	c.invalidated(ctx, tags)
	if err := c.nearInvalidate(ctx, invalidation{tags: tags}); err != nil {
		return fmt.Errorf("aside: invalidate tags: %w", err)
	}
	return nil
}

// invalidationItems returns the writes that invalidate tags, or an error
// for an empty or unusable tag.
func (c *Cache) invalidationItems(tags []string) ([]provider.Item, error) {
	items := make([]provider.Item, len(tags))
	for i, t := range tags {
		if t == "" {
			return nil, fmt.Errorf("%w: empty tag", ErrInvalidKey)
		}
		tk, err := c.tagKey(t)
		if err != nil {
			return nil, err
		}
		items[i] = provider.Item{Key: tk}
	}
	return items, nil
}

// writeInvalidation writes a fresh record to every item's key. The record
// is kept twice LeaseTTL plus the skew margin: every loader that may still
// store its result sees the invalidation (LoadTags), and once it is gone its
// absence invalidates the older stamps just as well.
func (c *Cache) writeInvalidation(ctx context.Context, items []provider.Item) error {
	now := time.Now()
	keep := 2*c.leaseTTL + skewMargin
	for i := range items {
		items[i].Value, items[i].TTL = newTagRecord(now, now.Add(keep)), keep
	}
	if b, ok := c.p.(provider.Batcher); ok {
		return b.SetMulti(ctx, items)
	}
	for _, it := range items {
		if err := c.p.Set(ctx, it.Key, it.Value, it.TTL); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cache) invalidated(ctx context.Context, tags []string) {
	c.stats.invalidations.Add(int64(len(tags)))
	if c.debug(ctx) {
		c.log.DebugContext(ctx, "cache INVALIDATE", "tags", tags)
	}
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
	c.invalidating()
	n, err := pd.DeletePattern(ctx, pattern)
	c.stats.patternDeletes.Add(int64(n))
	if errors.Is(err, provider.ErrNotSupported) {
		return n, fmt.Errorf("%w: InvalidatePattern needs a provider.PatternDeleter", ErrNotSupported)
	}
	if err != nil {
		c.failed(ctx, "cache INVALIDATE pattern failed", "", err)
		_ = c.nearInvalidate(ctx, invalidation{patterns: []string{pattern}}) // some may be gone
		return n, fmt.Errorf("aside: invalidate pattern: %w", err)
	}
	if err := c.nearInvalidate(ctx, invalidation{patterns: []string{pattern}}); err != nil {
		return n, fmt.Errorf("aside: invalidate pattern: %w", err)
	}
	if c.debug(ctx) {
		c.log.DebugContext(ctx, "cache INVALIDATE pattern", "pattern", logKey(glob), "deleted", n)
	}
	return n, nil
}

// loadState is what a running loader can add to its entry through its ctx.
type loadState struct {
	c          *Cache
	start      time.Time
	background bool
	static     []string      // the call's Tags
	keep       time.Duration // the entry's expected lifetime, for records LoadTags creates
	// spent is the operation's failure budget: set once a provider call of
	// this load (or the read before it) failed; nothing more is sent.
	// budget, when the call was given one, is told too.
	spent  atomic.Bool
	budget *FailureBudget

	mu      sync.Mutex
	stamps  []stamp
	ttl     time.Duration
	noStore bool
	changed bool
}

// fail spends the operation's failure budget on err: counted and logged
// unless the load's own context ended.
func (ls *loadState) fail(ctx context.Context, op, key string, err error) {
	ls.spent.Store(true)
	ls.budget.spend()
	if ctx.Err() == nil {
		ls.c.writeFailed(ctx, op, key, err)
	}
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
//
// It fails only for bad input: an empty tag (ErrInvalidKey), more than 64
// tags on one entry counting the call's Tags (ErrInvalidOption), or a ctx
// that is not a loader's (ErrNotLoading). A store that fails never reaches
// the loader: the failure is counted and logged, and the result is simply
// not stored.
func LoadTags(ctx context.Context, tags ...string) error {
	ls, err := loading(ctx)
	if err != nil {
		return err
	}
	ls.mu.Lock()
	var add []string
	for _, t := range tags {
		if t == "" {
			ls.mu.Unlock()
			return fmt.Errorf("%w: empty tag", ErrInvalidKey)
		}
		if slices.Contains(ls.static, t) || slices.Contains(add, t) || slices.ContainsFunc(ls.stamps, func(s stamp) bool { return s.name == t }) {
			continue
		}
		add = append(add, t)
	}
	if n := len(ls.static) + len(ls.stamps) + len(add); n > maxTags {
		ls.noStore = true
		ls.mu.Unlock()
		return fmt.Errorf("%w: %d tags on one entry (Tags and LoadTags together); at most %d", ErrInvalidOption, n, maxTags)
	}
	ls.mu.Unlock()
	if len(add) == 0 {
		return nil
	}
	for _, t := range add {
		if _, err := ls.c.tagKey(t); err != nil {
			return err
		}
	}
	if ls.spent.Load() {
		ls.mu.Lock()
		ls.noStore = true
		ls.mu.Unlock()
		return nil
	}
	stamps, changed, err := ls.c.captureTags(ctx, add, nil, ls.start, ls.keep)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if err != nil {
		ls.noStore = true
		ls.fail(ctx, "stamp tags", "", err)
		return nil
	}
	ls.stamps = append(ls.stamps, stamps...)
	ls.changed = ls.changed || changed
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
