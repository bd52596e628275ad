package rueidis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	rue "github.com/redis/rueidis"
	"go.uber.org/goleak"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/rueidis"
)

// testDB is the database of the shared server the URL-built providers use:
// not 0, so that the tests see the database number travel from the URL.
const testDB = 9

// cluster is the 3-master Redis Cluster shared by the tests of this binary,
// started by TestMain on free ports; clusterErr says why there is none. The
// shared standalone server is redistest.Shared's. Both are this binary's
// own: nothing else writes to them, so no test flushes anything. Tests that
// stop or freeze a server start their own.
var (
	cluster    *redistest.Cluster
	clusterErr error
)

func TestMain(m *testing.M) {
	if needsCluster() {
		cluster, clusterErr = redistest.StartCluster(3)
	} else {
		clusterErr = fmt.Errorf("cluster not started for this -run/-bench selection")
	}
	code := redistest.WithShared(m).Run()
	if cluster != nil {
		if err := cluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the test cluster:", err)
			code = 1
		}
	}
	if code == 0 {
		// rueidis's Cluster client closes the connections a topology refresh
		// replaced 5 s later, on a goroutine of its own (cluster.go, v1.0.79),
		// and go-redis's pool re-dial probe (the benchmarks' clients) sleeps
		// 1 s before it notices its pool is closed.
		err := goleak.Find()
		for i := 0; err != nil && i < 7; i++ {
			time.Sleep(time.Second)
			err = goleak.Find()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// needsCluster reports whether the selected tests may use the cluster: not
// when only benchmarks run (-run '^$').
func needsCluster() bool {
	for i, a := range os.Args {
		if a == "-test.run=^$" || (a == "-test.run" && i+1 < len(os.Args) && os.Args[i+1] == "^$") {
			return false
		}
	}
	return true
}

// testServer returns the binary's shared standalone server, or ends the
// test as unavailable (a failure when CI=true).
func testServer(t testing.TB) *redistest.Server {
	t.Helper()
	return redistest.Shared(t)
}

// ownServer starts a redis-server for this test alone, for tests that stop,
// freeze or reconfigure it, and closes it when the test ends.
func ownServer(t testing.TB, args ...string) *redistest.Server {
	t.Helper()
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	s, err := redistest.StartServer(args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// testCluster returns the shared cluster or ends the test as unavailable.
func testCluster(t testing.TB) *redistest.Cluster {
	t.Helper()
	if cluster == nil {
		if _, err := redistest.Binary(); err != nil {
			redistest.Unavailable(t, err.Error())
		}
		t.Fatalf("no Redis Cluster: %v", clusterErr)
	}
	return cluster
}

// newLocal returns a provider built from the URL of database testDB of the
// shared server, closed when the test ends.
func newLocal(t testing.TB, o rueidis.Options) *rueidis.Provider {
	t.Helper()
	p, err := rueidis.NewFromURL(testServer(t).URL(testDB), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// newClustered returns a provider on the shared cluster, closed when the
// test ends.
func newClustered(t testing.TB, o rueidis.Options) *rueidis.Provider {
	t.Helper()
	p, err := rueidis.NewCluster("", testCluster(t).Addrs(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// callersClient is a rueidis client with rueidis's defaults on database db
// of the server at addr, as an application would make one.
func callersClient(t testing.TB, addr string, db int) rue.Client {
	t.Helper()
	c, err := rue.NewClient(rue.ClientOption{InitAddress: []string{addr}, SelectDB: db})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newOver returns a provider over c, closed when the test ends.
func newOver(t testing.TB, c rue.Client, o rueidis.Options) *rueidis.Provider {
	t.Helper()
	p, err := rueidis.New(c, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// keyPrefix returns a prefix no other test or run (-count=N) of this binary
// uses, for tests that write fixed key names to a shared server.
func keyPrefix(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "test:" + hex.EncodeToString(b[:]) + ":"
}

func ctxFor(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runtimeProcs is GOMAXPROCS, which RunParallel multiplies by its
// parallelism.
func runtimeProcs() int { return runtime.GOMAXPROCS(0) }
