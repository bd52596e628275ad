package dual

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
)

// ErrInvalidOptions is returned by NewMigrator and NewFallback for options
// they cannot work with; the message names the field.
var ErrInvalidOptions = errors.New("aside: dual: invalid options")

// DefaultJournalBytes bounds a journal when the options leave it 0: 4 MiB,
// about 16,000 keys of 200 bytes.
const DefaultJournalBytes = 4 << 20

const (
	// DefaultFailures is the Failures of the circuit breaker a composite
	// puts around its network side (the fallback's primary, the migrator's
	// secondary) when the options leave it 0: it opens on the first failed
	// call. For a fallback, that call is answered by the secondary and no
	// caller sees a store error; for a migrator, no later write waits for a
	// secondary that just timed out, so an operation that writes several
	// times pays at most one timeout.
	DefaultFailures = 1
	// DefaultBackfillTTL is how long a value read through from the
	// secondary is kept in an in-process primary.
	DefaultBackfillTTL = time.Second
)

// State is which side of a composite answers.
type State int

const (
	// Primary: the primary store is the authority; every call goes to it.
	Primary State = iota
	// Secondary: the primary is unavailable; the secondary answers every
	// call and the writes the primary misses are journaled.
	Secondary
	// Reconciling: the primary answers again and its journal is being
	// replayed on it; the secondary still answers every call.
	Reconciling
)

func (s State) String() string {
	switch s {
	case Primary:
		return "primary"
	case Secondary:
		return "secondary"
	case Reconciling:
		return "reconciling"
	default:
		return fmt.Sprintf("dual.State(%d)", int(s))
	}
}

// MarshalText writes the state's name, for JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state's name.
func (s *State) UnmarshalText(text []byte) error {
	for _, c := range []State{Primary, Secondary, Reconciling} {
		if string(text) == c.String() {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("aside: dual: unknown state %q (want primary, secondary or reconciling)", text)
}

// Stats is a snapshot of a composite's counters since it was created.
type Stats struct {
	// Mode is "migrate" or "fallback".
	Mode string `json:"mode"`
	// State is which side answers now (always Primary for a Migrator).
	State State `json:"state"`
	// Primary and Secondary are each side's counters, side by side.
	Primary   Side `json:"primary"`
	Secondary Side `json:"secondary"`
	// Breaker is the circuit breaker's: around the primary (fallback), or
	// around the secondary (migrate; zero when the secondary is the
	// in-process memory provider, which has none).
	Breaker circuit.Stats `json:"breaker"`
	// Journal is the journal of the side that misses writes: the primary
	// (fallback) or the secondary (migrate).
	Journal JournalStats `json:"journal"`

	// Fallback only.
	// Outages counts switches to the secondary; Served counts the calls it
	// answered.
	Outages int64 `json:"outages"`
	Served  int64 `json:"served_by_secondary"`
	// LastOutage is how long the last finished outage lasted, from the
	// switch to the secondary to the switch back. LastReconcile and
	// MaxReconcile are how long the replay took, from the primary's first
	// answer to the switch back.
	LastOutage    time.Duration `json:"last_outage_ns"`
	LastReconcile time.Duration `json:"last_reconcile_ns"`
	MaxReconcile  time.Duration `json:"max_reconcile_ns"`

	// Migrate only.
	// ReadThroughs counts keys asked of the secondary after a primary miss,
	// ReadThroughHits those it had, Backfills those copied into the
	// primary, and ShadowReads the sampled reads sent to the secondary
	// for comparison only.
	ReadThroughs    int64 `json:"read_throughs"`
	ReadThroughHits int64 `json:"read_through_hits"`
	Backfills       int64 `json:"backfills"`
	ShadowReads     int64 `json:"shadow_reads"`
}

// Side is what one store of a composite did.
type Side struct {
	// Name labels the store ("memory", "redis"...): the options' name, or
	// "primary" / "secondary".
	Name string `json:"name"`
	// Calls counts the calls made to the store, Errors those that failed
	// (a missing key or the caller's own cancelled context is not a
	// failure), and Refused those its circuit breaker refused without
	// calling it (not in Calls).
	Calls   int64 `json:"calls"`
	Errors  int64 `json:"errors"`
	Refused int64 `json:"refused"`
	// Reads counts the keys asked for by Get and GetMulti, Hits those found.
	Reads int64 `json:"reads"`
	Hits  int64 `json:"hits"`
	// Latency is the distribution of the calls' durations.
	Latency Latency `json:"latency"`
}

// HitRate is Hits / Reads, or 0 before any read.
func (s Side) HitRate() float64 {
	if s.Reads == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Reads)
}

// ErrorRate is Errors / Calls, or 0 before any call.
func (s Side) ErrorRate() float64 {
	if s.Calls == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Calls)
}

// JournalStats describe a journal.
type JournalStats struct {
	// Keys, Patterns and Bytes are what it holds now (a batch being
	// replayed included); Overflowed reports that it gave up on keys and
	// its replay will delete the whole scope.
	Keys       int  `json:"keys"`
	Patterns   int  `json:"patterns"`
	Bytes      int  `json:"bytes"`
	Overflowed bool `json:"overflowed"`
	// Overflows counts the times it overflowed, Replays the replays that
	// succeeded, and Replayed the keys and patterns they delivered (an
	// overflow's scope counting as one).
	Overflows int64 `json:"overflows"`
	Replays   int64 `json:"replays"`
	Replayed  int64 `json:"replayed"`
}

// StatsOf returns the Stats of the composite p is, or wraps: it follows
// Unwrap methods (such as the one of the circuit breaker the aside.Cache
// puts in front of its provider), so StatsOf(cache.Provider()) works. ok is
// false when there is no composite of this package.
func StatsOf(p provider.Provider) (s Stats, ok bool) {
	for range 8 {
		switch c := p.(type) {
		case *Migrator:
			return c.Stats(), true
		case *Fallback:
			return c.Stats(), true
		case interface{ Unwrap() provider.Provider }:
			p = c.Unwrap()
		default:
			return Stats{}, false
		}
	}
	return Stats{}, false
}

// storeFailed reports whether err, returned by a call made under ctx, says
// the store failed (as opposed to a missing key, a bad argument, or the
// caller giving up).
func storeFailed(ctx context.Context, err error) bool {
	switch {
	case err == nil, ctx.Err() != nil:
		return false
	case errors.Is(err, provider.ErrNotFound), errors.Is(err, provider.ErrWrongType),
		errors.Is(err, provider.ErrInvalidKey), errors.Is(err, provider.ErrInvalidTTL),
		errors.Is(err, provider.ErrTooLarge), errors.Is(err, provider.ErrClosed),
		errors.Is(err, provider.ErrNotSupported):
		return false
	}
	return true
}

// refused reports whether the call did not reach its store: its argument
// was invalid (nothing was written anywhere), or the store is closed.
func refused(err error) bool {
	return errors.Is(err, provider.ErrInvalidKey) || errors.Is(err, provider.ErrInvalidTTL) ||
		errors.Is(err, provider.ErrTooLarge) || errors.Is(err, provider.ErrClosed)
}

// deletePattern runs p's DeletePattern, or answers
// provider.ErrNotSupported.
func deletePattern(ctx context.Context, p provider.Provider, pattern string) (int, error) {
	pd, ok := p.(provider.PatternDeleter)
	if !ok {
		return 0, fmt.Errorf("%w: the store is not a provider.PatternDeleter", provider.ErrNotSupported)
	}
	return pd.DeletePattern(ctx, pattern)
}

// setMulti applies items with p's SetMulti, or one Set per item.
func setMulti(ctx context.Context, p provider.Provider, items []provider.Item) error {
	if b, ok := p.(provider.Batcher); ok {
		return b.SetMulti(ctx, items)
	}
	for _, it := range items {
		if err := p.Set(ctx, it.Key, it.Value, it.TTL); err != nil {
			return err
		}
	}
	return nil
}

// addMulti applies items with p's AddMulti, or one Add per item.
func addMulti(ctx context.Context, p provider.Provider, items []provider.Item) ([]provider.AddResult, error) {
	if a, ok := p.(provider.MultiAdder); ok {
		return a.AddMulti(ctx, items)
	}
	res := make([]provider.AddResult, len(items))
	for i, it := range items {
		existing, added, err := p.Add(ctx, it.Key, it.Value, it.TTL)
		if err != nil {
			return nil, err
		}
		res[i] = provider.AddResult{Added: added, Existing: existing}
	}
	return res, nil
}

// length returns p's key count, or provider.ErrNotSupported.
func length(ctx context.Context, p provider.Provider) (int64, error) {
	c, ok := p.(provider.Counter)
	if !ok {
		return 0, fmt.Errorf("%w: the store is not a provider.Counter", provider.ErrNotSupported)
	}
	return c.Len(ctx)
}

// itemKeys returns the keys of items.
func itemKeys(items []provider.Item) []string {
	ks := make([]string, len(items))
	for i, it := range items {
		ks[i] = it.Key
	}
	return ks
}

// hits counts the non-nil values.
func hits(vals [][]byte) int {
	n := 0
	for _, v := range vals {
		if v != nil {
			n++
		}
	}
	return n
}

// getAddMulti applies fetches with p's GetAddMulti, or, when p lacks it (or
// answers provider.ErrNotSupported), with one GetMulti and an AddMulti of
// the missing keys that have a value to add, each key read then added as
// Get and Add would.
func getAddMulti(ctx context.Context, p provider.Provider, fetches []provider.Fetch) ([]provider.AddResult, error) {
	if ga, ok := p.(provider.MultiGetAdder); ok {
		res, err := ga.GetAddMulti(ctx, fetches)
		if !errors.Is(err, provider.ErrNotSupported) {
			return res, err
		}
	}
	keys := fetchKeys(fetches)
	vals, err := p.GetMulti(ctx, keys)
	if err != nil {
		return nil, err
	}
	if len(vals) != len(keys) {
		return nil, fmt.Errorf("aside: dual: the store answered %d values for %d keys", len(vals), len(keys))
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
		added, err := addMulti(ctx, p, adds)
		if err != nil {
			return nil, err
		}
		for j, i := range at {
			res[i] = added[j]
		}
	}
	inOrder(fetches, res)
	return res, nil
}

// inOrder makes res, the results of fetches read all at once and then
// added to, read as if the fetches had applied in order: a read-only fetch
// after an add of its key reads what that add left.
func inOrder(fetches []provider.Fetch, res []provider.AddResult) {
	after := make(map[string][]byte)
	for i, f := range fetches {
		switch {
		case res[i].Added:
			after[f.Key] = f.Add
		case f.Add != nil:
			after[f.Key] = res[i].Existing
		case res[i].Existing == nil:
			if v, ok := after[f.Key]; ok {
				res[i].Existing = v
			}
		}
	}
}

// casMulti applies swaps with p's CompareAndSwapMulti, or, when p lacks it
// (or answers provider.ErrNotSupported), one CompareAndSwap per swap,
// stopping at the first error.
func casMulti(ctx context.Context, p provider.Provider, swaps []provider.Swap) ([]bool, error) {
	if ms, ok := p.(provider.MultiSwapper); ok {
		res, err := ms.CompareAndSwapMulti(ctx, swaps)
		if !errors.Is(err, provider.ErrNotSupported) {
			return res, err
		}
	}
	res := make([]bool, len(swaps))
	for i, sw := range swaps {
		ok, err := p.CompareAndSwap(ctx, sw.Key, sw.Old, sw.New, sw.TTL)
		if err != nil {
			return nil, err
		}
		res[i] = ok
	}
	return res, nil
}

// fetchKeys returns the keys of fetches.
func fetchKeys(fetches []provider.Fetch) []string {
	ks := make([]string, len(fetches))
	for i, f := range fetches {
		ks[i] = f.Key
	}
	return ks
}

// swapKeys returns the keys of swaps.
func swapKeys(swaps []provider.Swap) []string {
	ks := make([]string, len(swaps))
	for i, sw := range swaps {
		ks[i] = sw.Key
	}
	return ks
}

// found counts the fetches that read a value.
func found(res []provider.AddResult) int {
	n := 0
	for _, r := range res {
		if !r.Added && r.Existing != nil {
			n++
		}
	}
	return n
}
