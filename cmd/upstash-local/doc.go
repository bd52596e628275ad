// Command upstash-local serves the Upstash Redis REST API on a local port,
// over a Redis of your own, so that code written for Upstash runs without an
// account or the internet:
//
//	redis-server --port 6379 &
//	go run ./cmd/upstash-local -redis 127.0.0.1:6379 -token dev -addr 127.0.0.1:8079
//
// then, for the application:
//
//	UPSTASH_REDIS_REST_URL=http://127.0.0.1:8079
//	UPSTASH_REDIS_REST_TOKEN=dev
//
// It is package provider/upstash/emulator behind net/http; that package's
// documentation lists what it serves and refuses. -redis takes host:port or a
// redis:// or rediss:// URL (password and database included); -db picks the
// database, which is also how several emulators share one Redis without
// seeing each other's keys. The token may come from UPSTASH_REDIS_REST_TOKEN
// instead of -token, which keeps it out of the process list; it is never
// printed.
//
// Flags:
//
//	-addr                  listen address (default 127.0.0.1:8079)
//	-redis                 Redis address or URL (default 127.0.0.1:6379)
//	-db                    Redis database number (default: the URL's, else 0)
//	-token                 standard token (default $UPSTASH_REDIS_REST_TOKEN)
//	-readonly-token        read-only token (default none)
//	-allow-dangerous       let FLUSHALL, FLUSHDB, CONFIG, ... through
//	-max-request-bytes     request body limit (default 10 MiB; -1: none)
//	-v                     log Redis failures to stderr
//
// Fault injection, for testing clients (see emulator.Faults); the same
// settings can be changed while it runs with POST /_emulator/faults:
//
//	-latency, -jitter      added delay per request, e.g. 50ms
//	-drop-rate             share of connections closed before the request runs
//	-server-error-rate     share of requests answered 5xx (-server-error-status)
//	-quota-rate, -quota    share answered with a quota error: max_requests,
//	                       daily_requests, request_size, db_capacity
//	-command-limit         billed commands allowed before max requests errors
//	-drop-after-rate       share of connections closed after the commands ran
//	-truncate-rate         share of replies cut in half
//	-seed                  seed of the fault generator (default 0)
//
// Billing counters: GET /_emulator/stats with the standard token.
package main
