package dual

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
	"github.com/aside-go/aside/provider/memory"
)

// MigrateOptions configure NewMigrator. The zero value works: every write
// goes to both stores, every read to the primary alone.
type MigrateOptions struct {
	// ReadThrough asks the secondary for keys the primary does not have
	// (unless the secondary may have missed a write of them), and, when the
	// primary is the in-process memory provider, copies what it finds into
	// the primary for BackfillTTL. It is refused with an in-process
	// secondary under a primary that is not (other processes'
	// invalidations never reach this process's memory). See the package
	// documentation.
	ReadThrough bool

	// BackfillTTL is how long a read-through value is kept in an in-process
	// primary. Default DefaultBackfillTTL (1 s): the provider contract does
	// not expose a key's remaining TTL, so a backfilled key may outlive its
	// TTL by up to this long.
	BackfillTTL time.Duration

	// ShadowReads is the share (0 to 1) of reads also sent to the secondary,
	// whose answers are only counted in Stats, to compare both stores on the
	// same traffic. Each sampled read waits for the secondary too, so with a
	// network secondary keep it small. Default 0.
	ShadowReads float64

	// Breaker configures the circuit breaker around the secondary (none
	// when it is the in-process memory provider): while it is open, writes
	// to the secondary are journaled without being sent. A zero Failures
	// means DefaultFailures (1); CoolDown (default circuit.DefaultCoolDown,
	// 1 s) is also how often a journal that could not be delivered is
	// retried.
	Breaker circuit.Options

	// Scope is a glob (Redis syntax) matching every key this cache owns in
	// the secondary: when its journal overflows, reconciliation deletes it
	// whole. Default "*", the whole store.
	Scope string

	// JournalBytes bounds the journal of writes the secondary missed.
	// Default DefaultJournalBytes (4 MiB).
	JournalBytes int

	// PrimaryName and SecondaryName label the sides in Stats. Default
	// "primary" and "secondary".
	PrimaryName, SecondaryName string

	// Logger receives warnings when the secondary misses writes, when its
	// journal overflows or cannot be delivered at Close. It never sees a
	// key. Default: discard.
	Logger *slog.Logger
}

// nStripes is the number of stripes that order writes of one key, and
// backfills, across the two stores.
const nStripes = 256

// Migrator is a provider that writes to two stores and reads from its
// primary, for moving a cache from one store to another. See the package
// documentation. Create it with NewMigrator.
type Migrator struct {
	p, s        provider.Provider // s behind sBreaker unless in-process
	rawS        provider.Provider // the secondary itself, for Close's last replay
	sBreaker    *circuit.Breaker
	readThrough bool
	backfill    bool
	backfillTTL time.Duration
	shadowEvery uint64
	scope       string
	coolDown    time.Duration
	log         *slog.Logger

	seed     maphash.Seed
	stripes  [nStripes]stripe
	patterns stripe // DeletePattern, which may write any key

	jmu     sync.Mutex
	journal *journal
	warned  bool // a miss was logged since the journal was last empty; under jmu

	pc, sc                                                counters
	shadowN                                               atomic.Uint64
	readThroughs, readThroughHits, backfills, shadowReads atomic.Int64

	// Test hooks: bugs the tests must catch (see export_test.go).
	trustSecondary, blindBackfill bool

	closed   atomic.Bool
	bgCtx    context.Context
	bgCancel context.CancelFunc
	wake     chan struct{}
	done     chan struct{}
}

var (
	_ provider.Provider       = (*Migrator)(nil)
	_ provider.Batcher        = (*Migrator)(nil)
	_ provider.MultiAdder     = (*Migrator)(nil)
	_ provider.MultiGetAdder  = (*Migrator)(nil)
	_ provider.MultiSwapper   = (*Migrator)(nil)
	_ provider.Composite      = (*Migrator)(nil)
	_ provider.Degrader       = (*Migrator)(nil)
	_ provider.PatternDeleter = (*Migrator)(nil)
	_ provider.Counter        = (*Migrator)(nil)
)

// stripe orders the writes of the keys hashed to it: a write holds mu
// from before it reaches the primary until the secondary has answered, so
// that both stores see the writes of a key in the same order (two writers
// crossing between the stores would leave the secondary with the older
// value, a stale tag record among them). It also counts the writes begun
// and ended, for backfills: a backfill checks the counts and writes under
// mu.
type stripe struct {
	mu           sync.Mutex
	begun, ended atomic.Uint64
}

// mark is what a read saw of a stripe before it read the primary.
type mark struct{ begun, ended uint64 }

func (s *stripe) mark() mark {
	e := s.ended.Load()
	return mark{begun: s.begun.Load(), ended: e}
}

// quiet reports whether no write of the stripe was running when m was
// taken and none has begun since. Under s.mu (a backfill) no write can
// begin before the caller's own write is done.
func (s *stripe) quiet(m mark) bool {
	return m.begun == m.ended && s.begun.Load() == m.begun
}

// NewMigrator returns a Migrator over primary and secondary, which it owns
// (Close closes both). The secondary must implement
// provider.PatternDeleter, to replay patterns and an overflowed journal (the
// memory and redis providers do).
func NewMigrator(primary, secondary provider.Provider, o MigrateOptions) (*Migrator, error) {
	switch {
	case primary == nil || secondary == nil:
		return nil, fmt.Errorf("%w: the primary and the secondary must not be nil", ErrInvalidOptions)
	case primary == secondary:
		return nil, fmt.Errorf("%w: the primary and the secondary are the same store", ErrInvalidOptions)
	case o.BackfillTTL < 0:
		return nil, fmt.Errorf("%w: BackfillTTL is negative (use 0 for the default of %v)", ErrInvalidOptions, DefaultBackfillTTL)
	case o.ShadowReads < 0 || o.ShadowReads > 1 || math.IsNaN(o.ShadowReads):
		return nil, fmt.Errorf("%w: ShadowReads is %v (want a share from 0 to 1)", ErrInvalidOptions, o.ShadowReads)
	case o.JournalBytes < 0:
		return nil, fmt.Errorf("%w: JournalBytes is %d (use 0 for the default of %d, or a positive bound)", ErrInvalidOptions, o.JournalBytes, DefaultJournalBytes)
	}
	if _, ok := secondary.(provider.PatternDeleter); !ok {
		return nil, fmt.Errorf("%w: the secondary must implement provider.PatternDeleter, to replay patterns and an overflowed journal", ErrInvalidOptions)
	}
	_, primaryInProcess := primary.(*memory.Provider)
	_, secondaryInProcess := secondary.(*memory.Provider)
	if o.ReadThrough && secondaryInProcess && !primaryInProcess {
		return nil, fmt.Errorf("%w: ReadThrough from an in-process secondary under a shared primary would serve, and backfill, values that other processes invalidated", ErrInvalidOptions)
	}
	m := &Migrator{
		p:           primary,
		s:           secondary,
		rawS:        secondary,
		readThrough: o.ReadThrough,
		backfill:    o.ReadThrough && primaryInProcess,
		backfillTTL: o.BackfillTTL,
		scope:       o.Scope,
		coolDown:    o.Breaker.CoolDown,
		log:         o.Logger,
		seed:        maphash.MakeSeed(),
		journal:     newJournal(o.JournalBytes),
		wake:        make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	if o.ShadowReads > 0 {
		m.shadowEvery = uint64(math.Round(1 / o.ShadowReads))
	}
	if m.backfillTTL == 0 {
		m.backfillTTL = DefaultBackfillTTL
	}
	if m.scope == "" {
		m.scope = "*"
	}
	if m.coolDown == 0 {
		m.coolDown = circuit.DefaultCoolDown
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.pc.name, m.sc.name = orName(o.PrimaryName, "primary"), orName(o.SecondaryName, "secondary")
	if !secondaryInProcess {
		bo := o.Breaker
		if bo.Failures == 0 {
			bo.Failures = DefaultFailures
		}
		s, b, err := circuit.Wrap(secondary, bo)
		if err != nil {
			return nil, fmt.Errorf("%w: Breaker: %w", ErrInvalidOptions, err)
		}
		m.s, m.sBreaker = s, b
	}
	m.bgCtx, m.bgCancel = context.WithCancel(context.Background())
	go m.run()
	return m, nil
}

// Stats returns the composite's counters.
func (m *Migrator) Stats() Stats {
	m.jmu.Lock()
	js := m.journal.stats()
	m.jmu.Unlock()
	s := Stats{
		Mode:            "migrate",
		State:           Primary,
		Primary:         m.pc.snapshot(),
		Secondary:       m.sc.snapshot(),
		Journal:         js,
		ReadThroughs:    m.readThroughs.Load(),
		ReadThroughHits: m.readThroughHits.Load(),
		Backfills:       m.backfills.Load(),
		ShadowReads:     m.shadowReads.Load(),
	}
	if m.sBreaker != nil {
		s.Breaker = m.sBreaker.Stats()
	}
	return s
}

// Degraded says when the secondary is failing (its circuit is not closed:
// writes to it are journaled, not sent) or its journal overflowed
// (provider.Degrader). The primary needs no reason of its own: it answers
// every call, so the aside.Cache's Health sees it fail directly.
func (m *Migrator) Degraded() []string {
	m.jmu.Lock()
	js := m.journal.stats()
	m.jmu.Unlock()
	var out []string
	if !m.secondaryUp() {
		out = append(out, fmt.Sprintf("migration: the secondary store (%s) is failing; %d write(s) it missed wait to be replayed when it answers",
			m.sc.name, js.Keys+js.Patterns))
	}
	if js.Overflowed {
		out = append(out, fmt.Sprintf("migration: the journal of the secondary store (%s) overflowed; its replay will delete every key of the scope there", m.sc.name))
	}
	return out
}

func (m *Migrator) stripeIndex(key string) int {
	return int(maphash.String(m.seed, key) % nStripes)
}

func (m *Migrator) stripe(key string) *stripe { return &m.stripes[m.stripeIndex(key)] }

// lock locks the stripes of keys in ascending order (so that writes of
// several keys cannot deadlock) and marks their writes begun; the func it
// returns marks them ended and unlocks.
func (m *Migrator) lock(keys ...string) func() {
	if len(keys) == 1 {
		st := m.stripe(keys[0])
		st.mu.Lock()
		st.begun.Add(1)
		return func() {
			st.ended.Add(1)
			st.mu.Unlock()
		}
	}
	idx := make([]int, len(keys))
	for i, k := range keys {
		idx[i] = m.stripeIndex(k)
	}
	slices.Sort(idx)
	return m.lockStripes(slices.Compact(idx))
}

func (m *Migrator) lockStripes(idx []int) func() {
	for _, i := range idx {
		m.stripes[i].mu.Lock()
		m.stripes[i].begun.Add(1)
	}
	return func() {
		for j := len(idx) - 1; j >= 0; j-- {
			st := &m.stripes[idx[j]]
			st.ended.Add(1)
			st.mu.Unlock()
		}
	}
}

func (m *Migrator) onPrimary(ctx context.Context, fn func(provider.Provider) error) error {
	start := time.Now()
	err := fn(m.p)
	m.pc.observe(ctx, start, err)
	return err
}

func (m *Migrator) onSecondary(ctx context.Context, fn func(provider.Provider) error) error {
	start := time.Now()
	err := fn(m.s)
	m.sc.observe(ctx, start, err)
	return err
}

// secondaryUp reports whether callers may call the secondary: its circuit
// is closed. While it is not, only the reconciler calls it (to probe it),
// so that no caller waits for a probe of a store that just failed: an
// operation pays at most the one timeout that opened the circuit.
func (m *Migrator) secondaryUp() bool {
	return m.sBreaker == nil || m.sBreaker.State() == circuit.Closed
}

// mirror sends a write the primary took (or may have taken) to the
// secondary. When record is not nil (a write that may invalidate) and the
// secondary may have missed it, record journals it.
func (m *Migrator) mirror(ctx context.Context, record func(*journal), fn func(provider.Provider) error) {
	var err error
	switch {
	case ctx.Err() != nil:
		err = ctx.Err() // the caller left; the primary may have applied the write
	case !m.secondaryUp():
		m.sc.refused.Add(1)
		err = provider.ErrUnavailable
	default:
		err = m.onSecondary(ctx, fn)
	}
	if err != nil {
		m.missed(record, err)
	}
}

// missed journals a write the secondary missed (when record is not nil)
// and wakes the reconciler, which also probes a secondary whose circuit is
// open.
func (m *Migrator) missed(record func(*journal), err error) {
	if record != nil {
		m.jmu.Lock()
		record(m.journal)
		warn := !m.warned && !errors.Is(err, provider.ErrUnavailable)
		m.warned = m.warned || warn
		m.jmu.Unlock()
		if warn {
			m.log.Warn("cache secondary store missed a write; journaled for replay", "secondary", m.sc.name, "err", err)
		}
	}
	m.poke()
}

// poke wakes the reconciler.
func (m *Migrator) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// untrusted reports whether the secondary may hold a stale value of key.
// The caller has checked that the secondary is up.
func (m *Migrator) untrusted(key string) bool {
	m.jmu.Lock()
	defer m.jmu.Unlock()
	return m.journal.has(key) && !m.trustSecondary
}

// shadow sends a sampled read of keys to the secondary, to be counted only.
func (m *Migrator) shadow(ctx context.Context, keys []string) {
	if m.shadowEvery == 0 || m.shadowN.Add(1)%m.shadowEvery != 0 || ctx.Err() != nil || !m.secondaryUp() {
		return
	}
	m.shadowReads.Add(1)
	_ = m.onSecondary(ctx, func(s provider.Provider) error {
		vals, err := s.GetMulti(ctx, keys)
		if err == nil {
			m.sc.read(len(keys), hits(vals))
		}
		return err
	})
}

// backfillOne copies v, read through from the secondary, into the
// in-process primary, unless a write of key's stripe, or a DeletePattern,
// began since the read began or was running then.
func (m *Migrator) backfillOne(ctx context.Context, key string, v []byte, km, pm mark) {
	st := m.stripe(key)
	st.mu.Lock()
	defer st.mu.Unlock()
	m.patterns.mu.Lock()
	defer m.patterns.mu.Unlock()
	if (!st.quiet(km) || !m.patterns.quiet(pm)) && !m.blindBackfill {
		return
	}
	var added bool
	if err := m.onPrimary(ctx, func(p provider.Provider) error {
		var e error
		_, added, e = p.Add(ctx, key, v, m.backfillTTL)
		return e
	}); err == nil && added {
		m.backfills.Add(1)
	}
}

// Get returns the value under key from the primary, or, with ReadThrough,
// from the secondary when the primary lacks it and the secondary may be
// trusted with it.
func (m *Migrator) Get(ctx context.Context, key string) ([]byte, error) {
	if m.closed.Load() {
		return nil, provider.ErrClosed
	}
	var km, pm mark
	if m.backfill {
		km, pm = m.stripe(key).mark(), m.patterns.mark()
	}
	var v []byte
	err := m.onPrimary(ctx, func(p provider.Provider) error {
		var e error
		v, e = p.Get(ctx, key)
		return e
	})
	switch {
	case err == nil:
		m.pc.read(1, 1)
		m.shadow(ctx, []string{key})
		return v, nil
	case !errors.Is(err, provider.ErrNotFound):
		return nil, err
	}
	m.pc.read(1, 0)
	if !m.readThrough {
		m.shadow(ctx, []string{key})
		return nil, err
	}
	if !m.secondaryUp() {
		m.sc.refused.Add(1)
		return nil, err
	}
	if m.untrusted(key) {
		return nil, err
	}
	m.readThroughs.Add(1)
	var sv []byte
	serr := m.onSecondary(ctx, func(s provider.Provider) error {
		var e error
		sv, e = s.Get(ctx, key)
		return e
	})
	switch {
	case serr == nil:
		m.sc.read(1, 1)
	case errors.Is(serr, provider.ErrNotFound):
		m.sc.read(1, 0)
		return nil, err
	case ctx.Err() != nil:
		return nil, ctx.Err()
	default:
		return nil, err // the secondary failing is still the primary's miss
	}
	m.readThroughHits.Add(1)
	if m.backfill {
		m.backfillOne(ctx, key, sv, km, pm)
	}
	return sv, nil
}

// GetMulti returns the values under keys from the primary, and, with
// ReadThrough, those it lacks from the secondary where it may be trusted.
func (m *Migrator) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if m.closed.Load() {
		return nil, provider.ErrClosed
	}
	var kms []mark
	var pm mark
	if m.backfill {
		kms = make([]mark, len(keys))
		for i, k := range keys {
			kms[i] = m.stripe(k).mark()
		}
		pm = m.patterns.mark()
	}
	var vals [][]byte
	err := m.onPrimary(ctx, func(p provider.Provider) error {
		var e error
		vals, e = p.GetMulti(ctx, keys)
		return e
	})
	if err != nil {
		return nil, err
	}
	found := hits(vals)
	m.pc.read(len(keys), found)
	if !m.readThrough || found == len(vals) {
		m.shadow(ctx, keys)
		return vals, nil
	}
	if !m.secondaryUp() {
		m.sc.refused.Add(1)
		return vals, nil
	}
	var idx []int
	var ask []string
	m.jmu.Lock()
	for i, v := range vals {
		if v == nil && (!m.journal.has(keys[i]) || m.trustSecondary) {
			idx = append(idx, i)
			ask = append(ask, keys[i])
		}
	}
	m.jmu.Unlock()
	if len(ask) == 0 {
		return vals, nil
	}
	m.readThroughs.Add(int64(len(ask)))
	var svals [][]byte
	serr := m.onSecondary(ctx, func(s provider.Provider) error {
		var e error
		svals, e = s.GetMulti(ctx, ask)
		if e == nil && len(svals) != len(ask) {
			e = fmt.Errorf("the secondary returned %d values for %d keys", len(svals), len(ask))
		}
		return e
	})
	if serr != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return vals, nil
	}
	n := hits(svals)
	m.sc.read(len(ask), n)
	m.readThroughHits.Add(int64(n))
	if n > 0 {
		vals = slices.Clone(vals) // the primary's slice is read-only
	}
	for j, v := range svals {
		if v == nil {
			continue
		}
		i := idx[j]
		vals[i] = v
		if m.backfill {
			m.backfillOne(ctx, keys[i], v, kms[i], pm)
		}
	}
	return vals, nil
}

// write applies a write of keys to the primary, then the same operation
// to the secondary, holding the keys' stripes so that both stores see the
// writes of a key in one order. record says whether the write may
// invalidate (it is journaled when the secondary may have missed it).
//
// A DeletePattern holds no stripe (it would stop every write while it
// scans the store); a write that overlapped one may have reached the two
// stores on either side of it, so its keys are journaled and deleted from
// the secondary by the reconciler.
func (m *Migrator) write(ctx context.Context, keys []string, record bool, onPrimary, onSecondary func(provider.Provider) error) error {
	if m.closed.Load() {
		return provider.ErrClosed
	}
	if len(keys) > 0 {
		defer m.lock(keys...)()
	}
	pm := m.patterns.mark()
	err := m.onPrimary(ctx, onPrimary)
	if refused(err) || len(keys) == 0 {
		return err
	}
	var rec func(*journal)
	if record {
		rec = func(j *journal) { j.add(keys...) }
	}
	m.mirror(ctx, rec, onSecondary)
	if !m.patterns.quiet(pm) {
		m.jmu.Lock()
		m.journal.add(keys...)
		m.jmu.Unlock()
		m.poke()
	}
	return err
}

// Set stores value under key in the primary, then in the secondary.
func (m *Migrator) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return m.write(ctx, []string{key}, true,
		func(p provider.Provider) error { return p.Set(ctx, key, value, ttl) },
		func(s provider.Provider) error { return s.Set(ctx, key, value, ttl) })
}

// Add adds value under key in the primary, whose answer it returns, then
// in the secondary.
func (m *Migrator) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (existing []byte, added bool, err error) {
	err = m.write(ctx, []string{key}, false,
		func(p provider.Provider) error {
			var e error
			existing, added, e = p.Add(ctx, key, value, ttl)
			return e
		},
		func(s provider.Provider) error {
			_, _, e := s.Add(ctx, key, value, ttl)
			return e
		})
	return existing, added, err
}

// CompareAndSwap swaps the value under key in the primary, whose answer it
// returns, then tries the same swap in the secondary.
func (m *Migrator) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (swapped bool, err error) {
	err = m.write(ctx, []string{key}, false,
		func(p provider.Provider) error {
			var e error
			swapped, e = p.CompareAndSwap(ctx, key, old, new, ttl)
			return e
		},
		func(s provider.Provider) error {
			_, e := s.CompareAndSwap(ctx, key, old, new, ttl)
			return e
		})
	return swapped, err
}

// Delete removes keys from the primary, whose count it returns, then from
// the secondary.
func (m *Migrator) Delete(ctx context.Context, keys ...string) (n int, err error) {
	err = m.write(ctx, keys, true,
		func(p provider.Provider) error {
			var e error
			n, e = p.Delete(ctx, keys...)
			return e
		},
		func(s provider.Provider) error {
			_, e := s.Delete(ctx, keys...)
			return e
		})
	return n, err
}

// Ping checks the primary.
func (m *Migrator) Ping(ctx context.Context) error {
	if m.closed.Load() {
		return provider.ErrClosed
	}
	return m.onPrimary(ctx, func(p provider.Provider) error { return p.Ping(ctx) })
}

// SetMulti applies items to the primary, then to the secondary.
func (m *Migrator) SetMulti(ctx context.Context, items []provider.Item) error {
	return m.write(ctx, itemKeys(items), true,
		func(p provider.Provider) error { return setMulti(ctx, p, items) },
		func(s provider.Provider) error { return setMulti(ctx, s, items) })
}

// AddMulti adds items to the primary, whose answers it returns, then to the
// secondary.
func (m *Migrator) AddMulti(ctx context.Context, items []provider.Item) (res []provider.AddResult, err error) {
	err = m.write(ctx, itemKeys(items), false,
		func(p provider.Provider) error {
			var e error
			res, e = addMulti(ctx, p, items)
			return e
		},
		func(s provider.Provider) error {
			_, e := addMulti(ctx, s, items)
			return e
		})
	return res, err
}

// GetAddMulti reads keys and adds to the missing ones in the primary,
// whose answers it returns, then sends the same fetches to the secondary
// (the adds as Add does; the reads are counted as the secondary's, for the
// side-by-side hit rates), holding the keys' stripes. With ReadThrough it
// is Get then Add per key instead: one GetMulti (read through, and
// backfilled, as GetMulti is), then an AddMulti of the keys still missing,
// so that a key the secondary holds is answered, not leased.
func (m *Migrator) GetAddMulti(ctx context.Context, fetches []provider.Fetch) (res []provider.AddResult, err error) {
	if m.readThrough {
		return m.getAddThrough(ctx, fetches)
	}
	err = m.write(ctx, fetchKeys(fetches), false,
		func(p provider.Provider) error {
			var e error
			res, e = getAddMulti(ctx, p, fetches)
			if e == nil {
				m.pc.read(len(fetches), found(res))
			}
			return e
		},
		func(s provider.Provider) error {
			sres, e := getAddMulti(ctx, s, fetches)
			if e == nil {
				m.sc.read(len(fetches), found(sres))
			}
			return e
		})
	return res, err
}

// getAddThrough is GetAddMulti with ReadThrough.
func (m *Migrator) getAddThrough(ctx context.Context, fetches []provider.Fetch) ([]provider.AddResult, error) {
	keys := fetchKeys(fetches)
	vals, err := m.GetMulti(ctx, keys)
	if err != nil {
		return nil, err
	}
	res := make([]provider.AddResult, len(fetches))
	var adds []provider.Item
	var at []int
	for i, f := range fetches {
		res[i].Existing = vals[i]
		if vals[i] == nil && f.Add != nil {
			adds = append(adds, provider.Item{Key: f.Key, Value: f.Add, TTL: f.TTL})
			at = append(at, i)
		}
	}
	if len(adds) > 0 {
		added, err := m.AddMulti(ctx, adds)
		if err != nil {
			return nil, err
		}
		if len(added) != len(adds) {
			return nil, fmt.Errorf("aside: dual: the primary answered %d results for %d adds", len(added), len(adds))
		}
		for j, i := range at {
			res[i] = added[j]
		}
	}
	inOrder(fetches, res)
	return res, nil
}

// CompareAndSwapMulti swaps values in the primary, whose answers it
// returns, then tries the same swaps in the secondary, as CompareAndSwap
// does.
func (m *Migrator) CompareAndSwapMulti(ctx context.Context, swaps []provider.Swap) (res []bool, err error) {
	err = m.write(ctx, swapKeys(swaps), false,
		func(p provider.Provider) error {
			var e error
			res, e = casMulti(ctx, p, swaps)
			return e
		},
		func(s provider.Provider) error {
			_, e := casMulti(ctx, s, swaps)
			return e
		})
	return res, err
}

// DeletePattern deletes the keys matching pattern from the primary, whose
// count it returns, then from the secondary. It answers
// provider.ErrNotSupported when the primary cannot delete by pattern.
func (m *Migrator) DeletePattern(ctx context.Context, pattern string) (n int, err error) {
	if m.closed.Load() {
		return 0, provider.ErrClosed
	}
	// Begun under the lock a backfill holds while it writes, so that no
	// backfill lands in the primary after this began walking it.
	m.patterns.mu.Lock()
	m.patterns.begun.Add(1)
	m.patterns.mu.Unlock()
	defer m.patterns.ended.Add(1)
	err = m.onPrimary(ctx, func(p provider.Provider) error {
		var e error
		n, e = deletePattern(ctx, p, pattern)
		return e
	})
	if refused(err) || errors.Is(err, provider.ErrNotSupported) {
		return n, err
	}
	m.mirror(ctx, func(j *journal) { j.addPattern(pattern) }, func(s provider.Provider) error {
		_, e := deletePattern(ctx, s, pattern)
		return e
	})
	return n, err
}

// Len returns the primary's key count, or an error matching
// provider.ErrNotSupported when it cannot count.
func (m *Migrator) Len(ctx context.Context) (n int64, err error) {
	if m.closed.Load() {
		return 0, provider.ErrClosed
	}
	err = m.onPrimary(ctx, func(p provider.Provider) error {
		var e error
		n, e = length(ctx, p)
		return e
	})
	return n, err
}

// run is the reconciler: whenever the secondary's circuit is not closed,
// or its journal is not empty, it probes the secondary and replays the
// journal there, once per cool-down until both are done.
func (m *Migrator) run() {
	defer close(m.done)
	for {
		select {
		case <-m.bgCtx.Done():
			return
		case <-m.wake:
		}
		for !m.reconcile(m.bgCtx) {
			if !sleep(m.bgCtx, m.coolDown) {
				return
			}
		}
	}
}

// reconcile probes the secondary if its circuit is not closed, then
// replays its journal once; it reports whether the circuit is closed and
// the journal empty.
func (m *Migrator) reconcile(ctx context.Context) bool {
	if !m.secondaryUp() {
		start := time.Now()
		err := m.s.Ping(ctx) // refused until the cool-down has passed; then the probe
		m.sc.observe(ctx, start, err)
		if err != nil {
			return false
		}
	}
	return m.replayOn(ctx, m.s) && m.secondaryUp()
}

// replayOn replays the secondary's journal once on s and reports whether
// it is empty now.
func (m *Migrator) replayOn(ctx context.Context, s provider.Provider) bool {
	m.jmu.Lock()
	b := m.journal.take()
	m.jmu.Unlock()
	if b == nil {
		m.jmu.Lock()
		defer m.jmu.Unlock()
		return m.journal.empty()
	}
	err := replay(ctx, s, b, m.scope)
	m.jmu.Lock()
	if err != nil {
		m.journal.restore()
	} else {
		m.journal.done()
	}
	empty := m.journal.empty()
	if empty {
		m.warned = false
	}
	m.jmu.Unlock()
	if err != nil && errors.Is(err, errScopeNotSupported) {
		m.log.Error("cache secondary store journal overflowed and cannot be replayed", "secondary", m.sc.name, "err", err)
	}
	return err == nil && empty
}

// Close stops the reconciler, tries once to deliver a secondary journal that
// is not empty, past its circuit breaker and within 2 s (logging what it
// could not), and closes both stores. It is
// idempotent; every other method returns an error matching
// provider.ErrClosed afterwards.
func (m *Migrator) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	m.bgCancel()
	<-m.done
	// Straight to the secondary: its circuit may still be open although it
	// is back, and one timeout at Close is worth the invalidations.
	ctx, cancel := context.WithTimeout(context.Background(), closeReplayTimeout)
	empty := m.replayOn(ctx, m.rawS)
	cancel()
	if !empty {
		m.jmu.Lock()
		js := m.journal.stats()
		m.jmu.Unlock()
		m.log.Error("cache closed with writes the secondary store missed: it may hold their old values until they expire",
			"secondary", m.sc.name, "keys", js.Keys, "patterns", js.Patterns, "overflowed", js.Overflowed)
	}
	return errors.Join(m.p.Close(), m.s.Close())
}
