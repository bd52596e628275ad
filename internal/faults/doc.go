// Package faults holds the fault-injection tests of the whole stack: a real
// redis-server that the test starts, freezes with SIGSTOP and kills with
// SIGKILL while concurrent HTTP clients go through the Echo middleware and
// goroutines call aside.Remember and aside.RememberMany (a page of keys)
// directly. They check the project's first promise: a store that is down or
// hung costs a request (or a whole batch) at most one timeout, then nothing
// while the circuit breaker is open; never a 5xx, a wrong body
// or a stale read; and the cache serves hits again within two seconds of the
// store's return.
//
// The package has no code of its own, only tests; run them with
//
//	go test -race -run Fault -v ./internal/faults/
//
// to see the figures they measure (latency per phase, recovery time,
// breaker activity).
package faults
