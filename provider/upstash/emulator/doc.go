// Package emulator is an http.Handler that speaks the Upstash Redis REST
// protocol over any Redis reached through go-redis, so that applications,
// CI and aside's Upstash provider can be developed and tested without an
// Upstash account or the internet. The official TypeScript client,
// @upstash/redis 1.39.0, runs its commands, pipelines, transactions, scripts
// and auto-pipelining against it unchanged (testdata/node). The command
// cmd/upstash-local serves it on a port.
//
// # Use
//
//	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379", Protocol: 2, MaxRetries: -1, ContextTimeoutEnabled: true})
//	emu, err := emulator.New(rdb, emulator.Options{Token: "dev"})
//	http.ListenAndServe("127.0.0.1:8079", emu)
//
// then point a client at http://127.0.0.1:8079 with the token "dev". The
// go-redis client must speak RESP2 ([ErrProtocol] otherwise): Upstash's
// replies have RESP2's shapes. It should not retry (a command that failed on
// the wire would run twice) and should have ContextTimeoutEnabled (a client
// that hangs up then stops its command). All methods are safe for concurrent
// use.
//
// # Protocol
//
//   - POST / with a JSON array, ["SET","k","v","EX",60]: 200 {"result":...},
//     or 400 {"error":"..."} when the command fails. Arguments are strings,
//     numbers (kept as written) or booleans.
//   - POST /pipeline with an array of commands: run in order, not
//     atomically; 200 and one {"result"} or {"error"} per command.
//   - POST /multi-exec: the same in MULTI/EXEC. A transaction discarded as a
//     whole (a command the emulator refuses, or one Redis will not queue,
//     such as a wrong number of arguments) answers 400 and that command's
//     single {"error"}, and runs nothing.
//   - The path form: GET /get/key, GET /set/key/value/EX/100; a POST to a
//     path appends its body, byte for byte, as the last argument, then the
//     query parameters in order (POST /set/key?EX=100 with the value as
//     body). Segments are percent-decoded.
//   - Authentication: `Authorization: Bearer <token>` or `?_token=<token>`;
//     a missing or wrong token answers 401
//     {"error":"WRONGPASS invalid or missing auth token"}. Tokens are
//     compared in constant time, never logged and never echoed.
//   - Options.ReadOnlyToken runs only the commands of Redis's @read category
//     that are not @dangerous (read from the server's COMMAND table), less
//     SCAN and KEYS, plus PING, ECHO, EVAL_RO, EVALSHA_RO and FCALL_RO;
//     anything else answers `NOPERM this user has no permissions to run the
//     'set' command or its subcommand`.
//   - `Upstash-Encoding: base64`: every string of a result is base64, except
//     a result that is exactly "OK"; integers, nulls and errors are left as
//     they are. Without it, bytes that are not UTF-8 become U+FFFD.
//   - Methods other than HEAD, GET, POST and PUT answer 405. A body over
//     Options.MaxRequestBytes (10 MiB by default) answers 400
//     `ERR max request size exceeded`. Redis unreachable answers 500.
//   - Commands Upstash's REST API does not serve (connection state, MULTI
//     and friends outside /multi-exec, SUBSCRIBE, MONITOR, blocking pops,
//     XREAD BLOCK, CLUSTER, unknown commands) answer 400
//     `ERR Command is not available: 'NAME'`. Dangerous admin commands
//     (FLUSHALL, FLUSHDB, CONFIG, SHUTDOWN, DEBUG, REPLICAOF, MIGRATE, CLIENT,
//     ACL, ...) are refused the same way unless Options.AllowDangerous.
//   - Pub/sub as the official client's redis.subscribe speaks it: POST (or
//     GET) /subscribe/<channel>[/<channel>...] and /psubscribe/<pattern>...
//     answer a stream of Server-Sent Events once Redis has confirmed every
//     channel: "data: subscribe,<channel>,<count>", then "data:
//     message,<channel>,<message>" ("data: pmessage,<pattern>,<channel>,
//     <message>"), for as long as the client stays. The stream ends, and is
//     never resubscribed behind the client's back, when the subscription's
//     Redis connection fails. One billed command per channel subscribed;
//     PUBLISH is an ordinary command.
//
// # Sync tokens
//
// Every response carries an `upstash-sync-token` header, and a request may
// send one back, as the official client does to read its own writes. On
// Upstash the token names a point in the primary's replication stream that a
// read replica must reach before it answers. Behind the emulator there is one
// Redis and no replica: every read already sees every write acknowledged
// before it. So the token the emulator issues is the number of commands it
// has run, and a token it receives is accepted, counted in
// [Stats].SyncTokens, and never waited on.
//
// # Scripts and allow-key-locking
//
// Upstash runs a script under a global lock unless its shebang carries the
// flag allow-key-locking (`#!lua flags=allow-key-locking`), which Redis 7
// rejects. The emulator removes the flag before Redis sees the script (other
// flags stay) and puts a one-line prologue in front of its body that refuses
// a redis.call on a key not passed in KEYS with Upstash's error, `ERR Dynamic
// keys are not allowed in Lua scripts when 'allow-key-locking' flag is set.
// Key was: <key>` (Redis appends its usual " script: <sha>, on
// @user_script:<line>."). Each such redis.call asks Redis which arguments are
// keys first (COMMAND GETKEYS), so it costs one more call inside the script.
// A client computes EVALSHA's SHA1 over the script with the flag; the
// emulator remembers, by that SHA1, each flagged script it has seen through
// EVAL or SCRIPT LOAD, and runs an EVALSHA of it as an EVAL of the rewritten
// script, in pipelines and transactions too. SCRIPT LOAD answers the client's
// SHA1, SCRIPT EXISTS knows the flagged scripts, SCRIPT FLUSH forgets them.
// The table holds at most 1024 scripts and 64 MiB; a script dropped from it
// costs its next EVALSHA one NOSCRIPT, after which the client's EVAL brings
// it back. Scripts without the flag reach Redis untouched.
//
// # SCAN WITHTYPE
//
// Upstash's SCAN takes an option Redis lacks, WITHTYPE (the official
// client's scan(cursor, {withType: true})): the reply's key list holds each
// key followed by its type. The emulator runs such a SCAN, with its other
// options, as one script that scans and asks each key's TYPE: one billed
// command, alone, in a pipeline or in a transaction.
//
// # Billing counters and faults
//
// [Emulator.Stats] (and `GET /_emulator/stats` with the standard token)
// counts what Upstash bills: every command Redis ran, one per command inside
// a pipeline or transaction, and the request and response body bytes. The
// counters of a request are updated before its response is written, so a
// test that has read a response can assert exact figures ("a cache hit costs
// one billed GET"). [Emulator.ResetStats] (or `POST /_emulator/stats/reset`)
// zeroes them.
//
// [Faults] (Options.Faults, [Emulator.SetFaults], `POST /_emulator/faults`)
// inject latency, 5xx replies, Upstash's quota errors, a budget of billed
// commands, and connections closed before a request runs, after it ran, or
// halfway through its reply; a seeded generator makes them reproducible.
//
// # Not done
//
//   - No key prefix or namespace. Several emulators or tests sharing one
//     Redis would need every key rewritten, and a prefix cannot be applied
//     faithfully: SCAN and KEYS would have to filter and strip it, DBSIZE and
//     RANDOMKEY would count and return other namespaces' keys, and Lua
//     scripts build key names the emulator never sees. Isolate with a
//     redis-server per test (internal/redistest does that) or a Redis
//     database per emulator (the go-redis client's DB; cmd/upstash-local
//     -db), which keep every command's semantics exact.
//   - No `Upstash-Response-Format: resp2` (answered 400), no server-sent
//     events for /monitor, no REST tokens for ACL users
//     (ACL RESTTOKEN), no JSON, search or vector commands beyond what the
//     Redis behind it offers.
//   - Scripts without allow-key-locking run as Redis runs them: a script can
//     still call FLUSHALL, which the emulator refuses as a command. FUNCTION
//     LOAD with allow-key-locking in register_function's flags is not
//     rewritten (Redis rejects it).
//   - Over a Redis Cluster, a transaction whose keys span hash slots is run
//     by go-redis as one MULTI/EXEC per node, not atomically.
//   - Commands of a request whose Redis connection failed mid-way are not
//     billed: whether they ran is unknown.
package emulator
