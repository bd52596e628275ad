package dual

// Bugs the tests must catch, switched on through these hooks.

// SkipReplay makes f drop its journal instead of replaying it on the
// primary: an invalidation made during an outage is lost when it ends.
func SkipReplay(f *Fallback) { f.skipReplay = true }

// TrustSecondary makes m read through from its secondary whatever the
// journal says: a write the secondary missed is served from it.
func TrustSecondary(m *Migrator) { m.trustSecondary = true }

// BackfillBlindly makes m backfill without checking for writes that began
// since the read: a backfill may land after an invalidation.
func BackfillBlindly(m *Migrator) { m.blindBackfill = true }

// ForceBackfill makes m backfill read-through values into its primary
// even though it is not a *memory.Provider (a test wrapper around one).
func ForceBackfill(m *Migrator) { m.backfill = m.readThrough }
