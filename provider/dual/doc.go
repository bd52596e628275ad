// Package dual puts two stores behind one [provider.Provider], for the two
// operations that need both: moving a cache from one store to another
// ([NewMigrator]), and serving from an in-process store while the real one
// is down ([NewFallback]). Both pass providertest.Run and providertest.RunCache,
// so the aside.Cache keeps every guarantee on top of them; this comment says
// how, and where a guarantee narrows.
//
//	// Migration, before the cut-over: memory serves, Redis gets every write.
//	m, err := dual.NewMigrator(mem, redisProvider, dual.MigrateOptions{ReadThrough: true})
//	// Fallback: Redis serves; while it is down, a fresh in-process store does.
//	f, err := dual.NewFallback(redisProvider, dual.FallbackOptions{})
//	c, err := aside.New(aside.Options{Provider: f})
//
// [StatsOf] finds either composite under the Cache's circuit breaker and
// returns its [Stats]: both sides' hit rates, latencies and errors side by
// side, the journal, outages and reconciliation times.
//
// # What the Cache needs from a store
//
// The Cache builds tags, leases and stale-while-revalidate on a few
// primitives, and its invalidation guarantee (once Delete, InvalidateTags or
// InvalidatePattern returns, no read that begins afterwards returns a value
// loaded before it began) rests on three of them:
//
//   - Add and CompareAndSwap are atomic: a loader's lease is one Add, its
//     result is stored with one CompareAndSwap against that lease, and tag
//     records are created with Add and extended with CompareAndSwap.
//   - An invalidation is a write every later read sees: Delete of an entry,
//     Set of a tag record with a fresh random version, DeletePattern.
//   - A read is answered by the store that took those writes.
//
// Two stores cannot make one atomic operation, so each composite names one
// side the authority for everything atomic and for every answer, and treats
// the other as a follower that must never answer with something the
// authority has invalidated.
//
// # The journal
//
// When a side misses a write that may invalidate (a Set, SetMulti, Delete or
// DeletePattern that failed there, or that was never sent because the side
// was down), the composite records the key (or the pattern) in a journal of
// that side. Replaying the journal means deleting every recorded key on that
// side, and running every recorded pattern there. Deleting is the one write
// that is always safe to repeat, in any order, against a store other
// processes are using: a deleted entry is a miss, a deleted lease makes its
// loader's CompareAndSwap fail (nothing is stored), and a deleted tag record
// invalidates every entry stamped with it. So no value is ever copied during
// reconciliation, and a replay that runs twice, or races other writers, can
// only cause misses.
//
// The journal is bounded: every key or pattern is charged its length plus 48
// bytes against [MigrateOptions.JournalBytes] / [FallbackOptions.JournalBytes]
// (default [DefaultJournalBytes], 4 MiB; a batch being replayed is held
// besides, so at most twice that). When a record would exceed it, the
// journal overflows: it forgets the keys and remembers only that it
// overflowed, and its replay becomes one DeletePattern of the scope
// ([MigrateOptions.Scope], [FallbackOptions.Scope]: the glob of every key
// this cache owns; "*" by default, which assumes the store is the cache's
// alone). That loses the whole cache on that side, once, and never serves a
// stale value. Keys are never logged (they may carry secrets), only counts.
//
// # Fallback
//
// The primary (a network store) sits behind a circuit breaker of package
// circuit, which opens on the first failed call by default
// ([DefaultFailures], [FallbackOptions.Breaker]). While it is closed every
// call goes to the primary, exactly as without the composite. When it
// opens, the composite creates a fresh secondary store
// ([FallbackOptions.NewSecondary], an empty memory provider by default) and
// answers every call from it, the call that failed included, so that a
// caller pays at most the one timeout that found the primary down. The
// secondary is the authority for the whole outage: Add, CompareAndSwap,
// reads and writes all go to it.
//
// Why a fresh store each time: a store kept from an earlier outage would
// hold entries and tag records that the primary invalidated since, by this
// or another process; serving them would be stale. A fresh store holds only
// what was written during this outage, after the switch, by loaders that
// read their data after the switch. A call that was sent to the primary
// before the switch and lands there after it cannot make the secondary
// stale: anything it could invalidate in the secondary was loaded after it
// began.
//
// Every Set, SetMulti, Delete and DeletePattern made on the secondary is
// journaled before it is applied. A background goroutine probes the primary
// once per cool-down; when it answers, the journal is replayed on it
// (state [Reconciling], still serving from the secondary) and only when the
// journal is empty does the primary become the authority again. The last
// round of replay holds a gate that journaling takes, so no write can slip
// between the final replay and the switch; reads never wait for it. Adds and
// CompareAndSwaps made on the secondary (and their batch forms, GetAddMulti
// and CompareAndSwapMulti, with which the Cache reads and stores a
// RememberMany page) are not journaled: they create
// leases, entries and tag records there, none of which makes anything in
// the primary stale, and none of which is copied back. The retired
// secondary is closed once the calls using it have returned.
//
// A write sent to the primary before the switch may land there late (a
// frozen server resumes with it in its socket), even after the replay.
// That is harmless: a loader's store is a CompareAndSwap against its lease,
// which fails if the replay deleted the key, and stamps the entry with tag
// versions that are dead if the replay deleted a tag record; any other late
// write is one its caller saw fail.
//
// What this guarantees, and what it does not:
//
//   - Within the process, the Cache's guarantee holds across the outage and
//     its end: an invalidation made while the primary is down is served from
//     the secondary at once, and is replayed on the primary before the
//     primary answers a single read again. The fallback tests prove it under
//     load with a primary frozen (SIGSTOP) and killed (SIGKILL).
//   - Across processes it holds while the primary is up. During an outage
//     each process serves its own secondary, which other processes'
//     invalidations do not reach; and an invalidation one process made during
//     the outage reaches the primary when that process reconciles, within a
//     cool-down of the primary's return. Until then another process may
//     serve the primary's old value.
//   - A process that exits during an outage loses its journal: Close tries
//     one replay and logs how many records it could not deliver.
//
// # Migration
//
// [NewMigrator] takes a primary and a secondary (which is which is the
// switch: the cut-over is swapping them, for instance with the environment
// flag CACHE_MIGRATE_CUTOVER read by aside.OptionsFromEnv). Every write goes
// to the primary, then the same operation to the secondary (Set as Set, Add
// as Add, CompareAndSwap as CompareAndSwap, GetAddMulti and
// CompareAndSwapMulti as themselves: never the primary's result as a Set),
// so the secondary stays warm and consistent. The primary is the
// authority: its answer is the composite's answer. With ReadThrough, a
// GetAddMulti is a GetMulti (read through and backfilled as below) and an
// AddMulti of the keys still missing, so that a key the secondary holds is
// answered rather than leased and loaded again.
//
// A write holds its keys' stripes (each key hashes to one of 256) until
// both stores have answered, so both see the writes of a key in one order:
// two invalidations of a tag crossing between the stores would leave the
// secondary with the older version, under which entries the newer one
// killed are valid again. A DeletePattern holds no stripe (it would stop
// every write while it scans the store); a write that overlapped one is
// journaled, as below.
//
// Unless it is the in-process memory provider, the secondary sits behind a
// circuit breaker that opens on its first failure; while it is open no
// caller calls the secondary (the reconciler alone probes it once per
// cool-down), so an operation pays at most the one timeout that opened it.
// A write the secondary misses, failed or skipped, is journaled for the
// secondary and replayed there once it answers.
//
// With [MigrateOptions.ReadThrough], a read that misses on the primary is
// asked of the secondary, unless the key is in the secondary's journal (or
// the journal overflowed), and when the primary is the in-process memory
// provider the value found is copied into it (backfill) with
// [MigrateOptions.BackfillTTL]. A read-through value can only be served if
// every invalidation that reached the primary also reached the secondary,
// and a backfill must not land after an invalidation that began after the
// secondary was read. So:
//
//   - Read-through from an in-process secondary into a shared primary is
//     refused (ErrInvalidOptions): other processes' invalidations never reach
//     this process's memory, and reading it would publish what they removed.
//   - Backfill happens only into an in-process primary, where the composite
//     sees every write: each stripe counts the writes begun and ended; a
//     read notes its stripe's counts before it reads the primary, and
//     backfills only if no write of that stripe (and no DeletePattern)
//     began since or was running then, checked and applied under the
//     stripe's lock.
//   - The provider contract does not expose a key's remaining TTL, so a
//     backfilled copy lives BackfillTTL (1 s by default): a key may be served
//     up to that long past its TTL. The Cache does not mind (freshness is in
//     each entry, a lease's holder is bound by LeaseTTL in the Cache, and a tag
//     record's expiry only collects garbage); other users of the composite
//     should know.
//
// Backfill from a shared secondary into an in-process primary is the
// migration's first phase (memory serves, Redis is written and read through):
// the in-process primary already lacks other processes' invalidations, as it
// did before the migration, and the secondary only adds values at least as
// fresh. After the cut-over (Redis serves, memory is written) read-through
// is off. With two shared stores (Redis to Redis) read-through is allowed
// without backfill; a process whose write to the secondary failed keeps the
// key from its own reads until it has replayed it, but another process may
// read the old value there meanwhile.
//
// Migration does not fail over: a primary that fails makes the call fail,
// as without the composite (the Cache reads it as a miss and its own
// circuit breaker takes over). Use [NewFallback] once the migration is done.
// A process that exits with a secondary journal that is not empty leaves
// those keys possibly stale in the secondary until their TTL: Close tries
// to replay it and logs what remains; cut over once Stats shows the
// secondary's journal empty.
//
// # Stats
//
// Each side counts its calls, errors, keys read and found, and the latency
// of every call (a histogram of powers of two). With
// [MigrateOptions.ShadowReads] a share of the primary's reads is also sent to
// the secondary, whose answer is only counted, so that the two hit rates and
// latencies can be compared on the same traffic before the cut-over.
//
// Both composites are a provider.Composite: the aside.Cache lists the two
// stores in Stats.Providers (primary first, with these counters) and bills
// each one that meters. Both are a provider.Degrader: a Fallback while its
// secondary serves (the primary down or being reconciled), a Migrator
// while its secondary's circuit is open or its journal has overflowed, say
// so in a reason the Cache's Health reports, with the status degraded.
//
// # Concurrency
//
// All methods are safe for concurrent use. Each composite runs one
// background goroutine (the reconciler), which Close stops.
//
// # What it does not do
//
// It never copies values from one store to the other except the backfill
// above; it does not synchronise stores across processes; it does not retry
// calls (a failed call is reported, journaled, or answered by the other
// side, as above); it does not persist its journal.
package dual
