package redistest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// runFunc is an M whose tests are a function.
type runFunc func() int

func (f runFunc) Run() int { return f() }

// These tests use a sharedState of their own, not the binary's.

func TestSharedNeedsWithShared(t *testing.T) {
	var st sharedState
	if _, err := st.server(); !errors.Is(err, errNoWithShared) {
		t.Fatalf("server() outside run = %v, want errNoWithShared", err)
	}
}

func TestSharedStartsOnFirstUseAndStopsWhenTheTestsEnd(t *testing.T) {
	if _, err := Binary(); err != nil {
		Unavailable(t, err.Error())
	}
	var st sharedState
	if code := st.run(runFunc(func() int { return 0 })); code != 0 || st.srv != nil {
		t.Fatalf("tests that never asked: code %d, server %v; want 0 and none", code, st.srv)
	}

	var srv *Server
	code := st.run(runFunc(func() int {
		var err error
		if srv, err = st.server(); err != nil {
			t.Error(err)
			return 1
		}
		if again, _ := st.server(); again != srv {
			t.Error("a second call started another server")
		}
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Ping(ctx).Err(); err != nil {
			t.Errorf("PING the shared server: %v", err)
		}
		return 7
	}))
	if code != 7 {
		t.Fatalf("run returned %d, want the tests' 7", code)
	}
	if srv == nil {
		t.FailNow()
	}
	if srv.cmd != nil {
		t.Fatal("the server still runs after the tests")
	}
	if _, err := os.Stat(srv.Dir()); !os.IsNotExist(err) {
		t.Fatalf("the server's directory is still there: %v", err)
	}
	if _, err := st.server(); !errors.Is(err, errNoWithShared) {
		t.Fatalf("server() after run = %v, want errNoWithShared", err)
	}
}
