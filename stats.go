package aside

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/internal/redact"
	"github.com/aside-go/aside/provider"
)

// Stats is a snapshot of a Cache's counters since New.
type Stats struct {
	Hits           int64 `json:"hits"`            // reads served from the cache (StaleHits included)
	StaleHits      int64 `json:"stale_hits"`      // stale values served: in a stale-while-revalidate window (also in Hits) or for a failing loader (stale-if-error; that read is in Misses)
	Misses         int64 `json:"misses"`          // reads that found no usable entry
	Sets           int64 `json:"sets"`            // entries written
	Deletes        int64 `json:"deletes"`         // entries removed by Delete
	Loads          int64 `json:"loads"`           // loader runs (stampede protection keeps this below Misses)
	LoadErrors     int64 `json:"load_errors"`     // loader runs that returned an error (never cached)
	Errors         int64 `json:"errors"`          // provider failures (each one read as a miss or a skipped write)
	Timeouts       int64 `json:"timeouts"`        // the provider failures that were timeouts (also in Errors)
	DecodeFailures int64 `json:"decode_failures"` // stored bytes that could not be decoded (deleted, read as a miss)
	Invalidations  int64 `json:"invalidations"`   // tags invalidated by InvalidateTags
	PatternDeletes int64 `json:"pattern_deletes"` // entries removed by InvalidatePattern
	Repairs        int64 `json:"repairs"`         // garbled tag records replaced
	// InvalidationsPending is how many InvalidateTagsEventually calls are
	// being retried now; InvalidationRetries counts their retry attempts.
	InvalidationsPending int64 `json:"invalidations_pending"`
	InvalidationRetries  int64 `json:"invalidation_retries"`
	RawBytes             int64 `json:"raw_bytes"`     // serialized size of everything written, before compression
	EncodedBytes         int64 `json:"encoded_bytes"` // the codec's output for them: after compression
	StoredBytes          int64 `json:"stored_bytes"`  // bytes handed to the provider: EncodedBytes plus envelopes and tag stamps
	// CompressionSaved is the bytes compression removed, summed over the
	// writes it made smaller (so it only grows; RawBytes - EncodedBytes
	// also counts the few header bytes of values stored uncompressed).
	CompressionSaved int64 `json:"compression_saved_bytes"`
	Redactions       int64 `json:"redactions"`   // values the redaction filter removed or masked before storage (struct fields, map entries, JSON members)
	BatchHits        int64 `json:"batch_hits"`   // keys of GetMany and RememberMany served from the cache (also in Hits)
	BatchMisses      int64 `json:"batch_misses"` // keys of GetMany and RememberMany that missed (also in Misses)
	// Circuit is the state of the circuit breaker in front of the provider
	// ("closed", "half-open", "open"), or "" when there is none (the memory
	// provider, or Options.Breaker.Disabled). CircuitOpens counts how often
	// it opened; Rejected counts the provider calls it refused while open
	// (each one a miss or a skipped write that cost no time).
	Circuit      string `json:"circuit,omitempty"`
	CircuitOpens int64  `json:"circuit_opens"`
	Rejected     int64  `json:"rejected"`
	// Dictionary describes the automatic dictionary (Options.AutoDictionary).
	Dictionary DictionaryStats `json:"dictionary"`
	// Near describes the near tier (Options.Near); its hits are also in
	// Hits, its misses are reads that then went to the store.
	Near NearStats `json:"near"`
	// Keys is the provider's key count when it knows it cheaply
	// (provider.Counter), else -1. A shared Redis counts every key in its DB.
	Keys int64 `json:"keys"`
	// Bytes and MaxBytes are what a bounded in-process store holds and its
	// bound (provider.Sizer: the memory provider), else -1.
	Bytes    int64 `json:"bytes"`
	MaxBytes int64 `json:"max_bytes"`
	// Providers lists the stores under the Cache, with what each billed
	// (provider.Meter) and, for the members of a composite provider, the
	// hits, errors and latency it counted for each.
	Providers []ProviderStats `json:"providers"`
	// Usage is this calendar month's billed usage against the Budget, when
	// a provider meters; nil otherwise. See MonthUsage for how a fleet of
	// processes should read it.
	Usage *MonthUsage `json:"usage,omitempty"`
}

// HitRate is Hits / (Hits + Misses), or 0 before any read.
func (s Stats) HitRate() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// Savings is the fraction of serialized bytes that compression saved
// (1 - EncodedBytes/RawBytes): 0 when nothing compressed, slightly negative
// when only small values were written (each frame has a few bytes of header).
func (s Stats) Savings() float64 {
	if s.RawBytes == 0 {
		return 0
	}
	return 1 - float64(s.EncodedBytes)/float64(s.RawBytes)
}

type counters struct {
	hits, staleHits, misses, sets, deletes, loads, loadErrors atomic.Int64
	errors, timeouts, decodeFailures, invalidations           atomic.Int64
	patternDeletes, repairs                                   atomic.Int64
	invalidationsPending, invalidationRetries                 atomic.Int64
	rawBytes, encodedBytes, storedBytes, compressionSaved     atomic.Int64
	batchHits, batchMisses                                    atomic.Int64
	redactions                                                redact.Tally
}

// keyCountTimeout bounds the provider's key count inside Stats.
const keyCountTimeout = 250 * time.Millisecond

// Stats returns the counters. When the provider implements provider.Counter
// it asks it for the key count (one cheap call, bounded to 250ms), and
// reads provider.Sizer and provider.Meter where they are offered. It costs
// nothing on the hit path: the counters are atomics the hit path increments
// anyway.
func (c *Cache) Stats() Stats {
	s := Stats{
		Hits:                 c.stats.hits.Load(),
		StaleHits:            c.stats.staleHits.Load(),
		Misses:               c.stats.misses.Load(),
		Sets:                 c.stats.sets.Load(),
		Deletes:              c.stats.deletes.Load(),
		Loads:                c.stats.loads.Load(),
		LoadErrors:           c.stats.loadErrors.Load(),
		Errors:               c.stats.errors.Load(),
		Timeouts:             c.stats.timeouts.Load(),
		DecodeFailures:       c.stats.decodeFailures.Load(),
		Invalidations:        c.stats.invalidations.Load(),
		PatternDeletes:       c.stats.patternDeletes.Load(),
		Repairs:              c.stats.repairs.Load(),
		InvalidationsPending: c.stats.invalidationsPending.Load(),
		InvalidationRetries:  c.stats.invalidationRetries.Load(),
		RawBytes:             c.stats.rawBytes.Load(),
		EncodedBytes:         c.stats.encodedBytes.Load(),
		StoredBytes:          c.stats.storedBytes.Load(),
		CompressionSaved:     c.stats.compressionSaved.Load(),
		Redactions:           c.stats.redactions.Count(),
		BatchHits:            c.stats.batchHits.Load(),
		BatchMisses:          c.stats.batchMisses.Load(),
		Keys:                 -1,
		Bytes:                -1,
		MaxBytes:             -1,
		Dictionary:           c.dictionaryStats(), // dictionary.go
		Near:                 c.nearStats(),       // near.go
	}
	if c.breaker != nil {
		b := c.breaker.Stats()
		s.Circuit, s.CircuitOpens, s.Rejected = b.State.String(), b.Opens, b.Rejected
	}
	var total provider.Usage
	var metered bool
	s.Providers, total, metered = c.providers()
	if metered {
		u := c.mon.monthUsage(c.mon.now(), total)
		s.Usage = &u
	}
	if c.closed.Load() {
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), keyCountTimeout)
	defer cancel()
	if n, ok := c.p.(provider.Counter); ok {
		if k, err := n.Len(ctx); err == nil {
			s.Keys = k
		}
	}
	if used, limit, ok := c.sizeOf(ctx); ok {
		s.Bytes, s.MaxBytes = used, limit
	}
	return s
}
