package redis_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/redis"
)

// Databases of the shared Redis at 127.0.0.1:6379 that these tests own and
// flush.
const (
	testDB    = 9  // providers built from a URL
	watchedDB = 10 // a caller's client without ContextTimeoutEnabled
)

// cluster is the 3-master Redis Cluster shared by the tests of this binary;
// clusterErr says why there is none.
var (
	cluster    *redistest.Cluster
	clusterErr error
)

func TestMain(m *testing.M) {
	// Benchmarks and -run filters that need no cluster should not pay for one.
	if needsCluster() {
		cluster, clusterErr = redistest.StartCluster(3)
	} else {
		clusterErr = fmt.Errorf("cluster not started for this -run/-bench selection")
	}
	code := m.Run()
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

// testCluster returns the shared cluster or ends the test as unavailable.
func testCluster(t testing.TB) *redistest.Cluster {
	t.Helper()
	if cluster == nil {
		redistest.Unavailable(t, fmt.Sprintf("no Redis Cluster: %v", clusterErr))
	}
	return cluster
}

// ownDB makes sure the shared Redis answers and flushes database db now and
// when the test ends.
func ownDB(t testing.TB, db int) {
	t.Helper()
	c := redistest.Local(t, db)
	flush := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.FlushDB(ctx).Err(); err != nil {
			t.Errorf("FLUSHDB %d: %v", db, err)
		}
	}
	flush()
	t.Cleanup(flush)
}

func localURL(db int) string {
	return "redis://" + redistest.LocalAddr + "/" + strconv.Itoa(db)
}

// newLocal returns a provider on database testDB of the shared Redis, closed
// when the test ends. Call ownDB(t, testDB) first.
func newLocal(t testing.TB, o redis.Options) *redis.Provider {
	t.Helper()
	p, err := redis.NewFromURL(localURL(testDB), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
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

func ctxFor(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
