package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/redis"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

// snapshot is every key of a database with its type and value.
func snapshot(t *testing.T, srv *redistest.Server, db int) map[string]string {
	rdb := srv.Client(t, db)
	ctx := context.Background()
	out := map[string]string{}
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, "*", 500).Result()
		require.NoError(t, err)
		for _, k := range keys {
			typ, err := rdb.Type(ctx, k).Result()
			require.NoError(t, err)
			switch typ {
			case "string":
				v, err := rdb.Get(ctx, k).Result()
				require.NoError(t, err)
				out[k] = v
			case "hash":
				v, err := rdb.HGetAll(ctx, k).Result()
				require.NoError(t, err)
				out[k] = fmt.Sprint(v)
			}
		}
		if cursor = next; cursor == 0 {
			return out
		}
	}
}

// commandCalls reads INFO commandstats: calls per command.
func commandCalls(t *testing.T, srv *redistest.Server) map[string]int {
	info, err := srv.Client(t, 0).Info(context.Background(), "commandstats").Result()
	require.NoError(t, err)
	out := map[string]int{}
	for line := range strings.Lines(info) {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// TestSampleRedisReadsAndNeverWrites fills a test-owned Redis as the example
// app would (aside entries of products and user summaries), plus JSON that
// another program wrote and a hash, then runs -sample against it: the
// report has its tables and charts, and the database is left exactly as it
// was, having seen nothing but reads.
func TestSampleRedisReadsAndNeverWrites(t *testing.T) {
	const db = 5
	srv := redistest.Shared(t)
	p, err := redis.NewFromURL(srv.URL(db), redis.Options{})
	require.NoError(t, err)
	testSample(t, srv, db, p, srv.URL(db), "1 keys that held no string", "| JSON | 100 |")
}

// TestSampleUpstashReadsAndNeverWrites is the same through the Upstash
// REST API (package emulator over the test's Redis): the JSON another
// client wrote is not the provider's base64 and reads as missing.
func TestSampleUpstashReadsAndNeverWrites(t *testing.T) {
	const db, token = 6, "sample-test-token"
	srv := redistest.Shared(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: db, Protocol: 2})
	t.Cleanup(func() { _ = rdb.Close() })
	emu, err := emulator.New(rdb, emulator.Options{Token: token})
	require.NoError(t, err)
	hs := httptest.NewServer(emu)
	t.Cleanup(hs.Close)
	p, err := upstash.New(hs.URL, token, upstash.Options{})
	require.NoError(t, err)
	t.Setenv(upstashTokenEnv, token)
	testSample(t, srv, db, p, hs.URL, "101 keys that held no string")
}

func testSample(t *testing.T, srv *redistest.Server, db int, p provider.Provider, url string, wants ...string) {
	ctx := context.Background()
	c, err := aside.New(aside.Options{Provider: p, Namespace: "shop"})
	require.NoError(t, err)
	r := seeded(42)
	for i := range 300 {
		require.NoError(t, aside.Set(ctx, c, fmt.Sprintf("product:%d", i), newProduct(r, int64(i)), aside.Tags("products")))
	}
	for i := range 100 {
		_, err := aside.Remember(ctx, c, fmt.Sprintf("user:%d:summary", i), func(context.Context) (User, error) { return newUser(r, int64(i)), nil })
		require.NoError(t, err)
	}
	require.NoError(t, c.Close())
	rdb := srv.Client(t, db)
	for i := range 100 {
		b, err := json.Marshal(newProductsResponse(r, 2<<10))
		require.NoError(t, err)
		require.NoError(t, rdb.Set(ctx, fmt.Sprintf("legacy:products:%d", i), b, 0).Err())
	}
	require.NoError(t, rdb.HSet(ctx, "legacy:session", "user", "42").Err())

	before, calls := snapshot(t, srv, db), commandCalls(t, srv)
	dir := t.TempDir()
	cfg, err := parseFlags([]string{"-sample", url, "-short", "-dict-out", filepath.Join(dir, "dict.zstd"), "-charts", dir}, &bytes.Buffer{})
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, runSample(ctx, cfg, &out))

	callsAfter := commandCalls(t, srv)
	after := snapshot(t, srv, db)
	require.Equal(t, before, after, "the store is exactly as it was")
	allowed := map[string]bool{"dbsize": true, "scan": true, "mget": true, "info": true, "hello": true, "select": true, "ping": true}
	for cmd, n := range callsAfter {
		if n > calls[cmd] {
			require.True(t, allowed[cmd], "-sample sent %s", cmd)
		}
	}
	require.Greater(t, callsAfter["scan"], calls["scan"], "keys are found with SCAN")
	require.Equal(t, calls["keys"], callsAfter["keys"], "never KEYS")

	md := out.String()
	for _, want := range []string{
		"# aside savings on your data", "DBSIZE, SCAN and MGET only",
		"| zstd 3 (default) |", "| zstd 19 |", "| s2 1 |", "| gzip 9 |", "| zstd 3 + dictionary |", "| as stored now |",
		"| aside entries | 400 |", "## On Upstash, per month", "sample-ratio.svg", "sample-speed.svg",
	} {
		require.Contains(t, md, want)
	}
	for _, want := range wants {
		require.Contains(t, md, want)
	}
	for _, f := range []string{"sample-ratio.svg", "sample-speed.svg", "dict.zstd"} {
		st, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		require.Positive(t, st.Size())
	}
	for _, bad := range []string{"NaN", "Inf", "%!"} {
		require.NotContains(t, md, bad)
	}
}

func TestSampleCapsKeysAndBytes(t *testing.T) {
	dir := t.TempDir()
	r := seeded(7)
	for i := range 300 {
		b, err := json.Marshal(newProduct(r, int64(i)))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.json", i)), b, 0o644))
	}
	for i := range 20 {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("blob%d.bin", i)), newRandomBytes(r, 3000), 0o644))
	}
	set, err := sampleDir(context.Background(), sampleConfig{dir: dir, maxKeys: 50, maxBytes: 1 << 30, scanKeys: 1000}, &bar{})
	require.NoError(t, err)
	require.Len(t, set.values, 50, "at most -sample-keys values")
	require.Equal(t, 320, set.looked)

	set, err = sampleDir(context.Background(), sampleConfig{dir: dir, maxKeys: 1000, maxBytes: 20 << 10, scanKeys: 1000}, &bar{})
	require.NoError(t, err)
	require.LessOrEqual(t, set.readBytes, int64(20<<10), "at most -sample-bytes")

	t.Run("a directory of files gets the whole report", func(t *testing.T) {
		cfg, err := parseFlags([]string{"-dir", dir, "-short", "-charts", t.TempDir()}, &bytes.Buffer{})
		require.NoError(t, err)
		var out bytes.Buffer
		require.NoError(t, runSample(context.Background(), cfg, &out))
		require.Contains(t, out.String(), "| JSON |")
		require.Contains(t, out.String(), "| other bytes | ")
		require.Contains(t, out.String(), "files are only read")
	})

	t.Run("with -o the charts go beside the report and its links find them", func(t *testing.T) {
		outDir := filepath.Join(t.TempDir(), "reports")
		require.NoError(t, os.Mkdir(outDir, 0o755))
		cfg, err := parseFlags([]string{"-dir", dir, "-short", "-o", filepath.Join(outDir, "SAVINGS.md")}, &bytes.Buffer{})
		require.NoError(t, err)
		var out bytes.Buffer
		require.NoError(t, runSample(context.Background(), cfg, &out))
		links := regexp.MustCompile(`!\[[^\]]*\]\(([^)]+)\)`).FindAllStringSubmatch(out.String(), -1)
		require.Len(t, links, 2, "two charts")
		for _, l := range links {
			require.False(t, filepath.IsAbs(l[1]), "a relative link: %s", l[1])
			b, err := os.ReadFile(filepath.Join(outDir, filepath.FromSlash(l[1])))
			require.NoError(t, err, "the chart a link names exists beside the report")
			require.Contains(t, string(b), "<svg")
		}
	})
}

func TestReservoirIsUniform(t *testing.T) {
	hits := make([]int, 100)
	for range 2000 {
		res := newReservoir(10)
		for i := range 100 {
			res.offer(strconv.Itoa(i))
		}
		for _, k := range res.keep {
			n, _ := strconv.Atoi(k)
			hits[n]++
		}
	}
	sort.Ints(hits)
	// Each name is kept 200 times in expectation; the first names offered
	// are not favoured over the last.
	require.Greater(t, hits[0], 120)
	require.Less(t, hits[99], 290)
}

func TestSampleFlags(t *testing.T) {
	t.Setenv(upstashTokenEnv, "")
	for _, tc := range []struct {
		name, wantErr string
		args          []string
	}{
		{"an Upstash REST URL needs the token in the environment", "UPSTASH_REDIS_REST_TOKEN", []string{"-sample", "https://example.upstash.io"}},
		{"two sources are refused", "give one", []string{"-sample", "redis://h:6379/0", "-dir", "."}},
		{"another scheme is refused", "scheme", []string{"-sample", "mysql://h/db"}},
		{"a one-key sample is refused", "sample-keys", []string{"-dir", ".", "-sample-keys", "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, &bytes.Buffer{})
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
	t.Run("a password never reaches the report", func(t *testing.T) {
		cfg, err := parseFlags([]string{"-sample", "redis://app:s3cret@db.invalid:6379/0"}, &bytes.Buffer{})
		require.NoError(t, err)
		require.NotContains(t, cfg.command(), "s3cret")
		require.Contains(t, cfg.command(), "redis://app:xxxxx@db.invalid:6379/0")
	})
}
