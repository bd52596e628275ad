package redis_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/provider/redis"
)

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

const secret = "hunter2S3cret"

func TestMalformedURLsFailWithoutShowingThePassword(t *testing.T) {
	cases := []struct {
		name  string
		url   string
		seeds []string
	}{
		{"an empty URL", "", nil},
		{"an http URL", "http://u:" + secret + "@host:6379", nil},
		{"a URL with no scheme", "u:" + secret + "@host:6379", nil},
		{"a URL without //", "redis:u:" + secret + "@host", nil},
		{"a bad percent escape in the password", "redis://u:" + secret + "%zz@host:6379", nil},
		{"a port that is not a number", "redis://u:" + secret + "@host:port/0", nil},
		{"a database that is not a number", "redis://u:" + secret + "@host:6379/nine", nil},
		{"a path of two segments", "redis://u:" + secret + "@host:6379/1/2", nil},
		{"the password repeated as an unknown query option", "redis://u:" + secret + "@host:6379/0?password=" + secret, nil},
		{"the password as a bad query value", "redis://u:" + secret + "@host:6379/0?dial_timeout=" + secret, nil},
		{"a percent-encoded password as a bad query value", "redis://u:" + secret + "%21@host/0?pool_size=" + url.QueryEscape(secret+"!"), nil},
		{"a space in the host", "rediss://u:" + secret + "@ho st:6379", nil},
		{"a newline in the URL", "redis://u:" + secret + "@host\n:6379", nil},
		{"a cluster URL with a database", "redis://:" + secret + "@/3", []string{"127.0.0.1:7000"}},
		{"a cluster URL with a bad option", "redis://:" + secret + "@?read_only=" + secret, []string{"127.0.0.1:7000"}},
		{"a cluster seed that is a URL", "", []string{"127.0.0.1:7000", "redis://:" + secret + "@host:1"}},
		{"a cluster seed without a port", "", []string{"10.0.0.1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := redis.FromURL(tc.url, tc.seeds, redis.Options{})
			if err == nil {
				_ = p.Close()
				t.Fatal("FromURL accepted a malformed URL")
			}
			if !errors.Is(err, redis.ErrInvalidURL) {
				t.Fatalf("FromURL = %v, want ErrInvalidURL", err)
			}
			if containsFold(err.Error(), secret) || containsFold(err.Error(), "hunter2") {
				t.Fatalf("the error shows the password: %v", err)
			}
			for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
				if containsFold(e.Error(), secret) {
					t.Fatalf("a wrapped error shows the password: %v", e)
				}
			}
			if len(err.Error()) <= len(redis.ErrInvalidURL.Error())+10 {
				t.Fatalf("the error does not say what to change: %v", err)
			}
		})
	}
}

func TestValidURLsBuildAProvider(t *testing.T) {
	cases := []struct {
		name  string
		url   string
		seeds []string
	}{
		{"a plain URL", "redis://cache.internal:6380", nil},
		// Port 1 of the loopback refuses: the database check cannot run.
		{"a URL with a password and a database", "redis://:" + secret + "@127.0.0.1:1/3", nil},
		{"a TLS URL with a user and query options", "rediss://app:" + url.QueryEscape("p@ss:w/rd") + "@cache.internal:6380/0?pool_size=20", nil},
		{"a URL with no host", "redis://", nil},
		{"cluster seeds without a URL", "", []string{"10.0.0.1:7000", "10.0.0.2:7000"}},
		{"cluster seeds with credentials in the URL", "rediss://:" + secret + "@", []string{"10.0.0.1:7000"}},
		{"a cluster URL naming database 0", "redis://10.0.0.1:7000/0", []string{"10.0.0.2:7000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := redis.FromURL(tc.url, tc.seeds, redis.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func FuzzURLErrorsNeverShowThePassword(f *testing.F) {
	f.Add("hunter2", "0", "")
	f.Add("p%zz", "1/2", "pool_size=x")
	f.Add("a@b:c", "nine", "password=a@b:c")
	f.Add("%41bc", "", "dial_timeout=Abc")
	f.Fuzz(func(t *testing.T, password, path, query string) {
		// Markers make the password unlikely to occur in a message by chance.
		password = "Zq9" + password + "Zq9"
		raw := "redis://user:" + password + "@127.0.0.1:1/" + path
		if query != "" {
			raw += "?" + query
		}
		p, err := redis.NewFromURL(raw, redis.Options{})
		if err != nil {
			if !errors.Is(err, redis.ErrInvalidURL) {
				t.Fatalf("NewFromURL = %v, want ErrInvalidURL", err)
			}
			decoded, derr := url.PathUnescape(password)
			if strings.Contains(err.Error(), password) || (derr == nil && strings.Contains(err.Error(), decoded)) {
				t.Fatalf("the error shows the password %q: %v", password, err)
			}
			return
		}
		_ = p.Close()
	})
}

// A database the server lacks is a mistake in the URL: reported at
// construction when the server answers, and never a reason to fail when it
// does not (a Redis down at start must not stop the program).
func TestADatabaseTheServerLacksIsRejectedWhenTheServerAnswers(t *testing.T) {
	srv := testServer(t)
	t.Run("a database past the server's 16 is ErrInvalidURL", func(t *testing.T) {
		p, err := redis.FromURL(srv.URL(99), nil, redis.Options{})
		if err == nil {
			_ = p.Close()
			t.Fatal("FromURL accepted database 99 of a server with 16")
		}
		if !errors.Is(err, redis.ErrInvalidURL) || !strings.Contains(err.Error(), "no database 99") {
			t.Fatalf("FromURL = %v, want ErrInvalidURL naming database 99", err)
		}
	})
	t.Run("the last database is accepted", func(t *testing.T) {
		p, err := redis.FromURL(srv.URL(15), nil, redis.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_ = p.Close()
	})
	t.Run("a negative database is ErrInvalidURL without a round trip", func(t *testing.T) {
		for _, u := range []string{"redis://127.0.0.1:1/-1", "redis://127.0.0.1:1?db=-2"} {
			if _, err := redis.NewFromURL(u, redis.Options{}); !errors.Is(err, redis.ErrInvalidURL) {
				t.Fatalf("NewFromURL(%q) = %v, want ErrInvalidURL", u, err)
			}
		}
	})
	t.Run("a stopped server fails nothing, at once", func(t *testing.T) {
		s := ownServer(t)
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		p, err := redis.NewFromURL(s.URL(99), redis.Options{Timeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatalf("NewFromURL with Redis down = %v; the program must start", err)
		}
		_ = p.Close()
		if took := time.Since(start); took > 300*time.Millisecond {
			t.Fatalf("NewFromURL took %v on a refused connection", took)
		}
	})
	t.Run("a wrong password is left to the calls", func(t *testing.T) {
		s := ownServer(t, "--requirepass", "right-Pw1")
		p, err := redis.NewFromURL("redis://:wrong-Pw2@"+s.Addr()+"/99", redis.Options{})
		if err != nil {
			t.Fatalf("NewFromURL with a wrong password = %v; want it left to the calls (a rotation may be under way)", err)
		}
		defer p.Close()
		if err := p.Ping(ctxFor(t)); err == nil {
			t.Fatal("Ping with a wrong password succeeded")
		}
	})
}
