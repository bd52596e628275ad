package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/aside-go/aside/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func noEnv(string) string { return "" }

func TestServesUpstashOverRedis(t *testing.T) {
	srv, err := redistest.StartServer()
	if err != nil {
		redistest.Unavailable(t, err.Error())
	}
	defer srv.Close()

	const token = "cmd-test-token-5e2c"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-redis", srv.Addr(), "-db", "3", "-readonly-token", "ro-" + token},
			func(k string) string {
				if k == "UPSTASH_REDIS_REST_TOKEN" {
					return token
				}
				return ""
			}, &stderr, func(a net.Addr) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("run returned before serving: %v\n%s", err, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not start")
	}

	call := func(method, path, body, tok string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := call("POST", "/", `["SET","cmd:k","v"]`, token); code != 200 || body != `{"result":"OK"}` {
		t.Fatalf("SET: %d %s", code, body)
	}
	if code, body := call("GET", "/get/cmd:k", "", "ro-"+token); code != 200 || body != `{"result":"v"}` {
		t.Fatalf("GET with the read-only token: %d %s", code, body)
	}
	if code, body := call("POST", "/", `["FLUSHDB"]`, token); code != 400 || !strings.Contains(body, "-allow-dangerous") {
		t.Fatalf("FLUSHDB: %d %s", code, body)
	}
	if code, _ := call("GET", "/get/cmd:k", "", "wrong"); code != 401 {
		t.Fatalf("a wrong token: %d", code)
	}

	// -db 3 reached database 3 of the server, and only it.
	for db, want := range map[int]string{3: "v", 0: ""} {
		rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: db})
		got, _ := rdb.Get(context.Background(), "cmd:k").Result()
		_ = rdb.Close()
		if got != want {
			t.Fatalf("database %d holds %q, want %q", db, got, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	out := stderr.String()
	if strings.Contains(out, token) {
		t.Fatalf("the output shows the token:\n%s", out)
	}
	if !strings.Contains(out, "over Redis "+srv.Addr()+" db 3") {
		t.Fatalf("the output does not say which Redis:\n%s", out)
	}
}

func TestRefusesBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"a missing token is refused", []string{"-addr", "127.0.0.1:0"}, "no token"},
		{"a Redis address without a port is refused", []string{"-token", "t", "-redis", "localhost"}, "not host:port"},
		{"a bad URL is refused without showing it", []string{"-token", "t", "-redis", "redis://:hunter2@[::1"}, "not a valid redis:// or rediss:// URL"},
		{"an unknown quota is refused", []string{"-token", "t", "-quota", "monthly"}, "unknown quota"},
		{"a rate over one is refused", []string{"-token", "t", "-drop-rate", "1.5"}, "DropRate"},
		{"arguments are refused", []string{"-token", "t", "extra"}, "unexpected argument"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr syncBuffer
			err := run(context.Background(), c.args, noEnv, &stderr, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("run(%q) = %v, want an error containing %q", c.args, err, c.want)
			}
			if strings.Contains(fmt.Sprint(err)+stderr.String(), "hunter2") {
				t.Fatalf("a password shows: %v %s", err, stderr.String())
			}
		})
	}
}
