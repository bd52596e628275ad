package aside

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aside-go/aside/provider"
)

// GetMany returns the values cached under keys, in one provider round trip
// for all of them and their tags (plus one for the whole batch when entries
// carry tags the call did not name and this process has not seen yet). A
// key that misses is absent from the map; misses include a provider that
// fails (fail open) and absent markers (AbsentTTL). err is only for bad
// input, a closed cache or the caller's context. Each key counts as a hit
// or a miss in Stats.
func GetMany[T any](ctx context.Context, c *Cache, keys []string, opts ...Option) (map[string]T, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	o, err := c.options(opts)
	if err != nil {
		return nil, err
	}
	slots, _, err := c.slotsFor(&o, len(keys), func(i int) string { return keys[i] })
	if err != nil {
		return nil, err
	}
	if len(slots) == 0 {
		return map[string]T{}, nil
	}
	out := make(map[string]T, len(slots))
	var tk nearTicket
	if c.near != nil {
		slots, tk = nearMany(ctx, c, slots, o.budget, func(s *slot, v T) { out[s.key] = v })
		if len(slots) == 0 {
			return out, nil
		}
	}
	if err := c.readMany(ctx, slots, &o, 0, false); err != nil {
		return nil, err
	}
	for _, s := range slots {
		if s.obs.state == stFresh {
			var v T
			if err := c.unmarshal(ctx, s.obs.env.payload, &v, o.budget); err == nil {
				out[s.key] = v
				if c.near != nil {
					nearFill(c, tk, s.skey, s.obs.env, v)
				}
				c.hit(ctx, s.key, false)
				c.stats.batchHits.Add(1)
				continue
			} else {
				c.corrupt(ctx, s.skey, err)
			}
		}
		c.miss(ctx, s.key)
		c.stats.batchMisses.Add(1)
	}
	return out, nil
}

// SetMany stores every value of values under its key, after the redaction
// filter, with the TTL and tags of opts (TagsFor gives each key its own),
// in one provider round trip (provider.Batcher; one Set per key without
// it), plus one for the records of the tags when the entries are tagged.
// Like Set it returns provider errors: the caller asked for a write; on
// error some entries may have been stored.
func SetMany[T any](ctx context.Context, c *Cache, values map[string]T, opts ...Option) error {
	if c.closed.Load() {
		return ErrClosed
	}
	o, err := c.options(opts)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a stable order of writes and errors
	slots, _, err := c.slotsFor(&o, len(keys), func(i int) string { return keys[i] })
	if err != nil {
		return err
	}
	if len(slots) == 0 {
		return nil
	}
	return c.setMany(ctx, slots, func(s *slot) any { return values[s.key] }, o)
}

func (c *Cache) setMany(ctx context.Context, slots []*slot, value func(*slot) any, o callOptions) error {
	life := o.ttl + o.grace()
	var union []string
	for _, s := range slots {
		union = appendUnique(union, s.obs.tags)
	}
	stamps, _, err := c.captureTags(ctx, union, nil, time.Time{}, life)
	if err != nil {
		if !errors.Is(err, ErrInvalidKey) {
			c.failed(ctx, "cache SET tags failed", "", err)
		}
		return fmt.Errorf("aside: set many: %w", err)
	}
	byName := make(map[string]stamp, len(stamps))
	for _, st := range stamps {
		byName[st.name] = st
	}
	type write struct {
		s        *slot
		payload  []byte
		raw      int
		entry    []byte
		life     time.Duration
		entryTag []stamp
	}
	writes := make([]write, len(slots))
	now := time.Now()
	var until time.Time
	for i, s := range slots {
		_, payload, raw, err := c.encode(value(s))
		if err != nil {
			return fmt.Errorf("aside: set %q: %w", s.key, err)
		}
		ttl := c.jittered(o.ttl)
		freshUntil := now.Add(ttl)
		until = later(until, freshUntil.Add(o.grace()))
		w := write{s: s, payload: payload, raw: raw, life: ttl + o.grace()}
		for _, t := range s.obs.tags {
			w.entryTag = append(w.entryTag, byName[t])
		}
		w.entry = newEntry(freshUntil, w.entryTag, payload)
		writes[i] = w
	}
	dead := map[string]bool{}
	for _, st := range stamps {
		ok, err := c.keepRecord(ctx, st, until)
		if err != nil {
			c.failed(ctx, "cache SET tags failed", "", err)
			return fmt.Errorf("aside: set many: %w", err)
		}
		dead[st.name] = !ok
	}
	items := make([]provider.Item, 0, len(writes))
	kept := writes[:0]
	for _, w := range writes {
		if slices.ContainsFunc(w.entryTag, func(st stamp) bool { return dead[st.name] }) {
			continue // a tag was invalidated meanwhile: the entry would be dead on arrival
		}
		items = append(items, provider.Item{Key: w.s.skey, Value: w.entry, TTL: w.life})
		kept = append(kept, w)
	}
	if len(items) == 0 {
		return nil
	}
	var written invalidation
	if c.near != nil {
		written.keys = make([]string, len(items))
		for i, it := range items {
			written.keys[i] = it.Key
		}
	}
	if err := c.setMulti(ctx, items); err != nil {
		c.failed(ctx, "cache SET failed", "", err)
		_ = c.nearInvalidate(ctx, written) // some may have been stored
		return fmt.Errorf("aside: set many: %w", err)
	}
	for _, w := range kept {
		c.wrote(ctx, w.s.key, w.life, w.raw, len(w.payload), len(w.entry))
	}
	if err := c.nearInvalidate(ctx, written); err != nil {
		return fmt.Errorf("aside: set many: %w", err)
	}
	return nil
}

// setMulti writes items in one round trip when the provider can, else one
// by one, stopping at the first failure.
func (c *Cache) setMulti(ctx context.Context, items []provider.Item) error {
	if b, ok := c.p.(provider.Batcher); ok && len(items) > 1 {
		return b.SetMulti(ctx, items)
	}
	for _, it := range items {
		if err := c.p.Set(ctx, it.Key, it.Value, it.TTL); err != nil {
			return err
		}
	}
	return nil
}

// RememberMany is Remember for many IDs at once: it returns the values
// cached under keyOf(id) for every id, and calls load once, with only the
// IDs whose keys missed, for the rest. load returns what it found; an ID it
// leaves out is not found: it is absent from the result (and, with
// AbsentTTL, remembered as absent), and the call does not fail.
//
// What it costs, for a batch of N keys of which M miss, on a provider with
// provider.MultiGetAdder and provider.MultiSwapper (memory, redis,
// rueidis, upstash and the dual composites natively, and every provider
// behind the Cache's circuit breaker, emulated there one call per key when
// the provider lacks them): one read round trip for the
// entries and their tags that also takes the leases of the M missing keys,
// one call of load with the M IDs, and one write round trip that stores
// them through those leases. Entries carrying tags the call does not name
// cost one more read for the batch (once per process, then hinted), and a
// tag record that must be extended to outlive the new entries one write
// per tag.
//
// Every guarantee of Remember holds per key:
//
//   - Stampede protection: a missing key that this process is already
//     loading (by Remember or another RememberMany) is joined, not loaded
//     again; only the other IDs reach load, and each caller may leave on its
//     own context. A key this call loads is joined by the calls that miss
//     it meanwhile.
//   - Invalidation is never undone: each key is stored by compare-and-swap
//     from the lease (or the dead entry) that was in place before load ran,
//     and stamped with its tags' versions read before load ran, so a
//     Delete, InvalidateTags or InvalidatePattern that returns while load
//     runs keeps that key's result from being stored and from reaching
//     callers that began after it.
//   - The cache never breaks the caller: a failing provider is a miss for
//     every key (load runs for all of them, once), and failed writes are
//     counted and logged, not returned. One failure is spent per call.
//   - A miss returns what a later hit will decode: every value is redacted
//     and round-tripped through the codec.
//   - With StaleWhileRevalidate, stale entries are returned at once and one
//     background RememberMany loads them (load then runs with a context
//     for which Refreshing is true). With StaleIfError, a load error is
//     answered, key by key, with the last value inside the window; the call
//     fails only if some missing key has none.
//
// A load error (or a joined load's error) is returned, with a nil map; a
// panic in load is re-raised, as a *PanicError, in every waiting caller.
// Inside load, LoadTags, LoadTTL and DontStore apply to every entry the
// call stores. Tags and TagsFor name the entries' tags; each key counts as
// a hit or a miss in Stats (BatchHits, BatchMisses), and each call of load
// as one load.
func RememberMany[K comparable, T any](ctx context.Context, c *Cache, ids []K, keyOf func(K) string, load func(ctx context.Context, missing []K) (map[K]T, error), opts ...Option) (map[K]T, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	o, err := c.options(opts)
	if err != nil {
		return nil, err
	}
	slots, at, err := c.slotsFor(&o, len(ids), func(i int) string { return keyOf(ids[i]) })
	if err != nil {
		return nil, err
	}
	if len(slots) == 0 {
		return map[K]T{}, nil
	}
	// The IDs are copied: a background refresh may run after the caller
	// reused its slice.
	first := make([]K, len(slots))
	for _, s := range slots {
		first[s.idx] = ids[s.first]
	}
	vals := make([]T, len(slots))
	var undecoded []bool // keys answered with the loaded value itself: never filled into the near tier
	if c.near != nil {
		undecoded = make([]bool, len(slots))
	}
	decode := func(s *slot, payload []byte, loaded any) error {
		var zero T
		vals[s.idx] = zero
		err := c.unmarshal(ctx, payload, &vals[s.idx], o.budget)
		if lv, ok := loaded.(T); ok && err != nil {
			// The codec refuses what it wrote (see Remember): the loaded
			// value itself, and the entry goes.
			vals[s.idx] = lv
			c.corrupt(ctx, s.skey, err)
			if undecoded != nil {
				undecoded[s.idx] = true
			}
			return nil
		}
		return err
	}
	loader := func(ctx context.Context, idx []int) (map[int]any, error) {
		missing := make([]K, len(idx))
		for j, i := range idx {
			missing[j] = first[i]
		}
		found, err := load(ctx, slices.Clone(missing)) // load may sort its slice
		if err != nil {
			return nil, err
		}
		out := make(map[int]any, len(found))
		for j, i := range idx {
			if v, ok := found[missing[j]]; ok {
				out[i] = v
			}
		}
		return out, nil
	}
	rest := slots
	var fresh func(*slot, envelope)
	if c.near != nil {
		var tk nearTicket
		rest, tk = nearMany(ctx, c, slots, o.budget, func(s *slot, v T) { vals[s.idx], s.found = v, true })
		fresh = func(s *slot, env envelope) {
			if !undecoded[s.idx] {
				nearFill(c, tk, s.skey, env, vals[s.idx])
			}
		}
	}
	if len(rest) > 0 {
		if err := c.rememberMany(ctx, rest, o, loader, decode, fresh); err != nil {
			return nil, err
		}
	}
	out := make(map[K]T, len(ids))
	for i, id := range ids {
		if s := slots[at[i]]; s.found {
			out[id] = vals[s.idx]
		}
	}
	return out, nil
}

// nearMany serves what it can of a batch from the near tier, calling hit
// with each value it has, and returns the slots left for the store with
// the ticket their store read must be taken under (taken before the
// lookups, so a fill never outlives an invalidation that came after them).
func nearMany[T any](ctx context.Context, c *Cache, slots []*slot, b *FailureBudget, hit func(s *slot, v T)) ([]*slot, nearTicket) {
	tk := c.near.ticket()
	rest := slots[:0:0]
	for _, s := range slots {
		if v, ok := nearGet[T](ctx, c, s.skey, b); ok {
			hit(s, v)
			c.hit(ctx, s.key, false)
			c.stats.batchHits.Add(1)
			continue
		}
		rest = append(rest, s)
	}
	return rest, tk
}

// rememberMany reads every slot, decodes the hits, starts a refresh of the
// stale ones and loads the misses. fresh, when not nil, is called with
// each slot whose fresh entry was read from the store, or loaded and
// stored by this call, and decoded, with that entry (the near tier's fill).
func (c *Cache) rememberMany(ctx context.Context, slots []*slot, o callOptions, load loadFunc, decode func(s *slot, payload []byte, loaded any) error, fresh func(*slot, envelope)) error {
	if err := c.readMany(ctx, slots, &o, o.swr, true); err != nil {
		var skeys []string
		var leases [][]byte
		for _, s := range slots {
			if s.lease != nil {
				skeys, leases = append(skeys, s.skey), append(leases, s.lease)
			}
		}
		c.releaseMany(skeys, leases)
		return err
	}
	var misses, stale []*slot
	for _, s := range slots {
		switch s.obs.state {
		case stFresh, stStale:
			if err := decode(s, s.obs.env.payload, nil); err != nil {
				c.corrupt(ctx, s.skey, err)
				s.obs.state = stMissing // corrupt deleted it: the load takes a lease with Add
				break
			}
			s.found = true
			c.hit(ctx, s.key, s.obs.state == stStale)
			c.stats.batchHits.Add(1)
			if s.obs.state == stStale {
				stale = append(stale, s)
			} else if fresh != nil {
				fresh(s, s.obs.env)
			}
			continue
		case stAbsent:
			c.hit(ctx, s.key, false)
			c.stats.batchHits.Add(1)
			continue
		}
		c.miss(ctx, s.key)
		c.stats.batchMisses.Add(1)
		misses = append(misses, s)
	}
	c.refreshMany(ctx, stale, o, load)
	if len(misses) == 0 {
		return nil
	}
	return c.loadMany(ctx, misses, o, load, decode, fresh)
}
