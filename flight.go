package aside

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"
)

// flightGroup collapses concurrent loads of one key inside this process
// (stampede protection). Unlike x/sync/singleflight, a caller only takes a
// flight's result when that result cannot predate an invalidation the caller
// has already seen (see flight.acceptable), each caller can leave on its own
// context without failing the others, and the loader's context is cancelled
// only when every caller has left.
type flightGroup struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done    chan struct{}
	cancel  context.CancelFunc
	waiters int // guarded by flightGroup.mu

	// setup is published under flightGroup.mu once the leader holds its lease
	// and tag stamps, before the loader runs; nil until then.
	setup *flightSetup

	// Written by the leader before done is closed.
	payload  []byte
	value    any    // the loaded value after redaction, what payload encodes
	stored   []byte // the entry the leader stored, when its swap succeeded
	err      error
	panicked *PanicError
	// changedDuringLoad is set when a tag named during the load was
	// invalidated while the loader ran.
	changedDuringLoad bool
}

// flightSetup is what a flight knew before its loader started.
type flightSetup struct {
	// expect is what the flight will compare-and-swap from when it stores:
	// its own lease, or the stale entry it refreshes; nil when it cannot
	// store. It was in place before loadStart.
	expect []byte
	// observed is what the leader's read saw, for flights that hold no lease.
	observed  []byte
	readErr   bool
	loadStart time.Time
	stamps    []stamp
}

// acceptable reports whether a caller that made observation o may take this
// flight's result: every invalidation that completed before the caller began
// must have completed before the flight's loader began. A caller that began
// before the loader, or that still saw the flight's lease in place (a Delete
// would have removed it) and the tag versions the flight stamped, is safe;
// any other caller loads again itself.
func (s *flightSetup) acceptable(o *observation) bool {
	if s.readErr && o.readErr {
		// The store is failing for both: nothing can be stored. Keep
		// collapsing loads, so that an outage of the cache does not multiply
		// the load on the origin, unless this process began an invalidation
		// since the loader began: the caller may come after a write the
		// loader did not see (its invalidation failing, or pending, with the
		// store).
		return s.loadStart.UnixNano() > o.invalidatedAt
	}
	if !o.start.After(s.loadStart) {
		return true // the loader began after anything the caller could have seen
	}
	for i, t := range o.tags {
		// A caller that read no records (its budget was spent, or the read
		// failed) has no versions: it saw no invalidation either.
		var v uint64
		if i < len(o.tagVers) {
			v = o.tagVers[i]
		}
		found := false
		for _, st := range s.stamps {
			if st.name == t {
				found = true
				// A caller that saw no record may have missed an invalidation
				// whose record was evicted: only the same version will do.
				if v != st.version {
					return false
				}
				break
			}
		}
		if !found {
			return false
		}
	}
	switch {
	case s.expect != nil && o.raw != nil && bytes.Equal(o.raw, s.expect):
		return true // the flight's lease (or the entry it refreshes) was still in place after the caller began
	case s.expect == nil && o.raw != nil && bytes.Equal(o.raw, s.observed):
		return true // the same foreign lease or entry: nothing was deleted in between
	}
	return false
}

// join returns the flight for key that the caller may wait on, starting a new
// one with start when there is none or the current one is no good for obs.
func (g *flightGroup) join(key string, obs *observation, force bool, start func(f *flight)) (f *flight, leader bool) {
	g.mu.Lock()
	if g.m == nil {
		g.m = make(map[string]*flight)
	}
	// A caller whose read failed has spent its one failure: it does not wait
	// on a flight still setting up, whose lease and tag writes may be stuck
	// on the same store for another timeout; it loads on its own (and later
	// callers in the same state join it).
	if f, ok := g.m[key]; ok && !force && ((f.setup == nil && !obs.readErr) || (f.setup != nil && f.setup.acceptable(obs))) {
		f.waiters++
		g.mu.Unlock()
		return f, false
	}
	f = &flight{done: make(chan struct{}), waiters: 1}
	g.m[key] = f
	start(f) // under the lock: leave reads f.cancel, which start sets
	g.mu.Unlock()
	return f, true
}

func (g *flightGroup) publish(f *flight, s *flightSetup) {
	g.mu.Lock()
	f.setup = s
	g.mu.Unlock()
}

// leave drops a waiter that gave up; the last one to leave an unfinished
// flight cancels its loader and unmaps it so later callers start afresh.
func (g *flightGroup) leave(key string, f *flight) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f.waiters--
	if f.waiters > 0 {
		return
	}
	select {
	case <-f.done:
		return
	default:
	}
	if g.m[key] == f {
		delete(g.m, key)
	}
	if f.cancel != nil {
		f.cancel()
	}
}

// finish unmaps a completed flight and releases its waiters.
func (g *flightGroup) finish(key string, f *flight) {
	g.mu.Lock()
	if g.m[key] == f {
		delete(g.m, key)
	}
	g.mu.Unlock()
	close(f.done)
}

func (g *flightGroup) done(f *flight) {
	g.mu.Lock()
	f.waiters--
	g.mu.Unlock()
}

var errGoexit = errors.New("aside: loader called runtime.Goexit")

// errNotReturned ends the flight of a key that a RememberMany loader did not
// return: a Remember that joined it loads the key itself; a RememberMany
// that joined it answers "not found", as its own loader did.
var errNotReturned = errors.New("aside: the batch loader did not return this key")
