// Package rueidis is the aside provider over Redis through rueidis
// (github.com/redis/rueidis), the client maintained by Redis whose
// auto-pipelining sends the commands that concurrent callers issue on one
// connection together, in one write, instead of one round trip each on a
// pooled connection. It serves one standalone server or a Redis Cluster,
// and any client rueidis.NewClient builds (Sentinel included) through [New].
// It needs Redis 7.0 or later (Add uses SET NX GET).
//
// On the 2-core test machine a GET hit through this provider had 1.6-1.7x
// (8 goroutines), 2.1-2.6x (32) and 2.9-4.2x (128) the throughput of a bare
// go-redis GET in three interleaved runs, and the same serial latency; see NOTES.md beside this file for the
// figures, the commands that give them, and the measurements of the
// invalidation channels (pub/sub, client tracking) for a near cache.
// Programs that already hold a go-redis client keep package redis.
//
// # Use
//
//	p, err := rueidis.NewFromURL("rediss://:password@cache.internal:6380/2", rueidis.Options{})
//	p, err := rueidis.NewCluster("redis://:password@", []string{"10.0.0.1:7000", "10.0.0.2:7000"}, rueidis.Options{})
//	p, err := rueidis.New(client, rueidis.Options{}) // a rueidis.Client you have
//
// [FromURL] combines the two URL forms for configuration read from the
// environment (aside.FromEnv uses it for REDIS_URL unless REDIS_CLIENT is
// go-redis). rueidis connects when its client is made; the URL
// constructors make it on the first call instead, so that a Redis that is
// down at start never stops the program (except that a URL naming a
// database other than 0 is tried at once, within Options.Timeout, to
// report a database the server lacks). Ping checks the connection.
//
// # Round trips
//
// Get is one GET, pipelined by rueidis with whatever else is in flight on
// its connection. GetMulti is one MGET on one server; on a Cluster it is, like
// SetMulti, AddMulti and Delete everywhere, one pipeline of single-key
// commands (GET; SET PX; SET NX GET PX; UNLINK), which rueidis splits per
// node and sends to the nodes concurrently: one round trip to each node
// holding a key, and no command ever spans two hash slots, so a Cluster
// never answers CROSSSLOT. Add is one SET NX GET PX.
// CompareAndSwap is one Lua script over one key (EVALSHA, EVAL when the
// server lacks it). DeletePattern runs SCAN MATCH and UNLINK in batches on
// every master. Len is DBSIZE, summed over the masters of a Cluster. TTLs
// are sent in milliseconds, a sub-millisecond remainder rounded up.
//
// # Timeouts and outages
//
// Every call is bounded by Options.Timeout (250 ms by default) on top of the
// caller's context; DeletePattern bounds each batch by Options.ScanTimeout.
// rueidis honours a context's end while it waits for a reply, but one of its
// waits does not: a command that finds the queue of its connection full
// (1024 commands, including those whose callers gave up) waits until the
// connection answers or is dropped. So after any call gave up on Redis (a
// hung or overloaded server), the provider runs calls on goroutines of
// their own for a few seconds, each holding a slot of Options.MaxInFlight
// until rueidis lets go of its command; the caller still leaves at its
// bound. A frozen server (SIGSTOP) costs each call its Timeout and no more
// at 1 to 128 callers, and a hung server can pile up at most twice
// MaxInFlight commands. A stopped server fails each call at once (one
// refused dial, no retry).
//
// The clients built here retry nothing (DisableRetry), do no client-side
// caching (DisableCache), use a 1 s dial timeout, and drop a connection
// whose replies stop for Timeout plus 1 s (ConnWriteTimeout). rueidis
// re-dials by itself, so the provider recovers when Redis comes back.
//
// # Pub/sub
//
// The Provider is a provider.Broadcaster: PUBLISH and SUBSCRIBE, or
// SPUBLISH and SSUBSCRIBE on a Cluster (Redis 7.0+). Each subscription is a
// dedicated connection (Client.Dedicate) with rueidis's pub/sub hooks; the
// provider does not use Client.Receive, whose caller is expected to call it
// again after a disconnect. When the connection breaks (CLIENT KILL, a
// network cut) or the server unsubscribes it (a Cluster slot moving away),
// the subscription ends and its Messages channel is closed, so that a gap
// is never hidden; the connection is closed, never returned to rueidis's
// pool. Publish is bounded like every call; Subscribe waits for Redis's
// confirmation at most Options.Timeout. Subscriptions made over a caller's
// client live until their Close (or the client's).
//
// # Errors
//
// A missing key is provider.ErrNotFound. A key holding a hash, list, set or
// other non-string value is provider.ErrWrongType for Get, Add, AddMulti,
// CompareAndSwap and, on a Cluster, GetMulti; the Cache deletes such a key
// and reloads. MGET, which GetMulti uses on one server, answers nil for
// such a key, so there GetMulti reports it missing, and the Cache's Add
// that follows a miss reports ErrWrongType. Set, SetMulti and Delete replace or remove a key of any type. A
// call after Close, or on a client closed underneath, is
// provider.ErrClosed; a call whose context ends matches the context's error
// with errors.Is, and a call that reached a connection rueidis had just
// dropped for silence fails with that connection's timeout error
// (os.ErrDeadlineExceeded). Constructor errors match [ErrInvalidURL],
// [ErrInvalidOptions] or [ErrNilClient]. No error contains a password, a
// URL's user information or a key.
//
// # Concurrency
//
// All methods of [Provider] are safe for concurrent use.
//
// # What it does not do
//
// It logs nothing (rueidis has no logger). It does not use rueidis's
// client-side caching: a near cache in front of Redis is the Cache's job
// (issue 12), and NOTES.md says what client tracking would and would not
// guarantee for it. It does not retry, hash keys into one slot, namespace
// keys, or support Redis older than 7.0.
package rueidis
