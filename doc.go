// Package aside is cache-aside caching for Go services, done right: typed
// loaders with stampede protection, stale-while-revalidate, tag and pattern
// invalidation that is never undone by a slow loader, a redaction filter that
// keeps secrets out of the store, and one small provider contract under it
// all (in-memory by default; Redis standalone, Sentinel and Cluster).
//
// # The one way to use it
//
//	c, err := aside.New(aside.Options{}) // in-memory; or aside.FromEnv()
//	...
//	u, err := aside.Remember(ctx, c, "user:42", func(ctx context.Context) (User, error) {
//		return db.User(ctx, 42)
//	}, aside.TTL(10*time.Minute), aside.Tags("user:42", "org:7"))
//	...
//	err = c.InvalidateTags(ctx, "user:42") // after writing user 42
//
// A page of keys is one call: RememberMany reads every key in one round
// trip, runs its loader once with the IDs that missed, and stores their
// values in one more; GetMany and SetMany are the batch Get and Set. Every
// guarantee below holds for each key of a batch.
//
// Values flow value -> redaction -> codec (msgpack, then zstd/s2/gzip when
// it pays) -> envelope (freshness, tag stamps) -> provider.
//
// # Guarantees
//
// Once Delete or InvalidateTags returns, no Get or Remember anywhere (in any
// process sharing the provider) returns a value loaded before it began. Tags
// are versioned records stamped into each entry before its loader runs, and
// loaders store through a lease (compare-and-swap), so the classic stale-set
// race (a slow loader writing old data after an invalidation) cannot store.
//
// With the near tier on (Options.Near), hot entries are also kept in this
// process and served without a round trip, and the guarantee above still
// holds: every write that replaces an entry (Set, SetMany, Delete,
// InvalidateTags, InvalidatePattern) tells every process through the
// store's pub/sub and returns once each one dropped it, or lost the lease
// that lets it serve (a process that cannot hear the store stops serving
// from its tier within Near.Lease, 1 s by default). Over a provider without
// pub/sub the tier is only allowed with a TTL cap, and then another process
// may serve a replaced value for up to that cap. See Near.
//
// The cache never breaks the caller: a provider that fails, or bytes that do
// not decode, read as a miss and the loader runs; failed writes are logged
// and counted. Network providers bound every call by their own timeout.
//
// # Concurrency
//
// All methods and functions are safe for concurrent use. A Cache starts
// goroutines for loads and background refreshes, and one monitor that wakes
// every 10 s (Options.Health.Window / 30) to sample its counters for Health
// and evaluate the alerts; Close stops it and waits for the refreshes, so
// close every Cache you create.
//
// # Operations
//
// Stats are counters since New (plus what a metered provider billed, and
// this month's usage against Options.Budget); Health judges the recent
// window (5 minutes by default) as ok, degraded or down, with reasons;
// History is that window step by step; Options.OnAlert hears each condition
// begin and end (low hit rate, provider errors and timeouts, circuit open,
// budget share). None of them adds work to the hit path: they read the
// atomic counters the hit path increments anyway. Package metrics exports
// them to Prometheus.
//
// Debug logs are one line per operation (cache HIT, MISS, SET, DELETE,
// INVALIDATE); a key is shown whole only when it has no query, '=' or header
// part, else cut there and followed by a hash.
//
// # What it does not do
//
// It does not read the environment except in FromEnv, does not log unless
// given a Logger, and does not cache loader errors. Pattern invalidation is
// not the fast path: it walks keys. The near tier is refused over the
// in-process memory provider, which already answers from memory. Across processes, concurrent misses of
// one key each run their loader (only one stores); the same holds for the
// keys of batches.
package aside
