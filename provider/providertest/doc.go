// Package providertest is the conformance suite for provider adapters: one
// contract, many stores. It checks every rule written in package provider's
// documentation — missing keys, key and value bytes, TTL rounding and expiry,
// Add and CompareAndSwap atomicity, slice ownership, contexts, Close — and the
// optional abilities (Batcher, MultiAdder, MultiGetAdder, MultiSwapper,
// PatternDeleter, Counter) a provider implements.
//
// An adapter runs it from one test, with a factory that returns a fresh,
// open provider and registers its own cleanup:
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, func(t *testing.T) provider.Provider {
//			p, err := memory.New(memory.Options{})
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { p.Close() })
//			return p
//		})
//	}
//
// Adapters with limits or a shared store say so with [RunWithOptions]: a
// store that refuses values above some size sets [Options.MaxValueSize] (the
// suite then checks that size is accepted and one byte more fails with
// provider.ErrTooLarge), and a store other clients write to (a shared Redis)
// sets [Options.SharedStore] so that Counter.Len is not held to exact counts.
//
// Each check is a subtest whose name reads as the rule it checks, and each
// gets its own provider from the factory and writes only keys under a random
// prefix of its own, so that adapters over a shared server can run the suite
// concurrently with other tests. The suite closes only providers in the
// subtest that checks Close, so a factory's cleanup must tolerate a second
// Close (the contract makes Close idempotent anyway).
//
// Timing: TTL checks use TTLs of 50–150 ms and poll with deadlines; they
// never fail because the machine is slow, only because a key vanished before
// its TTL or outlived it by more than a few seconds. The whole suite takes a
// few seconds.
//
// RunBroadcaster checks the provider.Broadcaster ability (pub/sub): order,
// receiver counts, Close, and that a subscription the store breaks closes
// its channel after a gapless prefix of what was published, never hiding a
// gap behind a silent reconnection. Its BroadcastOptions.Break tells it how
// to break a subscription on the adapter's store (CLIENT KILL for Redis).
//
// Run checks a provider on its own and needs nothing but package provider.
// RunCache, in this package too, checks the aside.Cache's invalidation
// guarantee over a provider; it imports the root package, so an adapter the
// root package imports (memory) calls it from an external _test package.
//
// What it does not do: it does not measure performance or start servers; an
// adapter's own tests cover what is specific to it (eviction, connection
// handling, cluster routing).
package providertest
