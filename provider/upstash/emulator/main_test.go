package emulator_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

const (
	testToken   = "test-standard-token-6f1d"
	testROToken = "test-readonly-token-93ab"
)

// server is the redis-server owned by this test binary, started on first
// use; serverErr says why there is none.
var (
	serverOnce sync.Once
	server     *redistest.Server
	serverErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if server != nil {
		if err := server.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the test redis-server:", err)
			code = 1
		}
	}
	if code == 0 {
		err := goleak.Find()
		for i := 0; err != nil && i < 3; i++ {
			time.Sleep(time.Second) // go-redis's pool re-dial probe
			err = goleak.Find()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// redisAddr returns the address of the test-owned redis-server, or ends the
// test as unavailable.
func redisAddr(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() { server, serverErr = redistest.StartServer() })
	if server == nil {
		redistest.Unavailable(t, fmt.Sprintf("cannot start redis-server: %v", serverErr))
	}
	return server.Addr()
}

// newClient returns a RESP2 go-redis client on database db of the test
// server, closed when the test ends.
func newClient(t testing.TB, db int) *goredis.Client {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{
		Addr: redisAddr(t), DB: db, Protocol: 2, MaxRetries: -1,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// fixture is an emulator over the test server behind an httptest server.
type fixture struct {
	t   testing.TB
	emu *emulator.Emulator
	rdb *goredis.Client
	srv *httptest.Server
}

func newFixture(t testing.TB, opts emulator.Options) *fixture {
	t.Helper()
	return newFixtureDB(t, 0, opts)
}

func newFixtureDB(t testing.TB, db int, opts emulator.Options) *fixture {
	t.Helper()
	if opts.Token == "" {
		opts.Token = testToken
	}
	rdb := newClient(t, db)
	emu, err := emulator.New(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return &fixture{t: t, emu: emu, rdb: rdb, srv: srv}
}

// response is what a request got back.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request with the standard token in the Authorization header
// unless headers say otherwise ("Authorization": "" removes it).
func (f *fixture) do(method, path, body string, headers ...string) response {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// key returns a key owned by the running test.
func key(t testing.TB, name string) string {
	return "emu:" + t.Name() + ":" + name
}
