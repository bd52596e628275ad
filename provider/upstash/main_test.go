package upstash_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

const testToken = "test-token-3f9a1c"

func TestMain(m *testing.M) {
	code := redistest.WithShared(m).Run()
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

// fixture is the Upstash emulator over the test binary's redis-server,
// served on a loopback port.
type fixture struct {
	emu *emulator.Emulator
	rdb *goredis.Client // behind the emulator's back
	srv *httptest.Server
	url string
}

// newFixture starts an emulator with its own counters; its Redis is shared
// by the tests of this binary, each writing keys of its own.
func newFixture(t testing.TB, opts emulator.Options) *fixture {
	t.Helper()
	srv := redistest.Shared(t)
	rdb := goredis.NewClient(&goredis.Options{
		Addr: srv.Addr(), Protocol: 2, MaxRetries: -1, ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	if opts.Token == "" {
		opts.Token = testToken
	}
	emu, err := emulator.New(rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	return &fixture{emu: emu, rdb: rdb, srv: hs, url: hs.URL}
}

// provider returns a provider on the fixture, closed when the test ends.
func (f *fixture) provider(t testing.TB, o upstash.Options) *upstash.Provider {
	t.Helper()
	p, err := upstash.New(f.url, testToken, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// prefix returns a random key prefix for one test.
func prefix(t testing.TB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "upstash-test:" + hex.EncodeToString(b[:]) + ":"
}

func ctxFor(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
