// Package coherence keeps the near tiers (in-process copies of entries) of
// every process sharing a store coherent, over the store's pub/sub
// ([provider.Broadcaster]). The Cache's near tier is its only user.
//
// # The one way to use it
//
// Build a [Stream] with [New] per namespace. The tier:
//
//   - serves an entry only while [Stream.Lease] reports ok and the epoch it
//     reports equals the epoch the entry was filled in;
//   - fills an entry like this: take g := Generation() and (e, ok) :=
//     Lease() before the store read; insert the value read; then check that
//     Generation() == g and Lease() is still (e, true), and remove the entry
//     it inserted if not (or do check and insert under the lock Apply takes).
//     Generation is incremented before Apply is called, so a fill that
//     raced an invalidation is either dropped by Apply or undone by its own
//     check;
//   - drops what [Config.Apply] names, and everything on [Config.Lapse];
//   - after every store write that replaces an entry another process may
//     hold, calls [Stream.Invalidate] and reports the write done only when it
//     returns nil.
//
// All methods are safe for concurrent use.
//
// # Protocol
//
// One channel per namespace carries three kinds of message, each a version
// byte then a msgpack array (garbage and unknown versions are ignored):
//
//   - HB(member, sent): a heartbeat, published by every instance every
//     Lease/5; sent is the sender's own monotonic clock.
//   - INV(member, seq, Message): an invalidation.
//   - ACK(member, ids): the member applied these invalidations.
//
// Lease. When an instance receives its own HB back, its lease runs until
// sent + Lease (its own clock). Redis delivers a channel's messages to each
// subscriber in the order it processed them, so every INV the store
// processed before that HB was applied before the lease was extended: an
// instance holding a lease has applied every invalidation published more
// than Lease ago. The lease lapses when its time runs out (no own HB came
// back: the store is hung, the connection is dead without saying so, or
// this process was frozen) or the subscription breaks; Lapse is then
// called, the epoch and the generation change, the subscription is closed
// whatever its state, and the stream resubscribes with backoff. A
// subscription on which no own HB comes back within Lease of its start is
// given up the same way. A new subscription
// starts a new epoch (so a fill begun before it, which may have missed an
// INV published while unsubscribed, is never kept), and the lease is held
// again only after a fresh own HB comes back on it.
//
// Membership, without comparing clocks across machines: every instance sees
// every instance's HBs and keeps member → when it last saw one (its own
// monotonic clock).
//
// Invalidate(m): publish INV; let P be the time the store's reply arrived
// (the store processed the INV before it). The bound is P + Lease + margin
// (margin = Lease/10, for scheduling between a Lease check and a serve). The
// invalidator waits for its own INV to come back (it then has applied it,
// and has seen every HB the store processed before it); the members are
// those seen within Lease + margin at that moment; it then waits for an ACK
// from each, and returns when all came or at the bound, whichever is first.
// Every instance ACKs every INV not its own, after Apply returns (ACKs are
// batched when INVs come faster than ACKs are published).
//
// Why it is safe: take an instance R that has not ACKed by the time the
// invalidator returns. If R's lease rests on an HB the store processed after
// the INV, R applied the INV before (FIFO). Otherwise it rests on an HB sent
// before the store processed the INV, so before P: it ends before
// P + Lease, and the invalidator waited until P + Lease + margin. An
// instance the invalidator does not count as a member sent its last HB
// processed before the INV more than Lease + margin before the invalidator
// saw its own INV, so that lease ran out before Invalidate even started
// waiting. The invalidator only hears the HBs the store processed after its
// own subscription was confirmed at S; a lease resting on an earlier HB ends
// before S + Lease, so it also waits until S + Lease + margin (this matters
// only in the first Lease + margin of a subscription: at start and after a
// resubscription). When its own INV does not come back (its subscription is
// down), it waits for the whole bound.
//
// Changes from the first design, and why: the bound runs from the moment
// the PUBLISH reply arrived, not from the moment it was sent (an HB from
// another instance may reach the store after the INV was sent but before the
// store processed it); Invalidate does not call Apply itself (the own INV
// comes back on the stream and is applied there, so Apply has one caller,
// the stream goroutine); the epoch changes also when a subscription is
// confirmed (see Lease above).
//
// Cost per invalidation with N live instances: one INV and at most N-1 ACK
// publishes (fewer when INVs arrive faster than ACKs are published: an ACK
// covers every INV applied since the last one), and N + N(N-1) deliveries by
// the store; heartbeats cost 5 publishes per instance per Lease, each
// delivered N times. BenchmarkInvalidate measures it.
//
// The proof runs in the package's tests: TestNoStaleReadAcrossProcessesUnderPartitions
// re-executes the test binary as writer and reader processes over a
// test-owned redis-server, each reader a map tier following the rules
// above, and counts reads served by a tier older than an invalidation that
// completed before the read began, while it kills one reader's
// subscription, SIGSTOPs another and kills every subscription; it must count
// none, and TestTheCheckerCatchesABrokenProtocol shows the same checker
// counting them when the protocol is broken on purpose.
//
// # What it does not do
//
// It does not redeliver: a subscription that breaks loses what was
// published meanwhile, which the lapse makes harmless. It does not make
// invalidations succeed when the store is down: Invalidate then returns the
// publish error. It never blocks a caller beyond P + Lease + margin after
// its publish returned, plus the publish itself (bounded by the provider's
// timeout and ctx).
package coherence
