// Package provider defines the byte-level contract between an [aside] cache
// and the store underneath it, and the optional abilities a store may add.
//
// A [Provider] moves opaque bytes: it knows nothing of values, codecs, tags or
// namespaces. The aside.Cache builds every key (see package keys), encodes
// every value, and implements tags, leases and stale-while-revalidate on top of
// the handful of primitives below, so that each adapter (memory, Redis
// standalone and Cluster, Upstash REST) can serve each cache operation in one
// round trip.
//
// # Semantics every adapter must honour
//
// Missing keys: Get returns an error matching [ErrNotFound]; GetMulti returns a
// nil element; Delete counts only keys that existed.
//
// Keys: any non-empty string of at most [MaxKeyLen] bytes, including spaces,
// invalid UTF-8, NUL, CR and LF. An empty or over-long key fails with
// [ErrInvalidKey]. Adapters must not reinterpret key bytes (no trimming, no
// case folding, no Redis Cluster hash-tag surprises: the caller escapes '{').
//
// Values: any bytes, including empty and all 256 byte values. A value larger
// than the adapter's documented limit fails with [ErrTooLarge] and stores
// nothing. A provider never retains the caller's slice after a call returns
// (it copies), and a slice it returns is read-only for the caller: the provider
// may share it between readers.
//
// TTL: ttl > 0 expires the key after ttl; the precision is one millisecond and
// adapters round a sub-millisecond remainder up, never down, so a key is never
// dropped earlier than asked. ttl == 0 means no expiry. ttl < 0 fails with
// [ErrInvalidTTL]. An expired key behaves exactly like a missing one.
//
// Context: every call that may block takes a context first. A call whose
// context is already done, or becomes done while it waits, returns promptly
// with an error for which errors.Is(err, ctx.Err()) holds; a write interrupted
// that way may or may not have taken effect.
//
// Close: Close releases resources and is idempotent. Every other method called
// after Close returns an error matching [ErrClosed].
//
// Concurrency: all methods of every adapter are safe for concurrent use.
//
// # Optional abilities
//
// Abilities that not every store has cheaply are separate interfaces, found
// with a type assertion: [Batcher] (many writes in one round trip),
// [MultiAdder] (many Adds in one round trip), [MultiGetAdder] (a read of
// many keys that Adds to the missing ones in the same round trip),
// [MultiSwapper] (many CompareAndSwaps in one round trip), [Meter] (billed
// commands and bytes), [PatternDeleter] (delete by glob, for
// InvalidatePattern), [Counter] (a cheap key count for Stats) and
// [Broadcaster] (pub/sub to every process sharing the store, which keeps the
// near tiers coherent; ordered, and never silently lossy). The
// Cache's batches (aside.GetMany, SetMany, RememberMany) use Batcher,
// MultiGetAdder and MultiSwapper when the provider has them, so that a page
// of keys costs one read and one write round trip whatever its size; without
// them a batch still works, one call per key where the ability is missing.
//
// # What this package does not do
//
// It does not retry, log, or fail open: adapters return errors and the Cache
// decides what a failure means (a failed read is a miss). Adapters that do
// network I/O bound every call by a timeout option of their own (documented
// default well under a second) on top of the caller's context, so a store that
// is down or slow fails fast; the Cache adds no timers of its own on the hit
// path. In-process adapters never block.
// The conformance suite every adapter must pass is in package providertest.
package provider
