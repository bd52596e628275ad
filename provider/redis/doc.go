// Package redis is the aside provider over Redis, through go-redis v9: one
// standalone server, a Sentinel-managed master (go-redis's failover client),
// or a Redis Cluster. It needs Redis 7.0 or later (Add uses SET NX GET).
//
// # Use
//
// Hand it the client you already have:
//
//	rdb := goredis.NewClient(&goredis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
//	p, err := redis.New(rdb, redis.Options{})
//
// or let it build one from a URL (the provider then owns and closes it):
//
//	p, err := redis.NewFromURL("rediss://:password@cache.internal:6380/2", redis.Options{})
//	p, err := redis.NewCluster("redis://:password@", []string{"10.0.0.1:7000", "10.0.0.2:7000"}, redis.Options{})
//
// [FromURL] combines the two URL forms for configuration read from the
// environment. Nothing is sent to Redis until the first call, except one PING
// bounded by Options.Timeout when a URL names a database other than 0: a
// server that answers that the database does not exist fails the
// constructor with [ErrInvalidURL], and a server that does not answer fails
// nothing, so a Redis that is down at start never stops the program. Ping
// checks the connection.
//
// # Round trips
//
// Get is one GET. GetMulti is one MGET on a standalone or Sentinel client; on
// a Cluster (or a go-redis Ring) it is one pipeline of GETs that go-redis
// splits per node and sends to all nodes concurrently, so a cache read of an
// entry plus its tag versions costs one round trip to each node holding one
// of those keys, in parallel. SetMulti is one pipeline of SET PX commands
// (per node, concurrently, on a Cluster). Add is one SET NX GET PX.
// CompareAndSwap is one Lua script (EVALSHA, EVAL when the server lacks it)
// over one key. AddMulti is one pipeline of SET NX GET PX. The batch
// abilities are one round trip each: GetAddMulti (a read that takes leases
// for the missing keys) and CompareAndSwapMulti are one Lua script per 256
// keys on a standalone or Sentinel client (one command for a page of keys;
// the scripts of a larger batch go in one pipeline), and on a Cluster one
// pipeline of single-key commands (GET, SET NX GET PX, the CompareAndSwap
// script) per node, concurrently. Delete is one UNLINK, or on a Cluster one
// pipeline of single-key UNLINKs. On a Cluster no command ever names keys of
// two hash slots, so it never answers CROSSSLOT. DeletePattern runs SCAN
// MATCH plus UNLINK in batches on every master. Len is DBSIZE, summed over the masters of a
// Cluster: O(1) per node, but it counts every key of the database, not only
// the cache's.
//
// TTLs are sent in milliseconds (PX), a sub-millisecond remainder rounded up.
//
// # Timeouts and outages
//
// Every call is bounded by Options.Timeout (250 ms by default) on top of the
// caller's context; DeletePattern bounds each batch by Options.ScanTimeout.
// The bound is a context cancelled at the timeout, made per call, and go-redis
// watches it for everything it waits on: a free pooled connection, a dial,
// the pause between retries, and (with ContextTimeoutEnabled) socket reads and
// writes. A hung Redis therefore costs each call its Timeout, within a few
// milliseconds, at any number of concurrent callers (measured on a frozen
// server and on a frozen Cluster master, 1 to 128 callers).
//
// The clients built here have ContextTimeoutEnabled, make one dial attempt
// per connection and do not retry a failed command: a Redis that refuses
// connections fails each call at once (well under a millisecond on
// loopback), and a command that timed out is not sent again. For a client
// passed to [New], the provider bounds the waits the same way but does not
// change the client: without ContextTimeoutEnabled a call is abandoned at the
// timeout while go-redis waits for its ReadTimeout, and with go-redis's dial
// and retry defaults a refused connection may take the whole Timeout to fail
// (see [New]).
//
// The cache treats these failures as misses. go-redis re-dials by itself, so
// the provider recovers when Redis comes back, with no restart and no new
// provider.
//
// # Pub/sub
//
// The Provider is a provider.Broadcaster: PUBLISH and SUBSCRIBE on a
// standalone or Sentinel client, SPUBLISH and SSUBSCRIBE (Redis 7.0+) on a
// Cluster, where a channel lives on the node owning its slot. Each
// subscription holds a connection of its own and reads it with go-redis's
// low-level Receive. The first error on it (connection lost, CLIENT KILL),
// or an unsubscribe pushed by the server (a Cluster slot moving away), ends
// the subscription and closes its Messages channel; go-redis's PubSub.Channel
// would instead reconnect and resubscribe silently, losing the messages
// published in between, which a near cache cannot afford. A *redis.Ring
// answers provider.ErrNotSupported: its channel routing is its own.
//
// # Errors
//
// A missing key is provider.ErrNotFound. A key holding a hash, list, set or
// other non-string value is provider.ErrWrongType for Get, Add (SET NX GET
// answers WRONGTYPE and leaves the key alone), CompareAndSwap (from inside
// its script) and, on a Cluster or Ring, GetMulti (one GET per key); the
// Cache deletes such a key and reloads. MGET, which GetMulti uses on a
// standalone or Sentinel client, answers nil for a non-string key, so there
// GetMulti reports it as missing: after a miss the Cache takes its load
// lease with Add, which reports ErrWrongType. Set, SetMulti and Delete replace
// or remove a key of any type. A call after Close, or on a client closed
// underneath, is provider.ErrClosed; a call whose context ends matches
// the context's error with errors.Is. Constructor errors match
// [ErrInvalidURL], [ErrInvalidOptions] or [ErrNilClient]. No error contains
// a password, a URL's user information or a key.
//
// # Concurrency
//
// All methods of [Provider] are safe for concurrent use.
//
// # Logging
//
// The provider logs nothing. go-redis logs failed dials and pool trouble
// through one process-wide logger, writing to standard error unless a
// program sets it; the provider never does, since that would change every
// go-redis client of the program. Set it once in main, to the application's
// logger or to nothing:
//
//	goredis.SetLogger(redis.NewLogger(logger)) // nil drops go-redis's lines
//
// aside.FromEnv does this with the logger LOG_LEVEL selects.
//
// # What it does not do
//
// It does not retry beyond go-redis's own settings, hash keys into one slot,
// or namespace keys: the Cache builds every key. It does not support Redis
// older than 7.0.
package redis
