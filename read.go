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

type entryState uint8

const (
	stMissing entryState = iota // no entry (or the provider failed: see readErr)
	stLease                     // a loader's placeholder
	stFresh                     // servable
	stStale                     // past freshness, inside the caller's stale window
	stExpired                   // past every window but its tags still current: stale-if-error may serve it
	stInvalid                   // tag-invalidated or corrupt: never served
	stAbsent                    // a fresh absent marker (AbsentTTL): RememberMany answers "not found"; any other call a miss
)

// observation is what one call saw of a key: the raw bytes, what they mean,
// and the current versions of the call's tags, all read in one round trip
// (two when the entry carries tags the call did not name).
type observation struct {
	start   time.Time
	raw     []byte
	env     envelope
	state   entryState
	readErr bool
	tags    []string
	tagVers []uint64 // current version of tags[i]; 0 = no record

	// readTags are the tag records read with the entry: tags, then any
	// hinted ones; readVers their versions (tagVers is its prefix) and
	// readRecs the bytes read (readRecs[i] nil: no record).
	readTags []string
	readVers []uint64
	readRecs [][]byte

	// invalidatedAt is when this process last began an invalidation (Unix
	// ns), as of the read.
	invalidatedAt int64
}

// observe reads the entry at skey and the records of tags. Provider failures
// are counted and logged and read as a miss; only the caller's own context
// ending is returned as an error.
func (c *Cache) observe(ctx context.Context, skey string, tags []string, swr time.Duration, b *FailureBudget) (observation, error) {
	obs := observation{start: time.Now(), tags: tags, invalidatedAt: c.invalidatedAt.Load()}
	if b.Spent() {
		// The store failed earlier in this operation: do not ask again.
		obs.readErr = true
		return obs, nil
	}
	// Tags the entry carried when this process last read it are read along
	// with it, so that a tagged entry costs one round trip even when the
	// caller does not name its tags (the HTTP middleware's, say). A wrong or
	// missing hint costs a second round trip, never correctness: every stamp
	// is still checked.
	read := tags
	if hint := c.hints.get(skey); hint != nil {
		read = hint
		if len(tags) > 0 {
			read = append(slices.Clip(tags), hint...)
		}
	}
	if len(read) == 0 {
		raw, err := c.p.Get(ctx, skey)
		switch {
		case err == nil, errors.Is(err, provider.ErrNotFound):
		case errors.Is(err, provider.ErrWrongType):
			c.corrupt(ctx, skey, err) // not ours to keep: deleted, then loaded afresh
			return obs, nil
		default:
			b.spend()
			return obs.failed(c.readFailed(ctx, "GET", err))
		}
		obs.raw = raw
	} else {
		ks := make([]string, 1+len(read))
		ks[0] = skey
		for i, t := range read {
			tk, err := c.tagKey(t)
			if err != nil {
				return obs, err
			}
			ks[1+i] = tk
		}
		vers := make([]uint64, len(read))
		obs.readTags, obs.readVers = read, vers
		obs.tagVers = vers[:len(tags)]
		vals, err := c.p.GetMulti(ctx, ks)
		if err != nil || len(vals) != len(ks) {
			if err == nil {
				err = fmt.Errorf("provider returned %d values for %d keys", len(vals), len(ks))
			}
			b.spend()
			return obs.failed(c.readFailed(ctx, "GET", err))
		}
		obs.raw = vals[0]
		obs.readRecs = vals[1:]
		for i, rec := range obs.readRecs {
			vers[i] = recordVersion(rec)
		}
	}
	return obs.failed(c.judge(ctx, skey, &obs, swr, b))
}

// judge sets obs.state from the bytes read under skey (obs.raw) and the tag
// records read with them (obs.readTags); records of tags the entry carries
// beyond those cost one more round trip. Its error is errReadFailed or the
// caller's context error.
func (c *Cache) judge(ctx context.Context, skey string, obs *observation, swr time.Duration, b *FailureBudget) error {
	if obs.raw == nil {
		obs.state = stMissing
		return nil
	}
	env, err := parseEnvelope(obs.raw)
	if err != nil {
		c.corrupt(ctx, skey, err)
		obs.state = stMissing // corrupt deleted it
		return nil
	}
	obs.env = env
	if env.kind == kindLease {
		obs.state = stLease
		return nil
	}
	ok, err := c.stampsCurrent(ctx, skey, env, obs)
	if err != nil {
		b.spend()
		obs.state = stInvalid
		return err
	}
	switch now := obs.start.UnixMilli(); {
	case !ok || c.pending.covers(env):
		obs.state = stInvalid
	case now < env.freshUntil:
		obs.state = stFresh
	case swr > 0 && now < env.freshUntil+swr.Milliseconds():
		obs.state = stStale
	default:
		obs.state = stExpired
	}
	if env.kind == kindAbsent {
		// Only a fresh marker means anything; past it, it is a dead entry
		// that the next load replaces (compare-and-swap from it).
		if obs.state == stFresh {
			obs.state = stAbsent
		} else {
			obs.state = stInvalid
		}
	}
	return nil
}

// servableOnError reports whether the observed entry may answer a loader
// error: a value whose tags are current, inside the stale-if-error window.
func (obs *observation) servableOnError(window time.Duration) bool {
	switch obs.state {
	case stFresh, stStale, stExpired:
		return time.Now().UnixMilli() < obs.env.freshUntil+window.Milliseconds()
	}
	return false
}

// failed records a provider failure (a miss); only a context error is
// passed on.
func (obs observation) failed(err error) (observation, error) {
	if err == errReadFailed {
		obs.readErr = true
		return obs, nil
	}
	return obs, err
}

// stampsCurrent reports whether every tag stamp in the entry still matches
// its tag's record. Tags the caller named were read with the entry; others
// cost one more round trip.
func (c *Cache) stampsCurrent(ctx context.Context, skey string, env envelope, obs *observation) (bool, error) {
	var extra []string
	var extraVers []uint64
	raw := env.tagsRaw
	for range env.nTags {
		name, ver, rest := nextTag(raw)
		raw = rest
		found := false
		for i, t := range obs.readTags {
			if t == string(name) {
				if obs.readVers[i] != ver {
					return false, nil
				}
				found = true
				break
			}
		}
		if !found {
			extra = append(extra, string(name))
			extraVers = append(extraVers, ver)
		}
	}
	if len(extra) > 0 {
		c.hints.learn(skey, env, obs.tags)
	}
	if len(extra) == 0 {
		return true, nil
	}
	ks := make([]string, len(extra))
	for i, t := range extra {
		tk, err := c.tagKey(t)
		if err != nil {
			return false, nil // a name no Cache writes: not ours to trust
		}
		ks[i] = tk
	}
	vals, err := c.p.GetMulti(ctx, ks)
	if err != nil || len(vals) != len(ks) {
		if err == nil {
			err = fmt.Errorf("provider returned %d values for %d keys", len(vals), len(ks))
		}
		return false, c.readFailed(ctx, "GET tags", err)
	}
	for i, rec := range vals {
		if recordVersion(rec) != extraVers[i] {
			return false, nil
		}
	}
	return true, nil
}

// readFailed turns a provider read failure into a miss: it returns the
// caller's context error if that is what ended the read, and nil otherwise.
func (c *Cache) readFailed(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	c.failed(ctx, "cache "+op+" failed; serving as a miss", "", err)
	return errReadFailed
}

// failed counts and logs a provider failure. A call the circuit breaker
// refused is neither: the breaker counts those (Stats.Rejected) and logs
// its transitions, so that an outage does not flood the log.
func (c *Cache) failed(ctx context.Context, msg, key string, err error) {
	if errors.Is(err, provider.ErrUnavailable) {
		return
	}
	c.stats.errors.Add(1)
	if isTimeout(err) && ctx.Err() == nil {
		c.stats.timeouts.Add(1)
	}
	if key == "" {
		c.log.WarnContext(ctx, msg, "err", err)
	} else {
		c.log.WarnContext(ctx, msg, "key", logKey(key), "err", err)
	}
}

// errReadFailed marks an observation made while the provider failed; callers
// treat it as a miss and never return it.
var errReadFailed = errors.New("aside: provider read failed")

// corrupt counts undecodable bytes and deletes them so the next read loads
// afresh.
func (c *Cache) corrupt(ctx context.Context, skey string, err error) {
	c.stats.decodeFailures.Add(1)
	c.log.WarnContext(ctx, "cache entry could not be decoded; deleting it", "err", err)
	if _, derr := c.p.Delete(ctx, skey); derr != nil && ctx.Err() == nil {
		c.failed(ctx, "cache DELETE of an undecodable entry failed", "", derr)
	}
}

// tagKey returns the stored key of tag's record. Hot tags' keys are kept (up
// to maxCachedTagKeys of them) so that a tagged hit does not rebuild them.
func (c *Cache) tagKey(tag string) (string, error) {
	c.tagKeys.mu.RLock()
	tk, ok := c.tagKeys.m[tag]
	c.tagKeys.mu.RUnlock()
	if ok {
		return tk, nil
	}
	tk, err := c.keys.Tag(tag)
	if err != nil {
		return "", fmt.Errorf("%w: tag: %w", ErrInvalidKey, err)
	}
	c.tagKeys.mu.Lock()
	if len(c.tagKeys.m) < maxCachedTagKeys {
		if c.tagKeys.m == nil {
			c.tagKeys.m = make(map[string]string)
		}
		c.tagKeys.m[tag] = tk
	}
	c.tagKeys.mu.Unlock()
	return tk, nil
}

const maxCachedTagKeys = 4096

type tagKeyCache struct {
	mu sync.RWMutex
	m  map[string]string
}

// Bounds of the tag hints a Cache keeps: a count, and bytes (the keys and
// tag names held, about what they cost in memory). When either is reached,
// arbitrary hints make room: a missing hint only costs a second round trip.
const (
	maxHints     = 16384
	maxHintBytes = 4 << 20
)

// tagHints remembers, per stored key, the tags its entry carried beyond
// those the caller named, so the next read fetches their records with the
// entry. Bounded by maxHints and maxHintBytes.
type tagHints struct {
	any   atomic.Bool // false until the first hint: untagged caches skip the lock
	mu    sync.RWMutex
	m     map[string][]string
	bytes int
}

func (h *tagHints) get(skey string) []string {
	if !h.any.Load() {
		return nil
	}
	h.mu.RLock()
	t := h.m[skey]
	h.mu.RUnlock()
	return t
}

func hintSize(skey string, tags []string) int {
	n := len(skey) + 64
	for _, t := range tags {
		n += len(t) + 16
	}
	return n
}

// learn records the entry's tags that the caller did not name.
func (h *tagHints) learn(skey string, env envelope, named []string) {
	var tags []string
	raw := env.tagsRaw
	for range env.nTags {
		name, _, rest := nextTag(raw)
		raw = rest
		if !slices.Contains(named, string(name)) {
			tags = append(tags, string(name))
		}
	}
	size := hintSize(skey, tags)
	if size > maxHintBytes/64 {
		return // one hint may not take a large share of the budget
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[string][]string)
	}
	if old, ok := h.m[skey]; ok {
		h.bytes -= hintSize(skey, old)
		delete(h.m, skey)
	}
	for k, v := range h.m {
		if len(h.m) < maxHints && h.bytes+size <= maxHintBytes {
			break
		}
		h.bytes -= hintSize(k, v)
		delete(h.m, k)
	}
	h.m[skey] = tags
	h.bytes += size
	h.any.Store(true)
}
