package redis_test

import (
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/redis"
)

func TestTTLsReachRedisInMillisecondsRoundedUp(t *testing.T) {
	p := newLocal(t, redis.Options{})
	raw := rawClient(t, testDB)
	ctx := ctxFor(t)
	prefix := keyPrefix(t)
	pttl := func(key string) time.Duration {
		t.Helper()
		d, err := raw.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// Each case writes with ttl and checks Redis holds a PTTL in (ttl-slack, ceil(ttl)].
	const slack = 500 * time.Millisecond
	cases := []struct {
		name  string
		ttl   time.Duration
		write func(key string, ttl time.Duration) error
	}{
		{"Set sends a sub-millisecond remainder rounded up", 1500*time.Millisecond + time.Nanosecond, func(k string, ttl time.Duration) error {
			return p.Set(ctx, k, []byte("v"), ttl)
		}},
		{"Set sends whole seconds exactly", 3 * time.Second, func(k string, ttl time.Duration) error {
			return p.Set(ctx, k, []byte("v"), ttl)
		}},
		{"Add sends milliseconds", 2700*time.Millisecond + time.Microsecond, func(k string, ttl time.Duration) error {
			_, added, err := p.Add(ctx, k, []byte("v"), ttl)
			if !added {
				return errors.New("not added")
			}
			return err
		}},
		{"CompareAndSwap sends milliseconds", 1234*time.Millisecond + 1, func(k string, ttl time.Duration) error {
			if err := p.Set(ctx, k, []byte("old"), time.Hour); err != nil {
				return err
			}
			ok, err := p.CompareAndSwap(ctx, k, []byte("old"), []byte("new"), ttl)
			if !ok {
				return errors.New("not swapped")
			}
			return err
		}},
		{"SetMulti sends milliseconds", 1999*time.Millisecond + 999*time.Microsecond, func(k string, ttl time.Duration) error {
			return p.SetMulti(ctx, []provider.Item{{Key: k, Value: []byte("v"), TTL: ttl}, {Key: k + ":2", Value: []byte("v")}})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := prefix + "ttl:" + tc.name
			if err := tc.write(k, tc.ttl); err != nil {
				t.Fatal(err)
			}
			ceil := tc.ttl.Truncate(time.Millisecond)
			if ceil < tc.ttl {
				ceil += time.Millisecond
			}
			if got := pttl(k); got > ceil || got <= tc.ttl-slack {
				t.Fatalf("PTTL = %v after writing with TTL %v; want in (%v, %v]", got, tc.ttl, tc.ttl-slack, ceil)
			}
		})
	}

	t.Run("a one-nanosecond TTL becomes one millisecond, not zero (no expiry)", func(t *testing.T) {
		if err := p.Set(ctx, prefix+"ttl:ns", []byte("v"), time.Nanosecond); err != nil {
			t.Fatal(err)
		}
		if got := pttl(prefix + "ttl:ns"); got > time.Millisecond || got == -1 {
			t.Fatalf("PTTL = %v, want at most 1ms or already expired (-2)", got)
		}
	})
	t.Run("CompareAndSwap with TTL 0 removes the expiry", func(t *testing.T) {
		k := prefix + "ttl:cas0"
		if err := p.Set(ctx, k, []byte("old"), time.Hour); err != nil {
			t.Fatal(err)
		}
		if ok, err := p.CompareAndSwap(ctx, k, []byte("old"), []byte("new"), 0); err != nil || !ok {
			t.Fatalf("CompareAndSwap = %v, %v", ok, err)
		}
		if got := pttl(k); got != -1 {
			t.Fatalf("PTTL = %v, want -1 (no expiry)", got)
		}
	})
}

func TestDatabaseNumberComesFromTheURL(t *testing.T) {
	p, err := redis.FromURL(serverURL(t, testDB), nil, redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := ctxFor(t)
	k := keyPrefix(t) + "db:probe"
	if err := p.Set(ctx, k, []byte("here"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if n, err := rawClient(t, 0).Exists(ctx, k).Result(); err != nil || n != 0 {
		t.Fatalf("database 0 has the key (%d, %v); want it only in database %d", n, err, testDB)
	}
	got, err := rawClient(t, testDB).Get(ctx, k).Result()
	if err != nil || got != "here" {
		t.Fatalf("database %d holds %q, %v; want the provider's write", testDB, got, err)
	}
}

func TestPasswordFromTheURLAuthenticatesAndNeverShowsInErrors(t *testing.T) {
	const password = "pw-Zx81-secret"
	s := ownServer(t, "--requirepass", password)
	ctx := ctxFor(t)

	good, err := redis.NewFromURL("redis://:"+password+"@"+s.Addr()+"/2", redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatalf("with the right password: %v", err)
	}

	const wrong = "wrong-Qy73-secret"
	bad, err := redis.NewFromURL("redis://default:"+wrong+"@"+s.Addr()+"/2", redis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Ping(ctx)
	if err == nil {
		t.Fatal("Ping with a wrong password succeeded")
	}
	for _, secret := range []string{password, wrong} {
		if containsFold(err.Error(), secret) {
			t.Fatalf("the error shows a password: %v", err)
		}
	}
}

func TestOptionsOutOfRangeAreRejected(t *testing.T) {
	// Nothing is sent: the address only has to parse.
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	cases := []struct {
		name string
		o    redis.Options
	}{
		{"a negative Timeout", redis.Options{Timeout: -1}},
		{"a negative ScanTimeout", redis.Options{ScanTimeout: -time.Second}},
		{"a negative ScanCount", redis.Options{ScanCount: -1}},
		{"a negative MaxValueSize", redis.Options{MaxValueSize: -1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := redis.New(c, tc.o); !errors.Is(err, redis.ErrInvalidOptions) {
				t.Fatalf("New = %v, want ErrInvalidOptions", err)
			}
			if _, err := redis.NewFromURL("redis://127.0.0.1:1/0", tc.o); !errors.Is(err, redis.ErrInvalidOptions) {
				t.Fatalf("NewFromURL = %v, want ErrInvalidOptions", err)
			}
		})
	}
	t.Run("a nil client", func(t *testing.T) {
		if _, err := redis.New(nil, redis.Options{}); !errors.Is(err, redis.ErrNilClient) {
			t.Fatalf("New(nil) = %v, want ErrNilClient", err)
		}
	})
}

func TestCloseLeavesTheCallersClientOpenUnlessAsked(t *testing.T) {
	ctx := ctxFor(t)
	addr := testServer(t).Addr()
	cases := []struct {
		name       string
		closeIt    bool
		wantClosed bool
	}{
		{"by default the caller's client stays open", false, false},
		{"with CloseClient the client is closed", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := goredis.NewClient(&goredis.Options{Addr: addr, DB: testDB, ContextTimeoutEnabled: true})
			defer c.Close()
			p, err := redis.New(c, redis.Options{CloseClient: tc.closeIt})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil {
				t.Fatalf("a second Close: %v", err)
			}
			if err := p.Ping(ctx); !errors.Is(err, provider.ErrClosed) {
				t.Fatalf("Ping after Close = %v, want ErrClosed", err)
			}
			err = c.Ping(ctx).Err()
			if closed := errors.Is(err, goredis.ErrClosed); closed != tc.wantClosed {
				t.Fatalf("client Ping after provider Close = %v; want closed=%v", err, tc.wantClosed)
			}
		})
	}
	t.Run("a client closed underneath reports ErrClosed", func(t *testing.T) {
		c := goredis.NewClient(&goredis.Options{Addr: addr, DB: testDB, ContextTimeoutEnabled: true})
		p, err := redis.New(c, redis.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		if _, err := p.Get(ctx, "k"); !errors.Is(err, provider.ErrClosed) {
			t.Fatalf("Get = %v, want ErrClosed", err)
		}
	})
}
