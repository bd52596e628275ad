// Package redistest starts real redis-server processes for tests: a single
// server that a test can stop and restart on the same port, and a Redis
// Cluster of several masters. Every server listens on a free loopback port and
// keeps its files in a temporary directory that Close removes.
//
// It also holds the rule every Redis-backed test follows: when Redis or the
// redis-server binary is missing, the test fails if the environment variable
// CI is "true" and is skipped with a message otherwise (see [Unavailable]).
//
// It never touches an address off this machine and never uses the shared
// server at 127.0.0.1:6379 except through [Local], which only connects to it.
package redistest
