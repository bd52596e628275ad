package dual

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
	"github.com/aside-go/aside/provider/memory"
)

// FallbackOptions configure NewFallback. The zero value works.
type FallbackOptions struct {
	// NewSecondary returns the store that answers while the primary is
	// unavailable. It is called when an outage begins and must return an
	// empty store private to this process (a store kept across outages, or
	// shared with other processes, would hold what the primary invalidated
	// since); the composite closes it once the outage is over. It is called
	// under the composite's lock and must not call the composite. Default:
	// an in-process memory provider bounded at memory.DefaultMaxBytes.
	NewSecondary func() (provider.Provider, error)

	// Breaker configures the circuit breaker around the primary. A zero
	// Failures means DefaultFailures (1): the first failed call
	// switches to the secondary, and is answered by it. CoolDown (default
	// circuit.DefaultCoolDown, 1 s) is how often the primary is probed
	// during an outage. Keep Failures below the aside.Cache's own breaker's
	// (5 by default), or the Cache stops calling the composite before it
	// has switched. Breaker.OnStateChange is called too.
	Breaker circuit.Options

	// Scope is a glob (Redis syntax) matching every key this cache owns in
	// the primary: when the journal overflows, reconciliation deletes it
	// whole. Default "*", the whole store, which is right for a store
	// dedicated to the cache; set it (aside.OptionsFromEnv does, from the
	// namespace) when the store holds other data.
	Scope string

	// JournalBytes bounds the journal of writes the primary missed during
	// an outage. Default DefaultJournalBytes (4 MiB).
	JournalBytes int

	// PrimaryName and SecondaryName label the sides in Stats. Default
	// "primary" and "secondary".
	PrimaryName, SecondaryName string

	// OnStateChange is called on each change of State, in order, never
	// concurrently with itself, and outside the composite's locks.
	OnStateChange func(from, to State)

	// Logger receives a warning when an outage begins, one line when the
	// primary is back and reconciled, and errors that lose data (a journal
	// that overflowed or could not be delivered at Close). It never sees a
	// key. Default: discard.
	Logger *slog.Logger
}

// Fallback is a provider that serves from its primary while the primary's
// circuit breaker is closed and from a fresh in-process secondary while it
// is not, and reconciles the primary before it answers again. See the
// package documentation for what it guarantees. Create it with NewFallback.
type Fallback struct {
	primary      provider.Provider // behind breaker
	raw          provider.Provider // the primary itself, for Close's last replay
	breaker      *circuit.Breaker
	newSecondary func() (provider.Provider, error)
	scope        string
	coolDown     time.Duration
	log          *slog.Logger

	// state is the State; it changes under mu. epoch is the secondary of
	// the current outage, nil while the primary serves.
	state atomic.Int32
	epoch atomic.Pointer[epoch]

	// gate is held shared by a journaled write while it checks the state
	// and records its keys, and exclusively by the last replay round, so
	// that no write is journaled between that round and the switch back.
	// Nothing else waits for it: reads, Adds and Stats do not.
	gate sync.RWMutex
	// mu guards the state changes, the journal and the outage timings; it
	// is never held during a call to a store.
	mu            sync.Mutex
	journal       *journal
	outageStart   time.Time
	lastOutage    time.Duration
	lastReconcile time.Duration
	maxReconcile  time.Duration

	outages, served atomic.Int64
	pc, sc          counters
	notify          notifier

	// skipReplay drops the journal instead of replaying it: a test hook
	// proving that the tests catch a lost invalidation.
	skipReplay bool

	closed   atomic.Bool
	bgCtx    context.Context
	bgCancel context.CancelFunc
	wake     chan struct{}
	done     chan struct{}
}

var (
	_ provider.Provider       = (*Fallback)(nil)
	_ provider.Batcher        = (*Fallback)(nil)
	_ provider.MultiAdder     = (*Fallback)(nil)
	_ provider.MultiGetAdder  = (*Fallback)(nil)
	_ provider.MultiSwapper   = (*Fallback)(nil)
	_ provider.Composite      = (*Fallback)(nil)
	_ provider.Degrader       = (*Fallback)(nil)
	_ provider.PatternDeleter = (*Fallback)(nil)
	_ provider.Counter        = (*Fallback)(nil)
)

// epoch is the secondary store of one outage. Calls hold a read lock while
// they use it, so that it is closed only once they have returned.
type epoch struct {
	p       provider.Provider
	mu      sync.RWMutex
	retired bool
}

func (e *epoch) acquire() bool {
	e.mu.RLock()
	if e.retired {
		e.mu.RUnlock()
		return false
	}
	return true
}

func (e *epoch) release() { e.mu.RUnlock() }

// retire waits for the calls using the store, then closes it.
func (e *epoch) retire() error {
	e.mu.Lock()
	e.retired = true
	e.mu.Unlock()
	return e.p.Close()
}

// NewFallback returns a Fallback over primary, which it owns (Close closes
// it). The primary must implement provider.PatternDeleter, to replay an
// overflowed journal (the memory and redis providers do).
func NewFallback(primary provider.Provider, o FallbackOptions) (*Fallback, error) {
	if primary == nil {
		return nil, fmt.Errorf("%w: the primary is nil", ErrInvalidOptions)
	}
	if _, ok := primary.(provider.PatternDeleter); !ok {
		return nil, fmt.Errorf("%w: the primary must implement provider.PatternDeleter, to replay an overflowed journal", ErrInvalidOptions)
	}
	if o.JournalBytes < 0 {
		return nil, fmt.Errorf("%w: JournalBytes is %d (use 0 for the default of %d, or a positive bound)", ErrInvalidOptions, o.JournalBytes, DefaultJournalBytes)
	}
	f := &Fallback{
		newSecondary: o.NewSecondary,
		scope:        o.Scope,
		coolDown:     o.Breaker.CoolDown,
		log:          o.Logger,
		journal:      newJournal(o.JournalBytes),
		notify:       notifier{fn: o.OnStateChange},
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}),
	}
	if f.newSecondary == nil {
		f.newSecondary = func() (provider.Provider, error) { return memory.New(memory.Options{}) }
	}
	if f.scope == "" {
		f.scope = "*"
	}
	if f.coolDown == 0 {
		f.coolDown = circuit.DefaultCoolDown
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	f.pc.name, f.sc.name = orName(o.PrimaryName, "primary"), orName(o.SecondaryName, "secondary")
	bo := o.Breaker
	if bo.Failures == 0 {
		bo.Failures = DefaultFailures
	}
	// The switch to the secondary is made by the call that finds the
	// circuit open, not by the breaker's callback: the callback runs in the
	// goroutine of whichever call moved the circuit, which may be the
	// reconciler holding f.gate.
	guarded, b, err := circuit.Wrap(primary, bo)
	if err != nil {
		return nil, fmt.Errorf("%w: Breaker: %w", ErrInvalidOptions, err)
	}
	f.primary, f.raw, f.breaker = guarded, primary, b
	f.bgCtx, f.bgCancel = context.WithCancel(context.Background())
	go f.run()
	return f, nil
}

func orName(name, def string) string {
	if name == "" {
		return def
	}
	return name
}

// State returns which side answers now.
func (f *Fallback) State() State { return State(f.state.Load()) }

// Stats returns the composite's counters.
func (f *Fallback) Stats() Stats {
	f.mu.Lock()
	js := f.journal.stats()
	lastOutage, lastReconcile, maxReconcile := f.lastOutage, f.lastReconcile, f.maxReconcile
	f.mu.Unlock()
	return Stats{
		Mode:          "fallback",
		State:         f.State(),
		Primary:       f.pc.snapshot(),
		Secondary:     f.sc.snapshot(),
		Breaker:       f.breaker.Stats(),
		Journal:       js,
		Outages:       f.outages.Load(),
		Served:        f.served.Load(),
		LastOutage:    lastOutage,
		LastReconcile: lastReconcile,
		MaxReconcile:  maxReconcile,
	}
}

// Degraded says, while the secondary serves, that the primary is
// unavailable or being reconciled, and since when (provider.Degrader):
// the aside.Cache's Health is then degraded, although every call is
// answered.
func (f *Fallback) Degraded() []string {
	state := f.State()
	if state == Primary {
		return nil
	}
	f.mu.Lock()
	since := time.Since(f.outageStart)
	if since < time.Second {
		since = since.Round(time.Millisecond)
	} else {
		since = since.Round(time.Second)
	}
	journaled := f.journal.stats()
	f.mu.Unlock()
	switch state {
	case Secondary:
		return []string{fmt.Sprintf("fallback: the primary store (%s) is unavailable; the secondary store (%s) has served every call for %v, and %d write(s) wait to be replayed on the primary",
			f.pc.name, f.sc.name, since, journaled.Keys+journaled.Patterns)}
	default:
		return []string{fmt.Sprintf("fallback: the primary store (%s) answers again and is being reconciled; the secondary store (%s) still serves (outage of %v)",
			f.pc.name, f.sc.name, since)}
	}
}

// setState changes the state; f.mu is held.
func (f *Fallback) setState(to State) {
	from := State(f.state.Swap(int32(to)))
	if from != to {
		f.notify.push(from, to)
	}
}

// outage switches to a fresh secondary, unless the primary is already not
// serving or the composite is closed.
func (f *Fallback) outage() {
	f.mu.Lock()
	if f.closed.Load() || f.State() != Primary {
		f.mu.Unlock()
		return
	}
	s, err := f.newSecondary()
	if err == nil && s == nil {
		err = errors.New("NewSecondary returned a nil provider")
	}
	if err != nil {
		f.mu.Unlock()
		f.log.Error("cache primary store unavailable, and no secondary store could be made: serving misses", "err", err)
		return
	}
	f.epoch.Store(&epoch{p: s})
	f.outageStart = time.Now()
	f.setState(Secondary)
	f.outages.Add(1)
	f.mu.Unlock()
	f.notify.flush()
	f.log.Warn("cache primary store unavailable: serving from the secondary store", "primary", f.pc.name, "secondary", f.sc.name)
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// acquire returns the secondary store to use, read-locked, or nil when
// the primary serves. When record is not nil (a write that may invalidate),
// it is journaled first, under f.gate shared: the last replay round holds
// it exclusively until the switch back.
func (f *Fallback) acquire(record func(*journal)) *epoch {
	if f.State() == Primary {
		return nil
	}
	if record == nil {
		for {
			ep := f.epoch.Load()
			if ep == nil {
				return nil // the primary serves again
			}
			if ep.acquire() {
				return ep
			}
			// Retired: the state moved on since; look again.
		}
	}
	f.gate.RLock()
	defer f.gate.RUnlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.State() == Primary {
		return nil
	}
	ep := f.epoch.Load()
	// Under f.mu with the state not Primary the epoch is current: one is
	// retired only after the switch back.
	if ep == nil || !ep.acquire() {
		return nil
	}
	record(f.journal)
	return ep
}

// call runs fn on the side that serves: the primary, or the secondary when
// the primary is not serving or fn just found it failing with its circuit
// open. record journals what fn writes, for writes that may invalidate.
func (f *Fallback) call(ctx context.Context, record func(*journal), fn func(provider.Provider, *counters) error) error {
	if f.closed.Load() {
		return provider.ErrClosed
	}
	if ep := f.acquire(record); ep != nil {
		return f.onSecondary(ctx, ep, fn)
	}
	start := time.Now()
	err := fn(f.primary, &f.pc)
	f.pc.observe(ctx, start, err)
	if !storeFailed(ctx, err) || f.breaker.State() == circuit.Closed {
		return err
	}
	// The primary failed and its circuit is open (this call may have opened
	// it): switch, and let the secondary answer this call too.
	f.outage()
	if ep := f.acquire(record); ep != nil {
		return f.onSecondary(ctx, ep, fn)
	}
	return err
}

func (f *Fallback) onSecondary(ctx context.Context, ep *epoch, fn func(provider.Provider, *counters) error) error {
	defer ep.release()
	f.served.Add(1)
	start := time.Now()
	err := fn(ep.p, &f.sc)
	f.sc.observe(ctx, start, err)
	return err
}

// run is the reconciler: during each outage it probes the primary once per
// cool-down until it has answered and been reconciled.
func (f *Fallback) run() {
	defer close(f.done)
	for {
		select {
		case <-f.bgCtx.Done():
			return
		case <-f.wake:
		}
		for f.State() != Primary {
			if !sleep(f.bgCtx, f.coolDown) {
				return
			}
			f.reconcile()
		}
	}
}

// maxRounds is how many replay rounds run without holding f.gate before
// the last one holds it (so that writes cannot keep the journal from ever
// being empty).
const maxRounds = 4

// reconcile probes the primary and, when it answers, replays the journal on
// it and switches back. It reports whether the primary serves again.
func (f *Fallback) reconcile() bool {
	ctx := f.bgCtx
	start := time.Now()
	err := f.primary.Ping(ctx)
	f.pc.observe(ctx, start, err)
	if err != nil {
		return false
	}
	back := time.Now()
	f.mu.Lock()
	f.setState(Reconciling)
	f.mu.Unlock()
	f.notify.flush()
	for round := 1; ; round++ {
		f.mu.Lock()
		b := f.journal.take()
		f.mu.Unlock()
		if b != nil {
			if err := f.replay(ctx, b); err != nil {
				f.reconcileFailed(ctx, err)
				return false
			}
			f.mu.Lock()
			f.journal.done()
			f.mu.Unlock()
			if !b.small() && round < maxRounds {
				continue // more may have been journaled meanwhile
			}
		}
		// The last round holds f.gate exclusively, so that no write is
		// journaled between its replay and the switch back; it replays what
		// was journaled during the previous round's round trip (journaled
		// writes wait for it; nothing else does).
		f.gate.Lock()
		f.mu.Lock()
		b = f.journal.take()
		f.mu.Unlock()
		if b != nil {
			if err := f.replay(ctx, b); err != nil {
				f.reconcileFailed(ctx, err)
				f.gate.Unlock()
				return false
			}
		}
		f.mu.Lock()
		if b != nil {
			f.journal.done()
		}
		old := f.switchBack(back)
		f.mu.Unlock()
		f.gate.Unlock()
		f.afterSwitchBack(old)
		return true
	}
}

// reconcileFailed puts the batch being replayed back and returns to the
// secondary state.
func (f *Fallback) reconcileFailed(ctx context.Context, err error) {
	f.mu.Lock()
	f.journal.restore()
	f.setState(Secondary)
	f.mu.Unlock()
	f.notify.flush()
	if ctx.Err() == nil {
		f.log.Warn("cache primary store answered but its reconciliation failed; still serving from the secondary", "err", err)
	}
}

func (f *Fallback) replay(ctx context.Context, b *batch) error {
	return f.replayOn(ctx, f.primary, b)
}

func (f *Fallback) replayOn(ctx context.Context, p provider.Provider, b *batch) error {
	if f.skipReplay {
		return nil
	}
	return replay(ctx, p, b, f.scope)
}

// switchBack makes the primary serve again; f.mu is held. It returns the
// retired outage's secondary, for afterSwitchBack.
func (f *Fallback) switchBack(back time.Time) *epoch {
	took := time.Since(back)
	f.lastReconcile, f.lastOutage = took, time.Since(f.outageStart)
	f.maxReconcile = max(f.maxReconcile, took)
	f.setState(Primary)
	return f.epoch.Swap(nil)
}

// afterSwitchBack reports the switch back and closes the outage's
// secondary once the calls using it have returned; no lock is held.
func (f *Fallback) afterSwitchBack(old *epoch) {
	f.notify.flush()
	s := f.Stats()
	f.log.Info("cache primary store back and reconciled: serving from it again",
		"outage", s.LastOutage.Round(time.Millisecond), "reconcile", s.LastReconcile.Round(time.Millisecond),
		"replays", s.Journal.Replays, "replayed", s.Journal.Replayed)
	if old != nil {
		if err := old.retire(); err != nil {
			f.log.Warn("cache secondary store did not close cleanly", "err", err)
		}
	}
}

// sleep waits d, or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// closeReplayTimeout bounds the last replay Close tries.
const closeReplayTimeout = 2 * time.Second

// Close stops the reconciler, tries once to deliver a journal that is not
// empty to the primary, past its circuit breaker and within 2 s (logging
// what it could not), and closes the secondary and the primary. It is idempotent; every other method returns
// an error matching provider.ErrClosed afterwards.
func (f *Fallback) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	f.bgCancel()
	<-f.done
	f.mu.Lock()
	b := f.journal.take()
	f.mu.Unlock()
	if b != nil {
		// Straight to the primary: its circuit may still be open although
		// it is back, and one timeout at Close is worth the invalidations.
		ctx, cancel := context.WithTimeout(context.Background(), closeReplayTimeout)
		err := f.replayOn(ctx, f.raw, b)
		cancel()
		f.mu.Lock()
		if err != nil {
			f.journal.restore()
		} else {
			f.journal.done()
		}
		js := f.journal.stats()
		f.mu.Unlock()
		if err != nil {
			f.log.Error("cache closed during an outage: writes made meanwhile could not be replayed on the primary, which may serve their old values until they expire",
				"keys", js.Keys, "patterns", js.Patterns, "overflowed", js.Overflowed, "err", err)
		}
	}
	var errs []error
	if ep := f.epoch.Swap(nil); ep != nil {
		errs = append(errs, ep.retire())
	}
	errs = append(errs, f.primary.Close())
	return errors.Join(errs...)
}

// Get returns the value under key from the side that serves.
func (f *Fallback) Get(ctx context.Context, key string) (v []byte, err error) {
	err = f.call(ctx, nil, func(p provider.Provider, c *counters) error {
		var e error
		v, e = p.Get(ctx, key)
		switch {
		case e == nil:
			c.read(1, 1)
		case errors.Is(e, provider.ErrNotFound):
			c.read(1, 0)
		}
		return e
	})
	return v, err
}

// GetMulti returns the values under keys from the side that serves.
func (f *Fallback) GetMulti(ctx context.Context, keys []string) (vals [][]byte, err error) {
	err = f.call(ctx, nil, func(p provider.Provider, c *counters) error {
		var e error
		vals, e = p.GetMulti(ctx, keys)
		if e == nil {
			c.read(len(keys), hits(vals))
		}
		return e
	})
	return vals, err
}

// Set stores value under key on the side that serves; on the secondary it
// journals key first.
func (f *Fallback) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return f.call(ctx, func(j *journal) { j.add(key) }, func(p provider.Provider, _ *counters) error {
		return p.Set(ctx, key, value, ttl)
	})
}

// Add adds value under key on the side that serves.
func (f *Fallback) Add(ctx context.Context, key string, value []byte, ttl time.Duration) (existing []byte, added bool, err error) {
	err = f.call(ctx, nil, func(p provider.Provider, _ *counters) error {
		var e error
		existing, added, e = p.Add(ctx, key, value, ttl)
		return e
	})
	return existing, added, err
}

// CompareAndSwap swaps the value under key on the side that serves.
func (f *Fallback) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (swapped bool, err error) {
	err = f.call(ctx, nil, func(p provider.Provider, _ *counters) error {
		var e error
		swapped, e = p.CompareAndSwap(ctx, key, old, new, ttl)
		return e
	})
	return swapped, err
}

// Delete removes keys on the side that serves; on the secondary it
// journals them first.
func (f *Fallback) Delete(ctx context.Context, keys ...string) (n int, err error) {
	err = f.call(ctx, func(j *journal) { j.add(keys...) }, func(p provider.Provider, _ *counters) error {
		var e error
		n, e = p.Delete(ctx, keys...)
		return e
	})
	return n, err
}

// Ping checks the side that serves: during an outage the composite answers
// (from its secondary) although its primary does not; Stats and State tell
// the difference.
func (f *Fallback) Ping(ctx context.Context) error {
	return f.call(ctx, nil, func(p provider.Provider, _ *counters) error { return p.Ping(ctx) })
}

// SetMulti applies items on the side that serves; on the secondary it
// journals their keys first.
func (f *Fallback) SetMulti(ctx context.Context, items []provider.Item) error {
	return f.call(ctx, func(j *journal) { j.add(itemKeys(items)...) }, func(p provider.Provider, _ *counters) error {
		return setMulti(ctx, p, items)
	})
}

// AddMulti applies items with Add semantics on the side that serves.
func (f *Fallback) AddMulti(ctx context.Context, items []provider.Item) (res []provider.AddResult, err error) {
	err = f.call(ctx, nil, func(p provider.Provider, _ *counters) error {
		var e error
		res, e = addMulti(ctx, p, items)
		return e
	})
	return res, err
}

// GetAddMulti reads keys and adds to the missing ones on the side that
// serves, as Add does: not journaled (leases and fresh tag records make
// nothing in the primary stale). A store without the ability gets one
// GetMulti and one AddMulti.
func (f *Fallback) GetAddMulti(ctx context.Context, fetches []provider.Fetch) (res []provider.AddResult, err error) {
	err = f.call(ctx, nil, func(p provider.Provider, c *counters) error {
		var e error
		res, e = getAddMulti(ctx, p, fetches)
		if e == nil {
			c.read(len(fetches), found(res))
		}
		return e
	})
	return res, err
}

// CompareAndSwapMulti swaps values on the side that serves, as
// CompareAndSwap does. A store without the ability gets one
// CompareAndSwap per swap.
func (f *Fallback) CompareAndSwapMulti(ctx context.Context, swaps []provider.Swap) (res []bool, err error) {
	err = f.call(ctx, nil, func(p provider.Provider, _ *counters) error {
		var e error
		res, e = casMulti(ctx, p, swaps)
		return e
	})
	return res, err
}

// DeletePattern deletes the keys matching pattern on the side that serves;
// on the secondary it journals the pattern first.
func (f *Fallback) DeletePattern(ctx context.Context, pattern string) (n int, err error) {
	err = f.call(ctx, func(j *journal) { j.addPattern(pattern) }, func(p provider.Provider, _ *counters) error {
		var e error
		n, e = deletePattern(ctx, p, pattern)
		return e
	})
	return n, err
}

// Len returns the key count of the side that serves, or an error matching
// provider.ErrNotSupported when it cannot count.
func (f *Fallback) Len(ctx context.Context) (n int64, err error) {
	err = f.call(ctx, nil, func(p provider.Provider, _ *counters) error {
		var e error
		n, e = length(ctx, p)
		return e
	})
	return n, err
}

// notifier delivers state changes to a callback in order, never
// concurrently, outside the composite's locks (as package circuit does).
type notifier struct {
	fn         func(from, to State)
	mu         sync.Mutex
	queue      []transition
	pending    atomic.Bool
	delivering sync.Mutex
}

type transition struct{ from, to State }

func (n *notifier) push(from, to State) {
	if n.fn == nil {
		return
	}
	n.mu.Lock()
	n.queue = append(n.queue, transition{from, to})
	n.pending.Store(true)
	n.mu.Unlock()
}

func (n *notifier) flush() {
	for n.pending.Load() {
		if !n.delivering.TryLock() {
			return
		}
		for {
			n.mu.Lock()
			q := n.queue
			n.queue = nil
			n.pending.Store(false)
			n.mu.Unlock()
			if len(q) == 0 {
				break
			}
			for _, t := range q {
				n.fn(t.from, t.to)
			}
		}
		n.delivering.Unlock()
	}
}
