package provider

import (
	"context"
	"errors"
	"time"
)

// MaxKeyLen is the longest key a provider must accept. Package keys hashes
// longer logical keys well below this limit.
const MaxKeyLen = 4096

// Errors returned by providers. Adapters wrap them with %w so that callers can
// test with errors.Is; the wrapped message never carries a secret.
var (
	// ErrNotFound means the key is missing or expired.
	ErrNotFound = errors.New("aside: provider: key not found")
	// ErrClosed means the provider was closed.
	ErrClosed = errors.New("aside: provider: closed")
	// ErrInvalidTTL means a negative TTL was passed; use 0 for no expiry.
	ErrInvalidTTL = errors.New("aside: provider: ttl is negative (use 0 for no expiry)")
	// ErrInvalidKey means the key is empty or longer than MaxKeyLen bytes.
	ErrInvalidKey = errors.New("aside: provider: key is empty or longer than provider.MaxKeyLen")
	// ErrTooLarge means the value exceeds what the adapter can store.
	ErrTooLarge = errors.New("aside: provider: value too large")
	// ErrWrongType means the key holds something the adapter does not store
	// as a value (Redis WRONGTYPE: a hash, list or set under the key). The
	// Cache treats it like a corrupt entry: it deletes the key and reloads.
	ErrWrongType = errors.New("aside: provider: key holds a value of another type")
	// ErrNotSupported is returned by an optional ability that a wrapper (such
	// as package circuit's) always offers but whose wrapped provider lacks.
	// Callers treat it as if the ability were missing.
	ErrNotSupported = errors.New("aside: provider: not supported")
	// ErrUnavailable means the call was refused without reaching the store,
	// because a circuit breaker in front of it is open (the store failed
	// repeatedly and is given time to recover). It fails instantly.
	ErrUnavailable = errors.New("aside: provider: unavailable (circuit open)")
)

// Provider is the byte-level store contract. See the package documentation for
// the exact semantics of missing keys, TTLs, sizes, contexts and Close.
type Provider interface {
	// Get returns the value stored under key, or an error matching ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)

	// GetMulti returns the values of keys in order, with nil for a missing
	// key, in one round trip (adapters over sharded stores fan out per shard
	// concurrently). An empty keys returns an empty result.
	GetMulti(ctx context.Context, keys []string) ([][]byte, error)

	// Set stores value under key with the given TTL, replacing any value.
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error

	// Add stores value under key only if the key is absent. It reports
	// added=true when it stored; otherwise it returns the value already there
	// (the stored value is left untouched, TTL included). Redis: SET NX GET.
	Add(ctx context.Context, key string, value []byte, ttl time.Duration) (existing []byte, added bool, err error)

	// CompareAndSwap replaces the value under key with new, and its TTL with
	// ttl, only if the key exists and holds exactly old. It reports whether it
	// swapped. The check and the write are atomic.
	CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error)

	// Delete removes keys and returns how many existed. Zero keys is a no-op.
	Delete(ctx context.Context, keys ...string) (int, error)

	// Ping checks that the store answers.
	Ping(ctx context.Context) error

	// Close releases the provider's resources. It is idempotent.
	Close() error
}

// Item is one write for Batcher.SetMulti.
type Item struct {
	Key   string
	Value []byte
	TTL   time.Duration
}

// Batcher is implemented by providers that can apply several writes in one
// round trip. The writes are not atomic as a group: each item either happens
// or not, and on error some may have been applied.
type Batcher interface {
	SetMulti(ctx context.Context, items []Item) error
}

// AddResult is the outcome of one item of [MultiAdder.AddMulti].
type AddResult struct {
	// Added reports that the item was stored.
	Added bool
	// Existing is the value that was already stored when Added is false
	// (read-only, like every slice a provider returns).
	Existing []byte
}

// MultiAdder is implemented by providers that can apply Add to several keys
// in one round trip. Each item is added or not on its own, exactly as Add
// would; the group is not atomic, and on error some items may have been
// added. On success the result has one element per item, in order.
type MultiAdder interface {
	AddMulti(ctx context.Context, items []Item) ([]AddResult, error)
}

// Fetch is one key of [MultiGetAdder.GetAddMulti]: read Key and, when it
// is missing and Add is not nil, store Add under it with TTL.
type Fetch struct {
	Key string
	// Add is stored under Key when Key is missing; nil only reads. An
	// empty, non-nil Add stores an empty value.
	Add []byte
	TTL time.Duration
}

// MultiGetAdder is implemented by providers that can read many keys and
// Add to the missing ones in one round trip: the Cache's batch read, which
// takes its loaders' leases while it reads. Each fetch is, atomically, a Get
// followed, when the key is missing and Fetch.Add is not nil, by storing Add
// (Redis: GET, or SET NX GET PX). The result has one element per fetch, in
// order: Added when Add was stored, else Existing holds the value read (nil:
// missing). Fetches apply in order, so a key fetched twice sees the first
// fetch's Add; the group is not atomic, and on error some Adds may have been
// applied. A key holding another type fails the call with ErrWrongType when
// its fetch has a value to add; a read-only fetch may read it as missing
// instead (as GetMulti may).
type MultiGetAdder interface {
	GetAddMulti(ctx context.Context, fetches []Fetch) ([]AddResult, error)
}

// Swap is one item of [MultiSwapper.CompareAndSwapMulti].
type Swap struct {
	Key      string
	Old, New []byte
	TTL      time.Duration
}

// MultiSwapper is implemented by providers that can apply CompareAndSwap to
// several keys in one round trip (the Cache stores a batch of loads through
// their leases with it). Each swap is atomic on its own, exactly as
// CompareAndSwap, and they apply in order; the group is not atomic, and on
// error some may have been applied. On success the result reports, per
// swap, whether it swapped.
type MultiSwapper interface {
	CompareAndSwapMulti(ctx context.Context, swaps []Swap) ([]bool, error)
}

// PatternDeleter is implemented by providers that can delete keys matching a
// glob. The glob syntax is Redis's (see keys.Match): '*', '?', '[...]' with
// ranges and '^' negation, and '\' to escape. Adapters work in bounded batches
// (never Redis KEYS) and visit every shard. It returns how many keys it
// removed. It is not atomic: keys written while it runs may survive.
type PatternDeleter interface {
	DeletePattern(ctx context.Context, pattern string) (int, error)
}

// Counter is implemented by providers that know how many keys they hold
// without scanning them. The count may include expired keys not yet reclaimed
// and, for shared stores, keys that are not the cache's.
type Counter interface {
	Len(ctx context.Context) (int64, error)
}

// Usage is what a store bills for, counted by its provider since it was
// created.
type Usage struct {
	// Commands is the number of commands the store executed and bills:
	// each command inside a pipeline or transaction counts once.
	Commands int64 `json:"commands"`
	// Requests is the number of requests sent (HTTP requests for a REST
	// store, round trips for others).
	Requests int64 `json:"requests"`
	// BytesSent and BytesReceived are the bytes of request and response
	// bodies (what a REST store bills as bandwidth).
	BytesSent     int64 `json:"bytes_sent"`
	BytesReceived int64 `json:"bytes_received"`
}

// Meter is implemented by providers that count what their store bills
// (Upstash bills every command and every byte). Usage returns the counters
// at the time of the call; it never blocks.
type Meter interface {
	Usage() Usage
}
