package redistest_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/aside-go/aside/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(redistest.WithShared(m)) }

func TestSharedIsOneServerForTheWholeBinary(t *testing.T) {
	s := redistest.Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	key := "redistest:shared:" + t.Name()
	if err := s.Client(t, 3).Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Client(t, 3).Del(context.Background(), key).Err() })
	t.Run("a parallel subtest gets the same server", func(t *testing.T) {
		t.Parallel() // runs after the parent's body, so its ctx is gone
		ctx := t.Context()
		if again := redistest.Shared(t); again != s {
			t.Fatalf("second call returned %s, first %s", again.Addr(), s.Addr())
		}
		got, err := s.Client(t, 3).Get(ctx, key).Result()
		if err != nil || got != "v" {
			t.Fatalf("GET %s on database 3 = %q, %v; want \"v\"", key, got, err)
		}
		if n, err := s.Client(t, 0).Exists(ctx, key).Result(); err != nil || n != 0 {
			t.Fatalf("the key is in database 0 too (EXISTS = %d, %v)", n, err)
		}
	})
	t.Run("a URL names the server and database", func(t *testing.T) {
		if want := "redis://" + s.Addr() + "/3"; s.URL(3) != want {
			t.Fatalf("URL(3) = %q, want %q", s.URL(3), want)
		}
	})
}

func TestSharedServerCannotBeStoppedByATest(t *testing.T) {
	s := redistest.Shared(t)
	for name, stop := range map[string]func() error{"Stop": s.Stop, "Pause": s.Pause, "Close": s.Close} {
		if err := stop(); err == nil {
			t.Errorf("%s of the shared server succeeded", name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Client(t, 0).Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after the refused stops: %v", err)
	}
}

func TestServerStopsAndStartsOnTheSamePort(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	s, err := redistest.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true, DialerRetries: 1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered while the server was stopped")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after restart: %v", err)
	}
}

func TestClusterSpreadsKeysOverEveryMaster(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	cl, err := redistest.StartCluster(3)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs(), ContextTimeoutEnabled: true})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := c.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var n atomic.Int32
	err = c.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		size, err := m.DBSize(ctx).Result()
		if size > 0 {
			n.Add(1) // ForEachMaster calls this concurrently
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Load(); got != 3 {
		t.Fatalf("six keys landed on %d masters, want 3", got)
	}
}
