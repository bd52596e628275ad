package aside

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/codec"
	"github.com/aside-go/aside/internal/redact"
	"github.com/aside-go/aside/keys"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
	"github.com/aside-go/aside/provider/memory"
)

// Codec turns values into stored bytes and back. *codec.Codec (msgpack plus
// zstd, s2 or gzip in a versioned frame) is the default; plug another to
// change serialization entirely.
type Codec interface {
	// Marshal appends the encoding of v to dst and returns it, with the size
	// of the serialized value before compression (for Stats).
	Marshal(dst []byte, v any) (out []byte, rawSize int, err error)
	// Unmarshal decodes data, as produced by Marshal, into v (a pointer).
	Unmarshal(data []byte, v any) error
}

// Defaults used when an Options field is zero.
const (
	DefaultTTL      = time.Hour
	DefaultLeaseTTL = 30 * time.Second
)

// Options configure a Cache. The zero value is a working in-memory cache.
type Options struct {
	// Provider stores the bytes. Default: an in-memory provider bounded by
	// MemoryMaxBytes. The Cache owns it: Close closes it.
	Provider provider.Provider
	// MemoryMaxBytes bounds the default in-memory provider; 0 means the
	// memory package's default. Ignored when Provider is set.
	MemoryMaxBytes int64
	// Breaker configures the circuit breaker the Cache puts in front of
	// Provider (never in front of the in-process memory provider, which does
	// not fail): after a few consecutive failures or timeouts every provider
	// call fails at once for a cool-down, so that during an outage Remember
	// costs what its loader costs. The zero value is on, with the defaults
	// of package provider/circuit (5 failures, a 1 s cool-down).
	Breaker Breaker

	// DefaultTTL is how long entries stay fresh when a call names no TTL.
	// Default 1h.
	DefaultTTL time.Duration
	// StaleWhileRevalidate is the default window after freshness during which
	// an entry is still served while one background refresh runs. Default 0
	// (off); per call: aside.StaleWhileRevalidate.
	StaleWhileRevalidate time.Duration
	// StaleIfError is the default window after freshness during which a
	// failing loader is answered with the last value. Default 0 (off); per
	// call: aside.StaleIfError.
	StaleIfError time.Duration
	// Jitter removes a random fraction, up to Jitter, of each TTL so that
	// entries written together do not expire together. 0 (default) to 1.
	Jitter float64

	// Namespace separates this cache's keys from others sharing a store.
	Namespace string
	// KeyVersion is the schema version in every stored key (default 1); bump
	// it to orphan all entries written by an older layout of your types.
	KeyVersion int

	// Codec encodes values. Default: codec.New with Compression.
	Codec Codec
	// Compression picks the default codec's algorithm (default zstd).
	// Ignored when Codec is set.
	Compression codec.Algorithm

	// Redaction configures the filter that strips sensitive fields before
	// anything is stored. nil means the default deny-list in Drop mode;
	// &Redaction{Disabled: true} turns it off. See Redaction.
	Redaction *Redaction

	// Logger receives one debug line per operation and warnings for
	// provider failures. Default: discard.
	Logger *slog.Logger

	// LeaseTTL bounds how long a loader holds the exclusive right to store
	// its result; a loader slower than this still returns its value but does
	// not store it (background refreshes included). Default 30s.
	LeaseTTL time.Duration

	// AutoDictionary turns on a zstd dictionary that the Cache trains from
	// the values it writes, shares through the provider with the other
	// instances of its namespace, and renews when savings drift (see
	// AutoDictionary). It pays off on many small values. nil (the default)
	// is off. Needs the default Codec with zstd.
	AutoDictionary *AutoDictionary

	// Health sets the window and thresholds of Health and of the alerts.
	// The zero value: a 5 minute window, the 0.7 hit rate, 5% errors, 2%
	// timeouts, judged once 100 reads are in the window. See HealthOptions.
	Health HealthOptions
	// Budget is the monthly allowance of what a metered provider (Upstash)
	// bills; the zero value sets none. See Budget.
	Budget Budget
	// OnAlert, when set, is called when an alert condition begins or ends
	// (low hit rate, error or timeout rate, circuit open, budget share, a
	// part of the provider failing): on transitions, never per request, at
	// most one firing alert per kind per AlertInterval. It runs on the
	// Cache's monitor goroutine, never on a request's; every alert is also
	// logged (Warn when firing, Info when it ends). See Alert.
	OnAlert func(Alert)
	// AlertInterval is the least time between two firing alerts of one kind.
	// Default 5m.
	AlertInterval time.Duration

	// Near turns on the near tier: a bounded in-process copy of the
	// entries this process read, served without a round trip and kept
	// coherent through the store's pub/sub (provider.Broadcaster). The
	// zero value is off. See Near for the guarantee and its limits.
	Near Near

	// nearStream, set by tests only, replaces the coherence stream the
	// near tier is built on.
	nearStream func(apply func(invalidation), lapse func()) nearStream

	// clock, set by tests only, replaces time.Now in the monitor and stops
	// New from starting the monitor's goroutine: the test ticks it.
	clock func() time.Time
}

// Breaker configures the Cache's circuit breaker; see Options.Breaker.
type Breaker struct {
	// Disabled sends every call to the provider, however it fails.
	Disabled bool
	// Failures is how many consecutive failures open the circuit; 0 means
	// circuit.DefaultFailures (5).
	Failures int
	// CoolDown is how long the circuit stays open before one probe call
	// may test the store; 0 means circuit.DefaultCoolDown (1 s).
	CoolDown time.Duration
}

// Cache is a cache-aside facade over a provider. Use Get, Set and Remember
// (free functions, because methods cannot take type parameters) for values,
// and the methods for everything else. All methods are safe for concurrent
// use.
type Cache struct {
	p        provider.Provider
	keys     *keys.Builder
	codec    Codec
	redact   *redact.Filter
	log      *slog.Logger
	ttl      time.Duration
	swr      time.Duration
	sie      time.Duration
	jitter   float64
	leaseTTL time.Duration
	// maxLife is the longest lifetime (TTL plus stale windows) of an entry
	// this Cache may have written, in nanoseconds: how long a pending
	// invalidation stays worth retrying.
	maxLife atomic.Int64
	// invalidatedAt is when an invalidation (Delete, InvalidateTags,
	// InvalidatePattern) last began in this process, in Unix ns: loads that
	// began earlier may have read data it covers.
	invalidatedAt atomic.Int64

	// breaker guards p (nil for the memory provider, or when disabled);
	// recovered is closed, and replaced, each time its circuit closes, to
	// wake pending invalidations.
	breaker   *circuit.Breaker
	recovered atomic.Pointer[chan struct{}]

	dicts *dictionaries // the automatic dictionary, or nil (dictionary.go)
	near  *nearTier     // the near tier, or nil (near.go)

	flights flightGroup
	tagKeys tagKeyCache
	hints   tagHints
	pending pendingTags
	stats   counters
	mon     monitor

	closed   atomic.Bool
	workers  workers
	bgCtx    context.Context
	bgCancel context.CancelFunc
}

// workers tracks the goroutines a Cache runs in the background (refreshes,
// lease releases, invalidation retries), so that Close can stop and wait for
// them, and none starts after Close.
type workers struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// goBackground runs fn on a new goroutine unless the Cache is closed.
func (w *workers) goBackground(fn func()) bool {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false
	}
	w.wg.Add(1)
	w.mu.Unlock()
	go func() {
		defer w.wg.Done()
		fn()
	}()
	return true
}

// close refuses new work and waits for the running goroutines.
func (w *workers) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.wg.Wait()
}

// New returns a Cache configured by o; see Options for the defaults.
func New(o Options) (*Cache, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	kb, err := keys.New(keys.Options{Namespace: o.Namespace, Version: o.KeyVersion})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	c := &Cache{
		p:        o.Provider,
		keys:     kb,
		codec:    o.Codec,
		log:      o.Logger,
		ttl:      orDefault(o.DefaultTTL, DefaultTTL),
		swr:      o.StaleWhileRevalidate,
		sie:      o.StaleIfError,
		jitter:   o.Jitter,
		leaseTTL: orDefault(o.LeaseTTL, DefaultLeaseTTL),
	}
	c.maxLife.Store(int64(c.ttl + max(c.swr, c.sie)))
	if c.redact, err = newRedactor(o.Redaction); err != nil {
		return nil, err
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if o.AutoDictionary != nil { // dictionary.go
		if o.Codec != nil {
			return nil, fmt.Errorf("%w: AutoDictionary needs the default Codec; Codec is set", ErrInvalidOption)
		}
		if c.dicts, err = newDictionaries(c, o.AutoDictionary, o.Compression); err != nil {
			return nil, err
		}
		c.codec = c.dicts
	}
	if c.codec == nil {
		cd, err := codec.New(codec.Options{Compression: o.Compression})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
		c.codec = cd
	}
	if c.p == nil {
		mp, err := memory.New(memory.Options{MaxBytes: o.MemoryMaxBytes})
		if err != nil {
			return nil, fmt.Errorf("%w: MemoryMaxBytes: %w", ErrInvalidOption, err)
		}
		c.p = mp
	}
	ch := make(chan struct{})
	c.recovered.Store(&ch)
	if _, inProcess := c.p.(*memory.Provider); !inProcess && !o.Breaker.Disabled {
		p, b, err := circuit.Wrap(c.p, circuit.Options{
			Failures:      o.Breaker.Failures,
			CoolDown:      o.Breaker.CoolDown,
			OnStateChange: c.circuitChanged,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: Breaker: %w", ErrInvalidOption, err)
		}
		c.p, c.breaker = p, b
	}
	c.bgCtx, c.bgCancel = context.WithCancel(context.Background())
	if o.Near.on() {
		if err := c.startNear(o); err != nil {
			c.bgCancel()
			return nil, err
		}
	}
	c.mon.init(o, c.billed())
	if o.clock == nil {
		c.workers.goBackground(c.monitorLoop)
	}
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func (o *Options) validate() error {
	switch {
	case o.DefaultTTL < 0:
		return fmt.Errorf("%w: DefaultTTL is negative (use 0 for the 1h default)", ErrInvalidOption)
	case o.StaleWhileRevalidate < 0:
		return fmt.Errorf("%w: StaleWhileRevalidate is negative", ErrInvalidOption)
	case o.StaleIfError < 0:
		return fmt.Errorf("%w: StaleIfError is negative", ErrInvalidOption)
	case o.Jitter < 0 || o.Jitter > 1:
		return fmt.Errorf("%w: Jitter must be between 0 and 1", ErrInvalidOption)
	case o.LeaseTTL < 0:
		return fmt.Errorf("%w: LeaseTTL is negative", ErrInvalidOption)
	case o.MemoryMaxBytes < 0:
		return fmt.Errorf("%w: MemoryMaxBytes is negative", ErrInvalidOption)
	case o.AlertInterval < 0:
		return fmt.Errorf("%w: AlertInterval is negative (use 0 for the 5m default)", ErrInvalidOption)
	}
	if err := o.Near.validate(); err != nil {
		return err
	}
	if o.Near.on() && o.Provider == nil {
		return errNearInProcess
	}
	if err := o.Health.validate(); err != nil {
		return err
	}
	return o.Budget.validate()
}

// Delete removes keys. Once it returns, no Get or Remember anywhere returns a
// value loaded before it began: a loader that was running stores nothing.
func (c *Cache) Delete(ctx context.Context, keys ...string) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if len(keys) == 0 {
		return nil
	}
	c.invalidating()
	skeys := make([]string, len(keys))
	for i, k := range keys {
		sk, err := c.entryKey(k)
		if err != nil {
			return err
		}
		skeys[i] = sk
	}
	n, err := c.p.Delete(ctx, skeys...)
	if err != nil {
		c.failed(ctx, "cache DELETE failed", "", err)
		if mayHaveWritten(err) {
			_ = c.nearInvalidate(ctx, invalidation{keys: skeys})
		}
		return fmt.Errorf("aside: delete: %w", err)
	}
	c.stats.deletes.Add(int64(n))
	if err := c.nearInvalidate(ctx, invalidation{keys: skeys}); err != nil {
		return fmt.Errorf("aside: delete: %w", err)
	}
	if c.debug(ctx) {
		c.log.DebugContext(ctx, "cache DELETE", "keys", logKeys(keys), "deleted", n)
	}
	return nil
}

// invalidating records that an invalidation begins now.
func (c *Cache) invalidating() {
	now := time.Now().UnixNano()
	for {
		cur := c.invalidatedAt.Load()
		if now <= cur || c.invalidatedAt.CompareAndSwap(cur, now) {
			return
		}
	}
}

// circuitChanged logs a transition of the breaker's circuit and, when it
// closes, wakes the invalidations waiting to be retried.
func (c *Cache) circuitChanged(from, to circuit.State) {
	switch to {
	case circuit.Open:
		c.log.Warn("cache store unavailable: circuit open, serving misses without calling it", "from", from.String())
		c.mon.poke()
	case circuit.Closed:
		c.log.Info("cache store back: circuit closed", "from", from.String())
		next := make(chan struct{})
		close(*c.recovered.Swap(&next))
		c.mon.poke()
	case circuit.HalfOpen:
		if c.debug(context.Background()) {
			c.log.Debug("cache store circuit half-open: probing")
		}
	}
}

// Ping checks that the provider answers.
func (c *Cache) Ping(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.p.Ping(ctx); err != nil {
		return fmt.Errorf("aside: ping: %w", err)
	}
	return nil
}

// Close stops background refreshes, waits for them and closes the provider.
// It is idempotent; every other method returns ErrClosed afterwards.
func (c *Cache) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.bgCancel()
	c.workers.close()
	if c.near != nil {
		_ = c.near.close()
	}
	return c.p.Close()
}

// DefaultTTL is the freshness of entries written without a TTL option.
func (c *Cache) DefaultTTL() time.Duration { return c.ttl }

// StaleWhileRevalidate is the window calls get when they name none
// (Options.StaleWhileRevalidate).
func (c *Cache) StaleWhileRevalidate() time.Duration { return c.swr }

// StaleIfError is the window calls get when they name none
// (Options.StaleIfError).
func (c *Cache) StaleIfError() time.Duration { return c.sie }

// Provider returns the provider under the cache (behind its circuit breaker,
// if any: Unwrap reaches the adapter), for capability checks and tools;
// writing through it bypasses tags, leases and stats.
func (c *Cache) Provider() provider.Provider { return c.p }

func (c *Cache) entryKey(key string) (string, error) {
	sk, err := c.keys.Entry(key)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return sk, nil
}

func (c *Cache) debug(ctx context.Context) bool {
	return c.log.Enabled(ctx, slog.LevelDebug)
}

// mayHaveWritten reports whether a failed write may still have reached the
// store (a timeout, a lost reply), so that the near tiers must be told.
func mayHaveWritten(err error) bool {
	return !errors.Is(err, provider.ErrUnavailable) && !errors.Is(err, ErrInvalidKey)
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
