package aside

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/aside-go/aside/provider"
)

// Get returns the value cached under key. found is false on a miss, which
// includes a provider that fails or holds bytes that do not decode (fail
// open); err is only for bad input, a closed cache or the caller's context.
// Pass the entry's Tags to keep a tagged hit to one round trip.
func Get[T any](ctx context.Context, c *Cache, key string, opts ...Option) (v T, found bool, err error) {
	if c.closed.Load() {
		return v, false, ErrClosed
	}
	o, err := c.keyOptions(key, opts)
	if err != nil {
		return v, false, err
	}
	skey, err := c.entryKey(key)
	if err != nil {
		return v, false, err
	}
	var tk nearTicket
	if c.near != nil {
		if nv, ok := nearGet[T](ctx, c, skey, o.budget); ok {
			c.hit(ctx, key, false)
			return nv, true, nil
		}
		tk = c.near.ticket()
	}
	return get[T](ctx, c, key, skey, o, tk)
}

// get is Get past the near tier (its v escapes to the codec: a heap
// allocation the near tier's hits do not pay).
func get[T any](ctx context.Context, c *Cache, key, skey string, o callOptions, tk nearTicket) (v T, found bool, err error) {
	obs, err := c.observe(ctx, skey, o.tags, 0, o.budget)
	if err != nil {
		return v, false, err
	}
	if obs.state == stFresh {
		if err := c.unmarshal(ctx, obs.env.payload, &v, o.budget); err == nil {
			if c.near != nil {
				nearFill(c, tk, skey, obs.env, v)
			}
			c.hit(ctx, key, false)
			return v, true, nil
		} else {
			c.corrupt(ctx, skey, err)
		}
	}
	c.miss(ctx, key)
	return v, false, nil
}

// Set stores v under key, after the redaction filter, with the TTL and tags
// of opts. Unlike Remember it returns provider errors: the caller asked for
// a write. A tagged Set reads its tags' records first (one more round trip).
func Set[T any](ctx context.Context, c *Cache, key string, v T, opts ...Option) error {
	if c.closed.Load() {
		return ErrClosed
	}
	o, err := c.keyOptions(key, opts)
	if err != nil {
		return err
	}
	skey, err := c.entryKey(key)
	if err != nil {
		return err
	}
	life := o.ttl + o.grace()
	stamps, _, err := c.captureTags(ctx, o.tags, nil, time.Time{}, life)
	if err != nil {
		if !errors.Is(err, ErrInvalidKey) {
			c.failed(ctx, "cache SET tags failed", key, err)
		}
		return fmt.Errorf("aside: set %q: %w", logKey(key), err)
	}
	_, payload, raw, err := c.encode(v)
	if err != nil {
		return fmt.Errorf("aside: set %q: %w", logKey(key), err)
	}
	ttl := c.jittered(o.ttl)
	freshUntil := time.Now().Add(ttl)
	if ok, err := c.keepRecords(ctx, stamps, freshUntil.Add(o.grace())); err != nil {
		c.failed(ctx, "cache SET tags failed", key, err)
		return fmt.Errorf("aside: set %q: %w", logKey(key), err)
	} else if !ok {
		return nil // a tag was invalidated meanwhile: the entry would be dead on arrival
	}
	entry := newEntry(freshUntil, stamps, payload)
	if err := c.p.Set(ctx, skey, entry, ttl+o.grace()); err != nil {
		c.failed(ctx, "cache SET failed", key, err)
		if mayHaveWritten(err) {
			_ = c.nearInvalidate(ctx, invalidation{keys: []string{skey}})
		}
		return fmt.Errorf("aside: set %q: %w", logKey(key), err)
	}
	c.wrote(ctx, key, ttl+o.grace(), raw, len(payload), len(entry))
	if err := c.nearInvalidate(ctx, invalidation{keys: []string{skey}}); err != nil {
		return fmt.Errorf("aside: set %q: %w", logKey(key), err)
	}
	return nil
}

// Remember returns the value cached under key, or runs loader, caches what it
// returns and returns it: cache-aside in one call.
//
//   - Stampede protection: concurrent misses on one key in this process run
//     loader once; each caller may leave on its own context without failing
//     the others, and the loader's context is cancelled only when all have
//     left. Across processes a lease lets only one loader store.
//   - A loader error is returned and not cached. A loader panic is re-raised,
//     as a *PanicError, in every waiting caller's goroutine.
//   - Invalidation is never undone: once Delete or InvalidateTags returns, no
//     Remember anywhere returns a value loaded before it began, even if a slow
//     loader finishes afterwards.
//   - The cache never breaks the caller: a failing provider is a miss (the
//     loader runs) and a failed write is logged and counted, not returned.
//   - A miss returns what a later hit will decode (redacted and round-tripped
//     through the codec), so code that works on a cold cache works on a warm
//     one.
//   - With StaleWhileRevalidate, an entry past its TTL but inside the window
//     is returned at once while one background refresh runs.
//   - With StaleIfError, a loader error is answered with the last value, if
//     it is inside the window and none of its tags was invalidated.
func Remember[T any](ctx context.Context, c *Cache, key string, loader func(context.Context) (T, error), opts ...Option) (v T, err error) {
	if c.closed.Load() {
		return v, ErrClosed
	}
	o, err := c.keyOptions(key, opts)
	if err != nil {
		return v, err
	}
	skey, err := c.entryKey(key)
	if err != nil {
		return v, err
	}
	var tk nearTicket
	if c.near != nil {
		if nv, ok := nearGet[T](ctx, c, skey, o.budget); ok {
			c.hit(ctx, key, false)
			return nv, nil
		}
		tk = c.near.ticket()
	}
	return remember(ctx, c, key, skey, loader, o, tk)
}

// remember is Remember past the near tier (its v escapes to the codec: a
// heap allocation the near tier's hits do not pay).
func remember[T any](ctx context.Context, c *Cache, key, skey string, loader func(context.Context) (T, error), o callOptions, tk nearTicket) (v T, err error) {
	obs, err := c.observe(ctx, skey, o.tags, o.swr, o.budget)
	if err != nil {
		return v, err
	}
	switch obs.state {
	case stFresh, stStale:
		if err := c.unmarshal(ctx, obs.env.payload, &v, o.budget); err != nil {
			c.corrupt(ctx, skey, err)
			obs.state = stMissing // corrupt deleted it: the loader may take a lease with Add
			break
		}
		if obs.state == stStale {
			c.refresh(ctx, key, skey, obs, o, produce(loader))
		} else if c.near != nil {
			nearFill(c, tk, skey, obs.env, v)
		}
		c.hit(ctx, key, obs.state == stStale)
		return v, nil
	}
	c.miss(ctx, key)
	payload, loaded, stored, err := c.load(ctx, key, skey, &obs, o, produce(loader))
	if err != nil {
		if o.sie > 0 && !isCtxErr(err) && obs.servableOnError(o.sie) {
			if derr := c.unmarshal(ctx, obs.env.payload, &v, o.budget); derr == nil {
				c.stats.staleHits.Add(1)
				c.log.WarnContext(ctx, "cache loader failed; serving stale (stale-if-error)", "key", logKey(key), "err", err)
				return v, nil
			}
		}
		return v, err
	}
	if err := c.unmarshal(ctx, payload, &v, o.budget); err != nil {
		// The codec refuses what it wrote: a value whose decoded form would
		// cost far more memory than its bytes (see codec's allocation bound).
		// The caller still gets the loaded value (redacted), never an error,
		// and the entry goes, so that hits do not keep failing on it.
		lv, ok := loaded.(T)
		if !ok {
			return v, fmt.Errorf("aside: remember %q: the codec cannot decode what it encoded: %w", logKey(key), err)
		}
		c.corrupt(ctx, skey, err)
		return lv, nil
	}
	if c.near != nil && stored != nil {
		// What this call loaded and stored, under the ticket it took before
		// its read: an invalidation applied since refuses the fill.
		if env, err := parseEnvelope(stored); err == nil {
			nearFill(c, tk, skey, env, v)
		}
	}
	return v, nil
}

// producer runs a typed loader and returns its value boxed for encoding.
type producer func(ctx context.Context) (any, error)

func produce[T any](loader func(context.Context) (T, error)) producer {
	return func(ctx context.Context) (any, error) {
		v, err := loader(ctx)
		if err != nil {
			return nil, err
		}
		return v, nil
	}
}

// load waits for a flight of skey that obs may take, starting one if needed,
// and returns the encoded value, and, when this call led the flight and it
// stored its result, the entry it stored (nil otherwise: a joined flight
// may have begun before this call's ticket for the near tier).
func (c *Cache) load(ctx context.Context, key, skey string, obs *observation, o callOptions, p producer) ([]byte, any, []byte, error) {
	for attempt := 0; ; attempt++ {
		f, leader := c.flights.join(skey, obs, attempt > 0, func(f *flight) {
			lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
			f.cancel = cancel
			go c.fly(lctx, key, skey, *obs, o, p, f, false)
		})
		select {
		case <-f.done:
		case <-ctx.Done():
			c.flights.leave(skey, f)
			return nil, nil, nil, ctx.Err()
		}
		c.flights.done(f)
		if f.panicked != nil {
			panic(f.panicked)
		}
		if leader {
			return f.payload, f.value, f.stored, f.err
		}
		if f.setup != nil && f.setup.acceptable(obs) && !(f.changedDuringLoad && obs.start.After(f.setup.loadStart)) && f.err != errNotReturned {
			return f.payload, f.value, nil, f.err
		}
	}
}

// refresh starts one background reload of a stale entry, unless one runs.
func (c *Cache) refresh(ctx context.Context, key, skey string, obs observation, o callOptions, p producer) {
	c.flights.mu.Lock()
	_, running := c.flights.m[skey]
	c.flights.mu.Unlock()
	if running || c.closed.Load() {
		return
	}
	// The refresh outlives the call, whose Tags slice is the caller's.
	o.tags = slices.Clone(o.tags)
	obs.tags = o.tags
	f, _ := c.flights.join(skey, &obs, false, func(f *flight) {
		lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stop := context.AfterFunc(c.bgCtx, cancel)
		f.cancel = func() { stop(); cancel() }
		if !c.workers.goBackground(func() { c.fly(lctx, key, skey, obs, o, p, f, true) }) {
			// Closed meanwhile: end the flight without running the loader.
			f.cancel()
			f.err = ErrClosed
			go c.flights.finish(skey, f)
		}
	})
	// The background flight keeps its waiter slot until it ends, so that no
	// caller leaving cancels it.
	go func() { <-f.done; c.flights.done(f) }()
}

// fly is a flight's leader goroutine: it takes a lease, stamps tags, runs
// the loader and stores the result.
func (c *Cache) fly(ctx context.Context, key, skey string, obs observation, o callOptions, p producer, f *flight, background bool) {
	f.err = errGoexit
	defer f.cancel() // the loader is done: release its context
	defer c.flights.finish(skey, f)
	defer func() {
		if r := recover(); r != nil {
			f.panicked = &PanicError{Value: r, Stack: debug.Stack()}
			f.err = f.panicked
		}
	}()
	f.payload, f.err = c.fill(ctx, key, skey, &obs, o, p, f, background)
}

func (c *Cache) fill(ctx context.Context, key, skey string, obs *observation, o callOptions, p producer, f *flight, background bool) ([]byte, error) {
	ls := &loadState{c: c, ttl: o.ttl, background: background, static: obs.tags, keep: o.ttl + o.grace(), budget: o.budget}
	// One failure budget per operation: once the store failed (here, or in
	// the read that led to this load), the cache's part of the operation is
	// over. Nothing more is piled onto a store that is down; what this
	// flight took is given back in the background.
	ls.spent.Store(obs.readErr || o.budget.Spent())
	setup := &flightSetup{observed: obs.raw, readErr: obs.readErr}
	switch {
	case obs.readErr:
	case background && obs.state == stStale:
		setup.expect = obs.raw
	case obs.state == stMissing:
		lease := newLease()
		existing, added, err := c.p.Add(ctx, skey, lease, c.leaseTTL)
		switch {
		case errors.Is(err, provider.ErrWrongType):
			c.corrupt(ctx, skey, err) // deleted: the next call stores
			ls.spent.Store(true)
		case err != nil:
			ls.fail(ctx, "ADD lease", key, err)
		case added:
			setup.expect = lease
		default:
			setup.observed = existing
		}
	case obs.state == stInvalid || obs.state == stExpired || obs.state == stStale || obs.state == stAbsent:
		lease := newLease()
		ok, err := c.p.CompareAndSwap(ctx, skey, obs.raw, lease, c.leaseTTL)
		switch {
		case err != nil:
			ls.fail(ctx, "CAS lease", key, err)
		case ok:
			setup.expect = lease
		}
	}
	var stamps []stamp
	if !ls.spent.Load() && len(obs.tags) > 0 {
		var err error
		stamps, _, err = c.captureTags(ctx, obs.tags, obs.readRecs, time.Time{}, ls.keep)
		if err != nil {
			if ctx.Err() != nil {
				c.release(skey, setup.expect)
				return nil, ctx.Err()
			}
			ls.fail(ctx, "stamp tags", key, err)
		}
	}
	if ls.spent.Load() && setup.expect != nil {
		c.release(skey, setup.expect) // cannot stamp, so must not store
		setup.expect = nil
	}
	setup.stamps = stamps
	setup.loadStart = time.Now()
	ls.start = setup.loadStart
	c.flights.publish(f, setup)

	c.stats.loads.Add(1)
	v, err := p(context.WithValue(ctx, loadStateKey{}, ls))
	if err != nil {
		c.stats.loadErrors.Add(1)
		c.restore(skey, setup.expect, obs, o, ls.spent.Load())
		return nil, err
	}
	redacted, payload, raw, err := c.encode(v)
	if err != nil {
		c.release(skey, setup.expect)
		return nil, fmt.Errorf("aside: remember %q: %w", logKey(key), err)
	}
	f.value = redacted
	ls.mu.Lock()
	dynamic, noStore, ttl, changed := ls.stamps, ls.noStore || ls.changed, ls.ttl, ls.changed
	ls.mu.Unlock()
	if time.Since(setup.loadStart) > c.leaseTTL {
		// Slower than its lease: whatever it read may predate invalidations
		// whose records are already gone.
		noStore = true
	}
	if len(dynamic) > 0 && !noStore && !ls.spent.Load() {
		// Tags named during the load were stamped when named; one that was
		// invalidated while the loader ran keeps this result from storing,
		// and from reaching callers that began after the load did.
		ch, err := c.tagsChanged(ctx, dynamic)
		if err != nil {
			ls.fail(ctx, "GET tags", key, err)
		}
		if ch {
			noStore, changed = true, true
		}
	}
	f.changedDuringLoad = changed
	if setup.expect == nil || noStore || ls.spent.Load() {
		c.release(skey, setup.expect)
		return payload, nil
	}
	ttl = c.jittered(ttl)
	freshUntil := time.Now().Add(ttl)
	all := append(stamps, dynamic...)
	if ok, err := c.keepRecords(ctx, all, freshUntil.Add(o.grace())); !ok || err != nil {
		if err != nil {
			ls.fail(ctx, "extend tag records", key, err)
		}
		c.release(skey, setup.expect)
		return payload, nil
	}
	entry := newEntry(freshUntil, all, payload)
	ok, err := c.p.CompareAndSwap(ctx, skey, setup.expect, entry, ttl+o.grace())
	switch {
	case err != nil:
		c.writeFailed(ctx, "SET", key, err)
		c.release(skey, setup.expect)
	case !ok:
		if c.debug(ctx) {
			c.log.DebugContext(ctx, "cache SET skipped: invalidated while loading", "key", logKey(key))
		}
	default:
		c.wrote(ctx, key, ttl+o.grace(), raw, len(payload), len(entry))
		f.stored = entry
	}
	return payload, nil
}

// restore gives up a lease after a failed load, putting back the expired
// entry it replaced while stale-if-error may still serve it, before the
// callers are answered (the next call finds it), unless the store already
// failed this operation: then it runs in the background.
func (c *Cache) restore(skey string, lease []byte, obs *observation, o callOptions, spent bool) {
	if obs.state == stExpired && o.sie > 0 && isLease(lease) {
		left := time.Until(time.UnixMilli(obs.env.freshUntil).Add(o.grace()))
		if left > time.Millisecond {
			prev := obs.raw
			put := func() {
				ctx, cancel := context.WithTimeout(c.bgCtx, releaseTimeout)
				defer cancel()
				if ok, err := c.p.CompareAndSwap(ctx, skey, lease, prev, left); err != nil || !ok {
					_, _ = c.p.CompareAndSwap(ctx, skey, lease, newLease(), time.Millisecond)
				}
			}
			if !spent {
				put()
				return
			}
			if c.workers.goBackground(put) {
				return
			}
		}
	}
	c.release(skey, lease)
}

// releaseTimeout bounds the background release of a lease.
const releaseTimeout = time.Second

// release gives up a lease this flight holds by letting it expire at once.
// It runs in the background, so that a store that just failed delays no
// caller, and every path that took a lease gives it back: otherwise the key
// could not be stored for LeaseTTL.
func (c *Cache) release(skey string, lease []byte) {
	if !isLease(lease) {
		return
	}
	c.workers.goBackground(func() {
		ctx, cancel := context.WithTimeout(c.bgCtx, releaseTimeout)
		defer cancel()
		_, _ = c.p.CompareAndSwap(ctx, skey, lease, newLease(), time.Millisecond)
	})
}

// encode redacts v and serializes it; redacted is what was serialized.
func (c *Cache) encode(v any) (redacted any, payload []byte, raw int, err error) {
	if c.redact != nil {
		v, _ = c.redact.ApplyTo(v, &c.stats.redactions, c.log)
	}
	payload, raw, err = c.codec.Marshal(nil, v)
	return v, payload, raw, err
}

func (c *Cache) hit(ctx context.Context, key string, stale bool) {
	c.stats.hits.Add(1)
	if stale {
		c.stats.staleHits.Add(1)
	}
	if c.debug(ctx) {
		if stale {
			c.log.DebugContext(ctx, "cache HIT stale", "key", logKey(key))
		} else {
			c.log.DebugContext(ctx, "cache HIT", "key", logKey(key))
		}
	}
}

func (c *Cache) miss(ctx context.Context, key string) {
	c.stats.misses.Add(1)
	if c.debug(ctx) {
		c.log.DebugContext(ctx, "cache MISS", "key", logKey(key))
	}
}

// wrote counts an entry stored for life (TTL and stale windows).
func (c *Cache) wrote(ctx context.Context, key string, life time.Duration, raw, encoded, stored int) {
	for {
		cur := c.maxLife.Load()
		if int64(life) <= cur || c.maxLife.CompareAndSwap(cur, int64(life)) {
			break
		}
	}
	c.stats.encodedBytes.Add(int64(encoded))
	c.stats.sets.Add(1)
	c.stats.rawBytes.Add(int64(raw))
	if raw > encoded {
		c.stats.compressionSaved.Add(int64(raw - encoded))
	}
	c.stats.storedBytes.Add(int64(stored))
	if c.debug(ctx) {
		c.log.DebugContext(ctx, "cache SET", "key", logKey(key), "ttl", life, "bytes", stored)
	}
}

func (c *Cache) writeFailed(ctx context.Context, op, key string, err error) {
	c.failed(ctx, "cache "+op+" failed", key, err)
}
