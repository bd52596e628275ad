package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/redis"
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
	// go-redis logs every failed dial through its process-wide logger, and
	// the outage tests provoke many. A test binary is a program's edge,
	// where setting it is fine (see redis.Logger).
	goredis.SetLogger(redis.NewLogger(nil))
	// Benchmarks and -run filters that need no cluster should not pay for one.
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
		// go-redis's pool re-dial probe sleeps 1 s between attempts before it
		// notices its pool is closed; allow for it.
		err := goleak.Find()
		for i := 0; err != nil && i < 3; i++ {
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
		t.Fatal(err) // the binary is there: failing to start it is a failure
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

// serverURL is the URL of database db of the shared server.
func serverURL(t testing.TB, db int) string {
	t.Helper()
	return testServer(t).URL(db)
}

// newLocal returns a provider built from the URL of database testDB of the
// shared server, closed when the test ends.
func newLocal(t testing.TB, o redis.Options) *redis.Provider {
	t.Helper()
	p, err := redis.NewFromURL(serverURL(t, testDB), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// rawClient is a go-redis client on database db of the shared server, to
// look behind the provider's back; closed when the test ends.
func rawClient(t testing.TB, db int) *goredis.Client {
	t.Helper()
	return testServer(t).Client(t, db)
}

// newClustered returns a provider on the shared cluster, closed when the
// test ends.
func newClustered(t testing.TB, o redis.Options) *redis.Provider {
	t.Helper()
	p, err := redis.NewCluster("", testCluster(t).Addrs(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// clusterClient is a raw client on the shared cluster, to look behind the
// provider's back.
func clusterClient(t testing.TB) *goredis.ClusterClient {
	t.Helper()
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: testCluster(t).Addrs(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
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
