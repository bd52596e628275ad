package aside

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/provider"
)

// How a batch keeps Remember's guarantees, key by key:
//
//   - One read for the batch (readMany): the entries and the records of
//     their tags in one GetAddMulti, which, in the same round trip, puts
//     this call's lease on every missing entry and a fresh record on every
//     missing tag key. A lease taken before the loader starts, and stamps
//     read before it starts, are exactly what Remember takes with its Add
//     and captureTags; here they cost no round trip of their own.
//   - Each missing key joins a flight of this process (flight.go) that is
//     already loading it, under the same acceptability rule as Remember, or
//     gets a flight of its own; one goroutine (flyMany) leads every flight
//     the call starts and runs the loader once, for those keys only.
//   - Results are stored with one CompareAndSwapMulti from what each flight
//     held before its loader started: its lease, or the dead entry it
//     replaces (an expired or invalidated entry, or an absent marker). A
//     Delete, InvalidatePattern, Set or another loader's store in between
//     changes that, and the swap of that key fails; an InvalidateTags in
//     between changes a record, and the entry stored is dead on arrival.

// slot is one distinct key of a batch call, and what became of it.
type slot struct {
	idx   int // position among the call's distinct keys
	first int // position of the key's first ID among the caller's
	key   string
	skey  string
	obs   observation // obs.tags: the entry's tags
	// lease is the lease the batch read put on the missing entry; nil when
	// none is held.
	lease []byte

	f      *flight
	leader bool

	found bool  // a value (or, with err == nil and !found, "not found")
	err   error // the loader's error for this key, when no stale value answered it
}

// loadFunc runs a batch loader for the slots at idx (slot.idx values) and
// returns the values it found, keyed by slot.idx.
type loadFunc func(ctx context.Context, idx []int) (map[int]any, error)

// tagTable holds the records a batch read, shared by its observations.
type tagTable struct {
	names []string
	at    map[string]int
	vers  []uint64
	recs  [][]byte
}

func (t *tagTable) add(name string) {
	if _, ok := t.at[name]; ok {
		return
	}
	if t.at == nil {
		t.at = make(map[string]int)
	}
	t.at[name] = len(t.names)
	t.names = append(t.names, name)
}

// slotsFor builds the slots of a batch of n keys (keyAt(i) for i < n),
// one per distinct key, with each entry's tags; at[i] is key i's slot.
func (c *Cache) slotsFor(o *callOptions, n int, keyAt func(i int) string) (slots []*slot, at []int, err error) {
	at = make([]int, n)
	seen := make(map[string]int, n)
	for i := range n {
		key := keyAt(i)
		if j, ok := seen[key]; ok {
			at[i] = j
			continue
		}
		skey, err := c.entryKey(key)
		if err != nil {
			return nil, nil, err
		}
		tags, err := o.tagsOf(key)
		if err != nil {
			return nil, nil, err
		}
		s := &slot{idx: len(slots), first: i, key: key, skey: skey}
		s.obs.tags = tags
		seen[key] = s.idx
		at[i] = s.idx
		slots = append(slots, s)
	}
	return slots, at, nil
}

// readMany observes every slot: one round trip for the entries and the
// records of their tags (and of the tags hinted for them), plus one for the
// whole batch when entries carry tags beyond those. With lease, the read
// is a GetAddMulti that also puts a lease on every missing entry (s.lease)
// and a fresh record on every missing tag key; without it, a GetMulti.
// Provider failures read as misses (obs.readErr); only the caller's context
// ending is returned.
func (c *Cache) readMany(ctx context.Context, slots []*slot, o *callOptions, swr time.Duration, lease bool) error {
	start := time.Now()
	at := c.invalidatedAt.Load() // as observe records it: a flight older than this is no good after a failed read
	for _, s := range slots {
		s.obs.start, s.obs.invalidatedAt = start, at
	}
	if o.budget.Spent() {
		for _, s := range slots {
			s.obs.readErr = true
		}
		return nil
	}
	var tbl tagTable
	hints := make([][]string, len(slots))
	for _, s := range slots {
		for _, t := range s.obs.tags {
			tbl.add(t)
		}
	}
	for i, s := range slots {
		hints[i] = c.hints.get(s.skey)
		for _, t := range hints[i] {
			tbl.add(t)
		}
	}
	n := len(slots)
	keys := make([]string, n+len(tbl.names))
	for i, s := range slots {
		keys[i] = s.skey
	}
	for j, t := range tbl.names {
		tk, err := c.tagKey(t)
		if err != nil {
			return err
		}
		keys[n+j] = tk
	}
	vals, leases, err := c.fetchMany(ctx, keys, n, o, lease)
	switch {
	case errors.Is(err, provider.ErrWrongType):
		// Something that is not a value sits under one of the keys: drop
		// them all (that only invalidates), and load the batch as missing.
		c.stats.decodeFailures.Add(1)
		c.log.WarnContext(ctx, "cache batch read found a key of another type; deleting the batch's keys")
		if _, derr := c.p.Delete(ctx, keys...); derr != nil && ctx.Err() == nil {
			c.failed(ctx, "cache DELETE of undecodable entries failed", "", derr)
		}
		vals = make([][]byte, len(keys))
	case err != nil:
		o.budget.spend()
		if err := c.readFailed(ctx, "GET", err); err != errReadFailed {
			return err
		}
		for _, s := range slots {
			s.obs.readErr = true
		}
		return nil
	}
	for i, s := range slots {
		s.obs.raw = vals[i]
		if leases != nil {
			s.lease = leases[i]
		}
	}
	tbl.recs = slices.Clip(vals[n:])
	tbl.vers = make([]uint64, len(tbl.names))
	for j, rec := range tbl.recs {
		tbl.vers[j] = recordVersion(rec)
	}

	// Tags the entries carry that were not read with them: one more read
	// for the whole batch. The hint of an entry whose tags were unknown is
	// learned, so that its next read needs none.
	var extra []string
	var extraKeys []string
	unverified := make([]bool, n)
	for i, s := range slots {
		if s.obs.raw == nil {
			continue
		}
		env, err := parseEnvelope(s.obs.raw)
		if err != nil || env.kind == kindLease {
			continue
		}
		learn := false
		raw := env.tagsRaw
		for range env.nTags {
			name, _, rest := nextTag(raw)
			raw = rest
			if !slices.Contains(s.obs.tags, string(name)) && !slices.Contains(hints[i], string(name)) {
				learn = true
			}
			if _, ok := tbl.at[string(name)]; ok || slices.Contains(extra, string(name)) {
				continue
			}
			tk, err := c.tagKey(string(name))
			if err != nil {
				continue // a name no Cache writes: stampsCurrent finds the entry invalid
			}
			extra = append(extra, string(name))
			extraKeys = append(extraKeys, tk)
		}
		if learn {
			c.hints.learn(s.skey, env, s.obs.tags)
		}
	}
	if len(extra) > 0 {
		recs, err := c.p.GetMulti(ctx, extraKeys)
		if err == nil && len(recs) != len(extraKeys) {
			err = fmt.Errorf("provider returned %d values for %d keys", len(recs), len(extraKeys))
		}
		if err != nil {
			o.budget.spend()
			if err := c.readFailed(ctx, "GET tags", err); err != errReadFailed {
				return err
			}
			// The entries that needed them cannot be checked: invalid.
			for i, s := range slots {
				s.obs.readErr = true
				if s.obs.raw == nil {
					continue
				}
				if env, err := parseEnvelope(s.obs.raw); err == nil && env.kind != kindLease && env.nTags > 0 {
					s.obs.env = env
					unverified[i] = true
				}
			}
		} else {
			for j, name := range extra {
				tbl.add(name)
				tbl.recs = append(tbl.recs, recs[j])
				tbl.vers = append(tbl.vers, recordVersion(recs[j]))
			}
		}
	}
	for i, s := range slots {
		s.obs.readTags, s.obs.readVers, s.obs.readRecs = tbl.names, tbl.vers, tbl.recs
		s.obs.tagVers = make([]uint64, len(s.obs.tags))
		for k, t := range s.obs.tags {
			s.obs.tagVers[k] = tbl.vers[tbl.at[t]]
		}
		if unverified[i] {
			s.obs.state = stInvalid
			continue
		}
		if err := c.judge(ctx, s.skey, &s.obs, swr, o.budget); err != nil {
			if err != errReadFailed {
				return err
			}
			s.obs.readErr = true
		}
	}
	return nil
}

// fetchMany reads keys; with lease, through GetAddMulti, adding a lease to
// each of the first n (entries) that is missing, returned in leases, and
// a fresh tag record to each of the others that is missing, returned in
// vals as if read.
func (c *Cache) fetchMany(ctx context.Context, keys []string, n int, o *callOptions, lease bool) (vals, leases [][]byte, err error) {
	ga, ok := c.p.(provider.MultiGetAdder)
	if lease && ok {
		keep := max(o.ttl+o.grace(), time.Millisecond)
		// One lease for every entry of the read, and one fresh record for
		// every tag: a lease is only ever compared under its own key, and a
		// record's version only with stamps of its own tag.
		token := newLease()
		rec := newTagRecord(time.Time{}, time.Now().Add(2*keep))
		fetches := make([]provider.Fetch, len(keys))
		for i, k := range keys {
			if i < n {
				fetches[i] = provider.Fetch{Key: k, Add: token, TTL: c.leaseTTL}
			} else {
				fetches[i] = provider.Fetch{Key: k, Add: rec, TTL: 2 * keep}
			}
		}
		res, err := ga.GetAddMulti(ctx, fetches)
		if err == nil && len(res) != len(fetches) {
			err = fmt.Errorf("provider answered %d results for %d keys", len(res), len(fetches))
		}
		if err == nil {
			vals = make([][]byte, len(keys))
			leases = make([][]byte, n)
			for i, r := range res {
				switch {
				case !r.Added:
					vals[i] = r.Existing
				case i < n:
					leases[i] = fetches[i].Add
				default:
					vals[i] = fetches[i].Add
				}
			}
			return vals, leases, nil
		}
		if !errors.Is(err, provider.ErrNotSupported) {
			return nil, nil, err
		}
	}
	vals, err = c.p.GetMulti(ctx, keys)
	if err == nil && len(vals) != len(keys) {
		err = fmt.Errorf("provider returned %d values for %d keys", len(vals), len(keys))
	}
	return vals, nil, err
}

// batchLoad is one run of a batch loader over the flights a call leads.
type batchLoad struct {
	c          *Cache
	slots      []*slot
	o          callOptions
	load       loadFunc
	background bool
	ctx        context.Context
	cancel     context.CancelFunc
	// live counts the flights some caller still waits for: the loader's
	// context ends when every caller of every flight has left.
	live atomic.Int64
}

func (c *Cache) newBatchLoad(ctx context.Context, o callOptions, load loadFunc, background bool) *batchLoad {
	bl := &batchLoad{c: c, o: o, load: load, background: background}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	bl.ctx, bl.cancel = lctx, cancel
	if background {
		stop := context.AfterFunc(c.bgCtx, cancel)
		bl.cancel = func() { stop(); cancel() }
	}
	return bl
}

// start is the flight group's start function for a flight bl leads; it
// runs under the group's lock.
func (bl *batchLoad) start(f *flight) {
	bl.live.Add(1)
	f.cancel = bl.drop
}

// drop is a flight's cancel: called once, when its last caller left.
func (bl *batchLoad) drop() {
	if bl.live.Add(-1) == 0 {
		bl.cancel()
	}
}

// loadMany waits for the loads of misses: each joins a flight already
// loading its key, when it may, or gets one that this call leads, and the
// keys this call leads are loaded with one loader call. A key whose joined
// flight turns out not to be acceptable (it may predate an invalidation the
// caller saw) is loaded again with a second call, for those keys only.
//
// fresh, when not nil, is called with each key this call's own flight
// loaded and stored, and the entry it stored (the near tier's fill).
func (c *Cache) loadMany(ctx context.Context, misses []*slot, o callOptions, load loadFunc, decode func(s *slot, payload []byte, loaded any) error, fresh func(*slot, envelope)) error {
	var firstErr error
	pending := misses
	for attempt := 0; len(pending) > 0; attempt++ {
		bl := c.newBatchLoad(ctx, o, load, false)
		var joined []*slot
		for _, s := range pending {
			s.f, s.leader = c.flights.join(s.skey, &s.obs, attempt > 0, bl.start)
			switch {
			case s.leader:
				bl.slots = append(bl.slots, s)
			case s.lease != nil:
				joined = append(joined, s)
			}
		}
		// A key this call leased but another flight loads: give the lease
		// back, so that the other flight's store (or the next one) may win.
		var skeys []string
		var leases [][]byte
		for _, s := range joined {
			skeys, leases = append(skeys, s.skey), append(leases, s.lease)
			s.lease = nil
		}
		c.releaseMany(skeys, leases)
		if len(bl.slots) > 0 {
			go c.flyMany(bl)
		} else {
			bl.cancel()
		}
		for i, s := range pending {
			select {
			case <-s.f.done:
			case <-ctx.Done():
				for _, r := range pending[i:] {
					c.flights.leave(r.skey, r.f)
				}
				for _, r := range pending[:i] {
					c.flights.done(r.f)
				}
				return ctx.Err()
			}
		}
		var panicked *PanicError
		var retry []*slot
		for _, s := range pending {
			c.flights.done(s.f)
			f := s.f
			if f.panicked != nil {
				if panicked == nil {
					panicked = f.panicked
				}
				continue
			}
			if !s.leader && (f.setup == nil || !f.setup.acceptable(&s.obs) || (f.changedDuringLoad && s.obs.start.After(f.setup.loadStart))) {
				retry = append(retry, s)
				continue
			}
			switch {
			case f.err == errNotReturned:
			case f.err != nil:
				if o.sie > 0 && !isCtxErr(f.err) && s.obs.servableOnError(o.sie) && decode(s, s.obs.env.payload, nil) == nil {
					s.found = true
					c.stats.staleHits.Add(1)
					c.log.WarnContext(ctx, "cache loader failed; serving stale (stale-if-error)", "key", s.key, "err", f.err)
					continue
				}
				s.err = f.err
			default:
				if err := decode(s, f.payload, f.value); err != nil {
					s.err = fmt.Errorf("aside: remember %q: the codec cannot decode what it encoded: %w", s.key, err)
					break
				}
				s.found = true
				if fresh != nil && s.leader && f.stored != nil {
					if env, err := parseEnvelope(f.stored); err == nil {
						fresh(s, env)
					}
				}
			}
			if s.err != nil && firstErr == nil {
				firstErr = s.err
			}
		}
		if panicked != nil {
			panic(panicked)
		}
		pending = retry
	}
	return firstErr
}

// refreshMany starts one background batch load of the stale slots whose
// keys no flight of this process is loading already.
func (c *Cache) refreshMany(ctx context.Context, stale []*slot, o callOptions, load loadFunc) {
	if len(stale) == 0 || c.closed.Load() {
		return
	}
	// The refresh outlives the call, whose Tags slice is the caller's.
	o.tags = slices.Clone(o.tags)
	bl := c.newBatchLoad(ctx, o, load, true)
	var waits []*flight
	for _, s := range stale {
		c.flights.mu.Lock()
		_, running := c.flights.m[s.skey]
		c.flights.mu.Unlock()
		if running {
			continue
		}
		bs := &slot{idx: s.idx, first: s.first, key: s.key, skey: s.skey, obs: s.obs}
		bs.obs.tags = slices.Clone(s.obs.tags)
		f, leader := c.flights.join(bs.skey, &bs.obs, false, bl.start)
		waits = append(waits, f)
		if leader {
			bs.f, bs.leader = f, true
			bl.slots = append(bl.slots, bs)
		}
	}
	switch {
	case len(bl.slots) == 0:
		bl.cancel()
	case !c.workers.goBackground(func() { c.flyMany(bl) }):
		// Closed meanwhile: end the flights without running the loader.
		bl.cancel()
		for _, s := range bl.slots {
			s.f.err = ErrClosed
		}
		go func() {
			for _, s := range bl.slots {
				c.flights.finish(s.skey, s.f)
			}
		}()
	}
	// Each background flight keeps a waiter slot until it ends, so that no
	// caller leaving cancels it.
	if len(waits) > 0 {
		go func() {
			for _, f := range waits {
				<-f.done
				c.flights.done(f)
			}
		}()
	}
}

// flyMany leads every flight of bl: it runs the loader once and ends each
// flight with its key's result.
func (c *Cache) flyMany(bl *batchLoad) {
	for _, s := range bl.slots {
		s.f.err = errGoexit
	}
	defer bl.cancel() // the loader is done: release its context
	defer func() {
		for _, s := range bl.slots {
			c.flights.finish(s.skey, s.f)
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			pe := &PanicError{Value: r, Stack: debug.Stack()}
			for _, s := range bl.slots {
				s.f.panicked, s.f.err = pe, pe
			}
		}
	}()
	c.fillMany(bl)
}

// fillMany is fill for a batch: leases the keys that still need one, stamps
// the tags, runs the loader, and stores what it returned through the leases
// in one round trip.
func (c *Cache) fillMany(bl *batchLoad) {
	ctx, o, slots := bl.ctx, bl.o, bl.slots
	ls := &loadState{c: c, ttl: o.ttl, background: bl.background, static: o.tags, keep: o.ttl + o.grace(), budget: o.budget}
	spent := o.budget.Spent()
	readAt := slots[0].obs.start
	for _, s := range slots {
		spent = spent || s.obs.readErr
		if s.obs.start.Before(readAt) {
			readAt = s.obs.start
		}
	}
	ls.spent.Store(spent)
	// expect[i] is what slot i's store will swap from (its lease, or the
	// dead entry it replaces); observed[i] what its read saw. They are the
	// leader's own: the flight setups published below are copies, never
	// changed afterwards.
	expect := make([][]byte, len(slots))
	observed := make([][]byte, len(slots))
	var needAdd []int
	for i, s := range slots {
		observed[i] = s.obs.raw
		switch s.obs.state {
		case stMissing:
			switch {
			case s.obs.readErr:
			case s.lease != nil:
				expect[i] = s.lease
			default:
				needAdd = append(needAdd, i)
			}
		case stStale, stExpired, stInvalid, stAbsent:
			// No lease over an entry that is there: the store swaps from
			// it, and a Delete, a Set or another loader's store in between
			// makes that fail, as it would a lease's.
			expect[i] = s.obs.raw
		}
	}
	// Give up every lease this load holds (in the background).
	releaseAll := func() {
		var skeys []string
		var leases [][]byte
		for i := range expect {
			if isLease(expect[i]) {
				skeys, leases = append(skeys, slots[i].skey), append(leases, expect[i])
			}
			expect[i] = nil
		}
		c.releaseMany(skeys, leases)
	}
	if !ls.spent.Load() && len(needAdd) > 0 {
		items := make([]provider.Item, len(needAdd))
		for j, i := range needAdd {
			items[j] = provider.Item{Key: slots[i].skey, Value: newLease(), TTL: c.leaseTTL}
		}
		res, err := c.addMulti(ctx, items)
		switch {
		case errors.Is(err, provider.ErrWrongType):
			// Not ours to keep: deleted (as Remember's corrupt does), so
			// that the next call stores.
			ks := make([]string, len(items))
			for j, it := range items {
				ks[j] = it.Key
			}
			c.stats.decodeFailures.Add(1)
			c.log.WarnContext(ctx, "cache batch lease found a key of another type; deleting the keys", "err", err)
			_, _ = c.p.Delete(ctx, ks...)
			ls.spent.Store(true)
		case err != nil:
			ls.fail(ctx, "ADD lease", "", err)
		default:
			for j, i := range needAdd {
				if res[j].Added {
					expect[i] = items[j].Value
				} else {
					observed[i] = res[j].Existing
				}
			}
		}
	}
	// The tags of every entry, stamped once for the batch, from the records
	// the read saw (creating those it did not find).
	var union []string
	var known [][]byte
	for _, s := range slots {
		for _, t := range s.obs.tags {
			if !slices.Contains(union, t) {
				union = append(union, t)
				known = append(known, recordIn(&s.obs, t))
			}
		}
	}
	byName := map[string]stamp{}
	if !ls.spent.Load() && len(union) > 0 {
		stamps, _, err := c.captureTags(ctx, union, known, time.Time{}, ls.keep)
		if err != nil {
			if ctx.Err() != nil {
				releaseAll()
				for _, s := range slots {
					s.f.err = ctx.Err()
				}
				return
			}
			ls.fail(ctx, "stamp tags", "", err)
		}
		for _, st := range stamps {
			byName[st.name] = st
		}
	}
	if ls.spent.Load() {
		releaseAll() // cannot stamp, so must not store
	}
	loadStart := time.Now()
	ls.start = loadStart
	idx := make([]int, len(slots))
	stampsOf := make([][]stamp, len(slots))
	for i, s := range slots {
		idx[i] = s.idx
		if len(byName) > 0 {
			stampsOf[i] = make([]stamp, 0, len(s.obs.tags))
			for _, t := range s.obs.tags {
				stampsOf[i] = append(stampsOf[i], byName[t])
			}
		}
		c.flights.publish(s.f, &flightSetup{
			expect: expect[i], observed: observed[i], readErr: s.obs.readErr,
			loadStart: loadStart, stamps: stampsOf[i],
		})
	}

	c.stats.loads.Add(1)
	returned := false
	defer func() {
		if !returned { // the loader panicked or called runtime.Goexit
			releaseAll()
		}
	}()
	vals, err := bl.load(context.WithValue(ctx, loadStateKey{}, ls), idx)
	returned = true
	if err != nil {
		c.stats.loadErrors.Add(1)
		releaseAll()
		for _, s := range slots {
			s.f.err = err
		}
		return
	}
	type result struct {
		payload []byte
		raw     int
	}
	results := make([]*result, len(slots))
	for i, s := range slots {
		v, ok := vals[s.idx]
		if !ok {
			s.f.err = errNotReturned
			continue
		}
		redacted, payload, raw, err := c.encode(v)
		if err != nil {
			s.f.err = fmt.Errorf("aside: remember %q: %w", logKey(s.key), err)
			continue
		}
		s.f.payload, s.f.value, s.f.err = payload, redacted, nil
		results[i] = &result{payload, raw}
	}

	ls.mu.Lock()
	dynamic, noStore, ttl, changed := ls.stamps, ls.noStore || ls.changed, ls.ttl, ls.changed
	ls.mu.Unlock()
	if time.Since(readAt) > c.leaseTTL {
		// Slower than its leases: what it read may predate invalidations
		// whose records are already gone.
		noStore = true
	}
	if len(dynamic) > 0 && !noStore && !ls.spent.Load() {
		ch, err := c.tagsChanged(ctx, dynamic)
		if err != nil {
			ls.fail(ctx, "GET tags", "", err)
		}
		if ch {
			noStore, changed = true, true
		}
	}
	for _, s := range slots {
		s.f.changedDuringLoad = changed
	}
	if noStore || ls.spent.Load() {
		releaseAll()
		return
	}

	// Every record behind a stored stamp must outlive its entries.
	now := time.Now()
	var until time.Time
	type write struct {
		i      int
		entry  []byte
		life   time.Duration
		stamps []stamp
	}
	var writes []write
	var drop []int // slots whose lease is given back, in the write's round trip
	for i, s := range slots {
		if expect[i] == nil {
			continue
		}
		stamps := stampsOf[i]
		for _, d := range dynamic {
			if !slices.ContainsFunc(stamps, func(x stamp) bool { return x.name == d.name }) {
				stamps = append(slices.Clip(stamps), d)
			}
		}
		switch {
		case len(stamps) > maxTags:
		case results[i] != nil:
			t := c.jittered(ttl)
			fresh := now.Add(t)
			writes = append(writes, write{i, newEntry(fresh, stamps, results[i].payload), t + o.grace(), stamps})
			until = later(until, fresh.Add(o.grace()))
			continue
		case s.f.err == errNotReturned && o.absent > 0:
			fresh := now.Add(o.absent)
			writes = append(writes, write{i, newAbsent(fresh, stamps), o.absent, stamps})
			until = later(until, fresh)
			continue
		}
		drop = append(drop, i)
	}
	if len(writes) == 0 {
		releaseAll()
		return
	}
	// Records kept long enough; an entry carrying a record that changed
	// version meanwhile (its tag was invalidated) is dead: not stored.
	dead := map[string]bool{}
	seen := map[string]bool{}
	for _, w := range writes {
		for _, st := range w.stamps {
			if seen[st.name] {
				continue
			}
			seen[st.name] = true
			ok, err := c.keepRecord(ctx, st, until)
			if err != nil {
				ls.fail(ctx, "extend tag records", "", err)
				releaseAll()
				return
			}
			if !ok {
				dead[st.name] = true
			}
		}
	}
	swaps := make([]provider.Swap, 0, len(writes)+len(drop))
	kept := writes[:0]
	for _, w := range writes {
		if slices.ContainsFunc(w.stamps, func(x stamp) bool { return dead[x.name] }) {
			drop = append(drop, w.i)
			continue
		}
		swaps = append(swaps, provider.Swap{Key: slots[w.i].skey, Old: expect[w.i], New: w.entry, TTL: w.life})
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		releaseAll()
		return
	}
	// The leases of keys not stored are given back in the same round trip
	// (see release), so that the next call finds them gone.
	for _, i := range drop {
		if isLease(expect[i]) {
			swaps = append(swaps, provider.Swap{Key: slots[i].skey, Old: expect[i], New: newLease(), TTL: time.Millisecond})
		}
	}
	res, err := c.casMulti(ctx, swaps)
	if err != nil {
		c.writeFailed(ctx, "SET", "", err)
		releaseAll()
		return
	}
	for j, w := range kept {
		s := slots[w.i]
		switch {
		case !res[j]:
			if c.debug(ctx) {
				c.log.DebugContext(ctx, "cache SET skipped: invalidated while loading", "key", s.key)
			}
		case results[w.i] != nil:
			c.wrote(ctx, s.key, w.life, results[w.i].raw, len(results[w.i].payload), len(w.entry))
			s.f.stored = w.entry
		default:
			c.wrote(ctx, s.key, w.life, 0, 0, len(w.entry))
		}
	}
}

// recordIn returns the record obs read for tag (nil: none).
func recordIn(obs *observation, tag string) []byte {
	for i, t := range obs.readTags {
		if t == tag {
			if i < len(obs.readRecs) {
				return obs.readRecs[i]
			}
			return nil
		}
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// casMulti applies swaps in one round trip when the provider can, else one
// by one, stopping at the first failure.
func (c *Cache) casMulti(ctx context.Context, swaps []provider.Swap) ([]bool, error) {
	if ms, ok := c.p.(provider.MultiSwapper); ok && len(swaps) > 1 {
		res, err := ms.CompareAndSwapMulti(ctx, swaps)
		if err == nil && len(res) != len(swaps) {
			err = fmt.Errorf("provider answered %d results for %d swaps", len(res), len(swaps))
		}
		if !errors.Is(err, provider.ErrNotSupported) {
			return res, err
		}
	}
	res := make([]bool, len(swaps))
	for i, sw := range swaps {
		ok, err := c.p.CompareAndSwap(ctx, sw.Key, sw.Old, sw.New, sw.TTL)
		if err != nil {
			return nil, err
		}
		res[i] = ok
	}
	return res, nil
}

// releaseMany gives up leases in the background, in one round trip: each
// is swapped for a lease that expires at once (see release).
func (c *Cache) releaseMany(skeys []string, leases [][]byte) {
	if len(skeys) == 0 {
		return
	}
	swaps := make([]provider.Swap, 0, len(skeys))
	for i, k := range skeys {
		if isLease(leases[i]) {
			swaps = append(swaps, provider.Swap{Key: k, Old: leases[i], New: newLease(), TTL: time.Millisecond})
		}
	}
	if len(swaps) == 0 {
		return
	}
	c.workers.goBackground(func() {
		ctx, cancel := context.WithTimeout(c.bgCtx, releaseTimeout)
		defer cancel()
		_, _ = c.casMulti(ctx, swaps)
	})
}
