// Package circuit puts a circuit breaker in front of a network
// [provider.Provider], so that a store that is down or hung costs a few calls
// one timeout each and then nothing: after [Options.Failures] consecutive
// failures the circuit opens, and every call fails at once with an error
// matching provider.ErrUnavailable, without touching the store, for
// [Options.CoolDown]. Then it turns half-open and lets [Options.Probes] calls
// through: if they succeed it closes, if one fails it opens for another
// cool-down. The aside.Cache treats a failed read as a miss, and a refused
// write returns at once, so during an outage Remember costs what the loader
// costs and the HTTP middleware what the handler costs. With the defaults (5
// failures, a 1 s cool-down, 1 probe), the first call after the store comes
// back succeeds within CoolDown plus one provider timeout (the probe that was
// in flight when it came back may hang until its timeout): 1.25 s over
// provider/redis's 250 ms default.
//
// It is built on github.com/sony/gobreaker/v2.
//
// # Use
//
// Wrap the provider and use what Wrap returns in its place; keep the
// [Breaker] for its [Breaker.State] and [Breaker.Stats]:
//
//	p, breaker, err := circuit.Wrap(redisProvider, circuit.Options{
//		OnStateChange: func(from, to circuit.State) {
//			logger.Warn("cache store circuit", "from", from, "to", to)
//		},
//	})
//
// The zero [Options] use the defaults above. The guarded provider offers
// every optional ability of package provider, each through the breaker,
// whatever the wrapped provider has: one type, however many abilities
// there are (a type per combination would grow as 2^n). Where the wrapped
// provider lacks one, provider.Batcher, provider.MultiAdder and
// provider.MultiSwapper are emulated with one Set, Add or CompareAndSwap per
// item, provider.MultiGetAdder with a GetMulti and an AddMulti of the
// missing keys, and provider.PatternDeleter, provider.Counter and
// provider.Broadcaster return an error matching provider.ErrNotSupported, which
// the Cache treats as the ability missing. Its
// Unwrap method returns the wrapped provider. Close closes the wrapped
// provider whatever the circuit's state; afterwards every call returns an
// error matching provider.ErrClosed.
//
// It is meant for network stores (Redis, Upstash). The in-process memory
// provider never blocks and fails only on bad arguments, so a breaker in
// front of it costs two locks and two clock reads per call for nothing.
//
// Publish and Subscribe (provider.Broadcaster) go through the breaker like
// every other call: both are round trips to the store, so their failures
// are evidence of an outage, and an open circuit refuses them at once (the
// near cache's invalidation then fails fast, as the store write before it
// would have; its resubscription backs off and its lease stays lapsed). Only
// the Subscribe call is judged: a subscription that breaks later is no call
// and counts for nothing.
//
// # What counts as a failure
//
// Each call is judged by its error and by the caller's context:
//
//   - A success, and an error matching provider.ErrNotFound or
//     provider.ErrWrongType, count as a success: the store answered. A success
//     ends a run of failures; in the half-open state it counts toward
//     closing.
//   - An error returned while the caller's context is done (cancelled, or
//     past the caller's own deadline) is not counted at all: the caller gave
//     up, and the store may be fine. Neither are provider.ErrInvalidKey,
//     provider.ErrInvalidTTL, provider.ErrTooLarge and provider.ErrClosed,
//     which the adapter may return without reaching the store. A call whose
//     context is already done when it starts does not reach the breaker: it
//     returns the context's error, using up no probe.
//   - Every other error counts as a failure: a timeout of the provider's own
//     per-call bound (context.DeadlineExceeded while the caller's context is
//     still live), network errors, server errors, and anything unknown. A
//     panic in the wrapped provider counts as a failure and is re-raised.
//
// Because a timeout only counts when the provider's own bound fires, a hung
// store opens the circuit only if that bound is shorter than the deadlines
// callers put on their contexts; the provider adapters' default timeouts
// (well under a second) are.
//
// A call that was let through while the circuit was in one state and ends
// after it moved to another is not counted: slow calls from before an opening
// cannot re-open or close it.
//
// # Concurrency
//
// All methods of the guarded provider and of the Breaker are safe for
// concurrent use. Every call through the breaker takes gobreaker's mutex
// twice (before and after the call) and reads the clock twice; see the
// package benchmarks for the cost, a few hundred nanoseconds, which is noise
// next to a network round trip.
// [Options.OnStateChange] is called once per transition, in order, never
// concurrently with itself, and outside the breaker's lock, so it may call
// the Breaker's methods.
//
// # What it does not do
//
// It does not retry, add timeouts, log or fail open: the provider bounds each
// call, and the Cache decides what a refused call means. It does not share
// state between processes: each process's breaker learns of an outage from
// its own calls. It does not pass on abilities that package provider does
// not define. It counts consecutive failures only; it has no failure-ratio rule.
package circuit
