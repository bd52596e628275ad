package redistest

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
)

// M is what a TestMain runs: a *testing.M, or a wrapper of one such as
// [WithShared]'s. goleak.VerifyTestMain accepts it.
type M interface{ Run() int }

// errNoWithShared is the mistake of calling [Shared] in a binary whose
// TestMain does not run the tests through [WithShared]: nothing would stop
// the server.
var errNoWithShared = errors.New("redistest: Shared needs the package's TestMain to run the tests " +
	"through redistest.WithShared(m), which stops the server when they end")

// shared is the state behind [Shared] and [WithShared]: one per test binary,
// since the server it holds is.
var shared sharedState

type sharedState struct {
	mu      sync.Mutex
	running bool    // WithShared's Run is running the tests
	started bool    // a start was tried during this run
	srv     *Server // nil until started, or when the start failed
	err     error   // why the start failed; every later caller gets it too
}

// Shared returns the standalone redis-server shared by every test of this
// test binary, started on the first call on a free loopback port and stopped
// by [WithShared] after the last test. It ends the test with [Unavailable]
// when the redis-server binary is missing, and fails it when the server does
// not start.
//
// The package's TestMain must run its tests through [WithShared]:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(redistest.WithShared(m)) }
//
// The server is the test binary's own, but its tests share it: each test
// writes under keys it made unique (or in a database no other test of the
// package uses) and deletes what it wrote rather than flushing. A test that
// needs to stop, pause or reconfigure a server starts its own with
// [StartServer]; [Server.Stop], [Server.Pause] and [Server.Close] refuse
// the shared one.
func Shared(t testing.TB) *Server {
	t.Helper()
	srv, err := shared.server()
	switch {
	case errors.Is(err, errNoBinary):
		Unavailable(t, err.Error())
	case err != nil:
		t.Fatal(err)
	}
	return srv
}

// WithShared wraps the tests of m so that running them also stops the
// server of [Shared] once they are done, if any test started it. Tests
// that do not call Shared start nothing.
func WithShared(m M) M { return withShared{m} }

type withShared struct{ m M }

func (w withShared) Run() int { return shared.run(w.m) }

func (st *sharedState) server() (*Server, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.running {
		return nil, errNoWithShared
	}
	if !st.started {
		st.started = true
		st.srv, st.err = StartServer()
		if st.srv != nil {
			st.srv.shared = true
		}
	}
	return st.srv, st.err
}

func (st *sharedState) run(m M) int {
	st.mu.Lock()
	st.running = true
	st.mu.Unlock()

	code := m.Run()

	st.mu.Lock()
	srv := st.srv
	st.running, st.started, st.srv, st.err = false, false, nil, nil
	st.mu.Unlock()
	if srv != nil {
		if err := srv.close(); err != nil {
			fmt.Fprintln(os.Stderr, "redistest: stopping the shared server:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}
