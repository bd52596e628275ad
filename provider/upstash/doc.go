// Package upstash is the aside provider over the Upstash Redis REST API:
// plain net/http and JSON, for serverless and edge deployments and networks
// that allow only HTTPS. (Upstash also speaks the Redis protocol over TLS;
// for that, use package provider/redis with a rediss:// URL.)
//
// # Use
//
//	p, err := upstash.New("https://<name>.upstash.io", token, upstash.Options{})
//	c, err := aside.New(aside.Options{Provider: p})
//
// or CACHE_PROVIDER=upstash with UPSTASH_REDIS_REST_URL and
// UPSTASH_REDIS_REST_TOKEN through aside.FromEnv. For development without an
// account, cmd/upstash-local serves the same API over a local Redis
// (package emulator); point the URL at it, http://127.0.0.1:8079. Plain
// http:// is accepted only to a loopback host unless Options.AllowHTTP is
// set: Upstash itself is https:// only, and the token would cross the
// network in clear.
//
// The provider has one http.Client (keep-alive, HTTP/2 when the server
// offers it, no redirects). Nothing is sent until the first call; Ping
// checks the URL and the token.
//
// # What each call costs
//
// Upstash bills every command, each one inside a pipeline included. Every
// call of the provider is one billed command:
//
//   - Get is GET; GetMulti is MGET of all its keys (a tagged cache hit reads
//     the entry and its tags' records in that one MGET).
//   - Set is SET [PX]; Add is SET NX GET [PX]; Delete is DEL of all its keys;
//     Len is DBSIZE; Ping is PING.
//   - CompareAndSwap is one Lua script call (EVALSHA; EVAL the first time in
//     a process, or after a NOSCRIPT answer, which costs that call one more
//     command).
//   - SetMulti of several items is one script call that sets each with its
//     own TTL, where a pipeline of SETs would bill one command per item;
//     AddMulti of several items is one script running SET NX GET per item.
//     GetAddMulti (the Cache's batch read, which leases the missing keys)
//     is one script that reads every key and adds to the missing ones;
//     CompareAndSwapMulti (its batch store) is one script that swaps every
//     key: one request and one billed command each, where a pipeline
//     would bill one command per key. (Items whose values together exceed
//     Options.MaxBatchBytes take one script call per MaxBatchBytes.)
//   - DeletePattern is one SCAN per Options.ScanCount keys of the database
//     and one DEL per SCAN that found matches; Scan (for tools that walk a
//     database read-only) is one SCAN.
//
// So, through an aside.Cache: a hit is 1 command, tagged or not; a fill
// (a miss that stores) is 2, the lease (SET NX GET) and the store
// (CompareAndSwap), plus 1 the first time a tag is used (its record is
// created); InvalidateTags is 1 whatever the number of tags. A
// RememberMany page of 50 tagged keys of which 10 miss is 2 requests and
// 2 billed commands (one to read and lease, one to store), where 50
// Remember calls are 70 of each (TestBilledCommandsOfABatchPage).
//
// Scripts carry the shebang flag allow-key-locking, so that Upstash locks
// only the keys they touch (all passed in KEYS) rather than the whole
// database. Real Redis rejects the flag: Options.GlobalScriptLock leaves it
// out, for servers other than Upstash and package emulator.
//
// [Provider.Usage] (provider.Meter) counts billed commands, requests and
// body bytes as Upstash does; [Provider.Stats] adds retries, quota errors
// and commands whose reply was lost.
//
// # Binary values and keys
//
// Values are bytes (compressed frames); REST bodies are JSON, whose strings
// are text. The provider stores each value as its standard base64 text:
// 4⌈n/3⌉ bytes for an n-byte value, a third more than the raw bytes. The
// request carries that text, Redis stores it unchanged, and GET returns it
// as a plain JSON string that the provider decodes (strict base64, so
// stored text and value correspond one to one and CompareAndSwap, which
// compares stored text, agrees with Get). Text under a key that is not
// such base64 (another client's) reads as provider.ErrWrongType from Get
// and Add, and as missing from GetMulti, so the Cache replaces it.
//
// The alternatives were measured or read up and rejected: Upstash's path
// form takes one raw body as the last argument of a command, which stores
// raw bytes but carries the key in the URL path, where Upstash's router
// treats characters such as ':' and '/' differently from their
// percent-encoded forms, fits no pipeline, and cannot carry the two values
// of a compare-and-swap; decoding the text inside a Lua script stores raw
// bytes but is slow in Redis's Lua (measured on Redis 7.0: hex at 113 ms
// per MiB, base64 at 870 ms per MiB, against microseconds for a SET);
// Ascii85 text is 1.25× instead of 1.33× but decodes six times slower in
// Go (260 against 1600 MB/s) and is not canonical; and the
// `Upstash-Encoding: base64` header only changes replies, where it would
// encode the stored base64 a second time, so the provider sends it only
// with SCAN, whose replies name keys.
//
// Keys travel as JSON strings too. A key that is valid UTF-8 without a NUL
// byte, as every key aside builds is, is stored as itself. Otherwise each
// NUL and each byte outside valid UTF-8 is stored as NUL and two upper-case
// hex digits, which keeps the mapping one to one; DeletePattern accounts for
// it.
//
// # Auto-pipelining, ordering and retries
//
// Calls made concurrently share requests. At most Options.MaxInFlight
// requests run at once; calls made while all are busy wait, and the next
// free request takes them all (up to Options.MaxBatch commands and
// Options.MaxBatchBytes) to /pipeline, in the order they were made. A lone
// call is sent at once, to POST / (Options.BatchWait trades a little latency
// for fuller requests). Upstash runs a pipeline in order and reads and
// writes share one queue, so a read never overtakes a write made before it
// (the official TypeScript client sends reads and writes in separate
// pipelines, which may run in either order).
//
// A request is sent again, after a backoff of 10 ms doubling with jitter and
// at most Options.Retries times within the call's Timeout, only when that
// cannot run a command twice: a request that never reached the server (the
// connection was refused) goes again whole; from a request whose reply was
// lost or cut, or that got a 5xx, only the read-only commands (GET, MGET,
// SCAN, DBSIZE, PING) go again, and writes fail: SET NX, DEL and scripts
// applied twice would lie about what they did. (The official TypeScript
// client retries every command after a network error.) Nothing the server
// answered is retried.
//
// Every response's upstash-sync-token is sent with the next request, so
// that a read served by a replica sees the writes acknowledged before it.
//
// # Timeouts and errors
//
// Every call but DeletePattern returns within Options.Timeout (500 ms by
// default) whatever the concurrency: waiting for a request, the request,
// retries and backoff included. DeletePattern bounds each SCAN and DEL by
// Options.ScanTimeout.
//
// A missing key is provider.ErrNotFound; WRONGTYPE is provider.ErrWrongType;
// a call after Close is provider.ErrClosed; a call whose context ends
// matches the context's error. Upstash's quota errors (max requests limit,
// max daily request limit, max request size, max single record size, max
// key size, DB capacity quota) are [ErrQuota] (the size ones also
// provider.ErrTooLarge), counted in Stats.QuotaErrors and never retried; a
// 401 is [ErrUnauthorized]. Other command errors are *[CommandError].
// No error contains the token, the URL, a key or a value.
//
// # Pub/sub
//
// [Provider] is a provider.Broadcaster, the channel over which the Cache's
// near tier tells every instance what to drop. Publish is one PUBLISH (one
// billed command); Subscribe is Upstash's streaming subscribe, POST
// /subscribe/<channel> answered with Server-Sent Events (one billed command
// when it opens), held open on its own connection. Messages travel as
// base64 text, since an event is a line of text. A stream that fails closes
// the subscription's Messages channel; it is never resubscribed quietly, so
// the caller knows that what was published meanwhile is lost. Upstash's
// command reference lists SUBSCRIBE under its TCP endpoint; this streaming
// form is what the official TypeScript client's redis.subscribe sends
// (@upstash/redis 1.39.0), and it is tested against the emulator, not
// against the hosted service. What the near tier's protocol costs on
// Upstash in billed commands (its heartbeats are PUBLISHes) is stated in
// the aside package's documentation of the near cache.
//
// # Concurrency
//
// All methods of [Provider] are safe for concurrent use. At most
// Options.MaxInFlight requests run at once: a call that finds a slot free
// and nobody waiting sends its request from its own goroutine; the others
// are sent by goroutines the provider starts while calls wait. Close fails
// the waiting calls, ends the requests in flight and waits for those
// goroutines.
//
// # What it does not do
//
// It does not log keys or values, cache values in process, follow
// redirects, use transactions (/multi-exec), or namespace keys: the Cache
// builds every key. It does not speak the Redis protocol (see
// provider/redis).
package upstash
