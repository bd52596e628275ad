// Package redistest starts real redis-server processes for tests, each on a
// free loopback port with its files in a temporary directory that Close
// removes: [Shared], the one standalone server of a test binary that its
// tests share; [StartServer], a server of a test's own that it may stop,
// pause and restart on the same port; [StartCluster], a Redis Cluster of
// several masters; and [StartSentinel].
//
// It also holds the rule every Redis-backed test follows: when the
// redis-server binary is missing, the test fails if the environment variable
// CI is "true" and is skipped with a message saying how to install it
// otherwise (see [Unavailable]).
//
// Tests never touch data they did not create: nothing here flushes a
// database or touches the user's Redis on 127.0.0.1:6379, and nothing
// touches an address off this machine. On Linux a server dies with
// the test binary that started it, even when that binary panics or is
// killed.
package redistest
