package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/keys"
)

// The Redis of TestRedisHitsMeasureAndCleanUp is this test binary's own
// (redistest.Shared); WithShared stops it before goleak looks.
func TestMain(m *testing.M) { goleak.VerifyTestMain(redistest.WithShared(m)) }

// TestReport runs the whole -short report on the memory provider and checks
// that it has every section and that its figures are sane.
func TestReport(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "REPORT.md")
	r := &report{cfg: config{short: true, args: []string{"-short"}, out: out, chartsDir: filepath.Join(dir, "charts"),
		workload: workload{keys: 1e6, reads: 1e7, writes: 1e6}}, timing: timingFor(true)}
	require.NoError(t, r.collect(context.Background()))

	// The targets, on held-out npm data only.
	real := func(kind, setup string) realResult {
		t.Helper()
		res, ok := r.real.find(kind, setup)
		require.True(t, ok, "%s/%s measured", kind, setup)
		require.Positive(t, res.enc.N)
		require.Positive(t, res.dec.N)
		return res
	}
	require.LessOrEqual(t, real(kindLarge, setupDefault).ratio(), targetLarge, "npm documents at the default level")
	require.Less(t, real(kindLarge, setupAutoDict).ratio(), real(kindLarge, setupBaseline).ratio(), "the automatic dictionary beats JSON + zstd on documents")
	require.LessOrEqual(t, real(kindSmall, setupAutoDict).ratio(), targetSmall, "npm releases with the automatic dictionary")
	require.Less(t, real(kindSmall, setupAutoDict).ratio(), real(kindSmall, setupDefault).ratio()*0.8, "the dictionary saves a fifth more on small objects")
	for _, res := range r.real.results {
		require.Less(t, res.ratio(), 1.0, "%s/%s stores less than the JSON", res.kind, res.setup)
	}
	require.NotZero(t, r.real.dictID, "the Cache trained its dictionary")
	require.Len(t, r.charts, 3)
	for _, c := range r.charts {
		b, err := os.ReadFile(c.file)
		require.NoError(t, err)
		require.Contains(t, string(b), "<svg", c.file)
		require.Contains(t, string(b), "</svg>", c.file)
	}

	saved := func(kind, setup string) float64 {
		t.Helper()
		m, ok := find(r.sizes, kind, setup)
		require.True(t, ok, "%s/%s measured", kind, setup)
		return m.savings()
	}
	for _, alg := range []string{"zstd", "s2", "gzip", "zstd+dict"} {
		require.Greater(t, saved("API 64 KiB", alg), 50.0, "%s shrinks the 64 KiB JSON response by more than half", alg)
		require.Greater(t, saved("HTML page", alg), 50.0, "%s shrinks the HTML page by more than half", alg)
	}
	for _, m := range r.sizes {
		require.Positive(t, m.enc.N, "%s/%s encode ran", m.kind, m.setup)
		require.Positive(t, m.dec.N, "%s/%s decode ran", m.kind, m.setup)
		raw := m.setup == "none" || m.kind == "random" || (m.kind == "user" && m.setup != "zstd+dict")
		if raw {
			// A raw frame is the serialized bytes plus a 4-byte header, the
			// uvarint length and the 8-byte checksum.
			require.InDelta(t, m.raw+14, m.stored, 2, "%s/%s is stored raw", m.kind, m.setup)
		} else {
			require.Less(t, m.stored, m.raw, "%s/%s is compressed", m.kind, m.setup)
		}
	}

	dict := func(kind, setup string) float64 {
		t.Helper()
		m, ok := find(r.dict, kind, setup)
		require.True(t, ok, "%s/%s measured", kind, setup)
		return m.savings()
	}
	for _, k := range []string{"user", "product"} {
		require.Greater(t, dict(k, "zstd+dict, MinSize 1"), 25.0, "the dictionary shrinks held-out %ss by more than a quarter", k)
		require.Greater(t, dict(k, "zstd+dict, MinSize 1"), dict(k, "zstd, MinSize 1")+15, "the dictionary beats plain zstd on %ss", k)
	}

	mixSaved := map[string]float64{}
	for _, m := range r.mix {
		mixSaved[m.setup] = 100 * (1 - m.stored/m.raw)
	}
	require.Greater(t, mixSaved["zstd"], 50.0, "zstd saves more than half of the typical mix")
	require.InDelta(t, 0, mixSaved["none"], 1, "none saves nothing")

	require.Len(t, r.hits, 1, "memory only without -redis")
	require.Len(t, r.hits[0].rows, 2)
	require.Positive(t, r.hits[0].hitsChecked)

	var buf bytes.Buffer
	require.NoError(t, r.write(&buf))
	md := buf.String()
	for _, want := range []string{
		"# aside bench report", "Made by `go run ./bench -short`",
		hReal, hCompression, hDictionary, hMix, hHits, "### memory (default Options)",
		"](charts/ratio.svg)", "](charts/speed-decode.svg)", "| **" + setupAutoDict + "** |",
		"### Against the targets", "### On Upstash, per month", "### JSON text or msgpack?",
		"| API 64 KiB | zstd |", "| user | zstd, default MinSize 256 |", "| zstd+dict |",
		"| Remember hit, 3 tags |", "Not measured: run with `-redis host:port`",
	} {
		require.Contains(t, md, want)
	}
	for _, bad := range []string{"NaN", "Inf", "%!", "| **no** |"} {
		require.NotContains(t, md, bad)
	}
}

func TestRedisUnreachableIsSkippedWithALine(t *testing.T) {
	tb, err := redisHits(context.Background(), "127.0.0.1:1", 12, User{ID: 1}, timingFor(true))
	require.NoError(t, err)
	require.Contains(t, tb.skipped, "Redis at 127.0.0.1:1 did not answer")
	require.Empty(t, tb.rows)
}

func TestRedisHitsMeasureAndCleanUp(t *testing.T) {
	const db = 12 // the -redis-db default
	srv := redistest.Shared(t)
	rdb := srv.Client(t, db)
	tb, err := redisHits(context.Background(), srv.Addr(), db, User{ID: 42, Name: "Ada"}, timingFor(true))
	require.NoError(t, err)
	require.Empty(t, tb.skipped)
	require.Len(t, tb.rows, 2)
	require.Len(t, tb.raw, 2, "a raw GET reference before and after")
	require.Positive(t, tb.raw[0].serial.N)
	require.Positive(t, tb.raw[1].parallel.N)
	require.Positive(t, tb.hitsChecked)

	kb, err := keys.New(keys.Options{Namespace: redisNamespace})
	require.NoError(t, err)
	left, _, err := rdb.Scan(context.Background(), 0, kb.Prefix()+"*", 1000).Result()
	require.NoError(t, err)
	require.Empty(t, left, "the bench deletes its keys")
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no flags measure memory only, to stdout", nil, ""},
		{"a host:port is accepted", []string{"-redis", "redis.invalid:6379", "-o", "r.md"}, ""},
		{"a URL with credentials is refused", []string{"-redis", "redis://:pw@h:6379"}, "host:port"},
		{"a database outside 0-15 is refused", []string{"-redis-db", "16"}, "0 to 15"},
		{"stray arguments are refused", []string{"extra"}, "unexpected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			cfg, err := parseFlags(tc.args, &stderr)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, strings.TrimSpace("go run ./bench "+strings.Join(tc.args, " ")), cfg.command(), "the report names the command that made it")
		})
	}
}

var benchCorpus = sync.OnceValues(newCorpus)

// BenchmarkCodec is section 1 of the report as Go benchmarks: every payload
// kind under every codec setup, with the compression ratio.
func BenchmarkCodec(b *testing.B) {
	cb, err := benchCorpus()
	if err != nil {
		b.Fatal(err)
	}
	setups, err := cb.setups()
	if err != nil {
		b.Fatal(err)
	}
	benchKinds(b, cb.kinds, setups)
}

// BenchmarkDictionary is section 2: held-out small values with and without
// the trained dictionary.
func BenchmarkDictionary(b *testing.B) {
	cb, err := benchCorpus()
	if err != nil {
		b.Fatal(err)
	}
	setups, err := cb.dictSetups()
	if err != nil {
		b.Fatal(err)
	}
	benchKinds(b, cb.heldOut, setups)
}

func benchKinds(b *testing.B, kinds []kind, setups []setup) {
	for _, k := range kinds {
		for _, s := range setups {
			fs, raw, stored, err := frames(k, s.codec)
			if err != nil {
				b.Fatal(err)
			}
			name := strings.ReplaceAll(k.name+"/"+s.name, " ", "_")
			b.Run(name+"/encode", func(b *testing.B) {
				encodeBench(k, s.codec, raw)(b)
				b.ReportMetric(raw/stored, "ratio")
			})
			b.Run(name+"/decode", func(b *testing.B) {
				decodeBench(k, s.codec, fs, raw)(b)
				b.ReportMetric(raw/stored, "ratio")
			})
		}
	}
}
