// Package memory is the in-process [provider.Provider]: aside's embedded
// default, and the store for tests and single-instance services.
//
// It holds entries in a concurrent hash table bounded by bytes, with
// per-entry TTLs and frequency-aware eviction, built on
// github.com/maypok86/otter/v2 (W-TinyLFU eviction, a hierarchical timer
// wheel for expiry):
//
//	p, err := memory.New(memory.Options{MaxBytes: 256 << 20})
//	if err != nil {
//		return err
//	}
//	defer p.Close()
//
// The zero [Options] bound the store at [DefaultMaxBytes] (64 MiB).
//
// # Memory bound
//
// Every entry is charged len(key) + the allocated size of its value copy +
// [EntryOverhead] bytes, and the sum never exceeds Options.MaxBytes once a
// write returns and the engine's maintenance has run (it runs right after
// writes, on a goroutine of its own). When a write takes the store over the
// bound, the entries least likely to be used again are evicted: a key read
// often survives a scan of one-off keys that would flush an LRU cache. An
// entry that alone weighs more than MaxBytes is refused with
// provider.ErrTooLarge. The charge is honest: EntryOverhead is checked against
// the heap the engine really holds per entry (see its documentation), so the
// process's heap for the store stays close to MaxBytes.
//
// # Semantics
//
// It implements provider.Provider exactly as that package documents, plus
// provider.Batcher (SetMulti validates every item before storing any),
// provider.PatternDeleter (DeletePattern walks every entry and matches with
// keys.Match) and provider.Counter (Len is exact, but may include expired
// entries for up to about a second).
//
// Keys and values are copied on the way in; a value returned by Get, GetMulti
// or Add is shared with other readers and must not be modified (its capacity
// equals its length, so an append copies). TTLs have millisecond precision,
// rounded up. Expiry is exact on reads: the engine compares each entry's
// deadline with a precise clock on every read, so an entry is never returned
// past its deadline; expired entries nobody reads are reclaimed by a timer
// wheel within about a second, without scanning the table.
//
// No method blocks on I/O, so a context only matters if it is already done
// when a method starts (DeletePattern and SetMulti also check it as they go).
//
// It is also a provider.Broadcaster inside the process: Publish hands a copy
// of the message to every subscription of the channel, in one global order,
// and never blocks; a subscription whose receiver lets
// [SubscriptionBuffer] messages pile up is broken (its channel closed), as
// Redis breaks a subscriber over its output buffer limit.
//
// # Concurrency
//
// All methods are safe for concurrent use. Add and CompareAndSwap are atomic
// per key. Close stops the engine's clean-up goroutine and drops every entry;
// afterwards every method returns provider.ErrClosed.
//
// # What it does not do
//
// It does not share entries between processes, persist them, or count the
// memory of values a caller still holds after the store evicted them.
package memory
