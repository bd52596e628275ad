package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/codec"
	"github.com/aside-go/aside/provider/upstash"
)

// sampleConfig is what -sample and -dir read.
type sampleConfig struct {
	url, dir    string
	match       string
	maxKeys     int   // values sampled at most
	maxBytes    int64 // bytes of values read at most
	scanKeys    int   // key names or paths looked at, to draw the sample from
	keysHeldSet bool  // -keys-held was given
}

func (s sampleConfig) check() error {
	if s.url == "" {
		return nil
	}
	u, err := url.Parse(s.url)
	if err != nil {
		return errors.New("-sample: not a URL") // the parse error would quote it, credentials and all
	}
	switch u.Scheme {
	case "redis", "rediss":
		return nil
	case "https", "http":
		if os.Getenv(upstashTokenEnv) == "" {
			return fmt.Errorf("-sample: an Upstash REST URL needs the token in %s", upstashTokenEnv)
		}
		return nil
	}
	return fmt.Errorf("-sample: scheme %q: use redis://, rediss:// or -dir", u.Scheme)
}

// redactURL removes a password from a URL-looking argument, so that the
// report never prints one.
func redactURL(a string) string {
	u, err := url.Parse(a)
	if err != nil || u.User == nil {
		return a
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// sampledValue is one value read from the user's store.
type sampledValue struct {
	stored  []byte // as the store holds it
	payload []byte // what aside's codec compresses: msgpack of the value
	kind    string
}

// Kinds of sampled values.
const (
	kindAside = "aside entries"
	kindJSON  = "JSON"
	kindBytes = "other bytes"
)

// sampleSet is what a source gave.
type sampleSet struct {
	source          string // redacted
	looked          int    // key names or files looked at
	total           int64  // keys in the store, -1 when unknown
	values          []sampledValue
	readBytes       int64
	notStrings      int // keys that held no string (hash, list, ...) or expired meanwhile
	asideOwn        int // aside's leases, tag records and dictionary records
	asideDictionary int // aside entries compressed with a dictionary the bench does not hold
	tooLarge        int // values over codec.DefaultMaxSize
}

// runSample measures a sample of the user's values and writes the report.
func runSample(ctx context.Context, cfg config, w io.Writer) error {
	testing.Init()
	start := time.Now()
	bar := newBar(cfg.progress)
	var set *sampleSet
	var err error
	switch {
	case cfg.sample.dir != "":
		set, err = sampleDir(ctx, cfg.sample, bar)
	case strings.HasPrefix(cfg.sample.url, "http"):
		set, err = sampleUpstash(ctx, cfg.sample, bar)
	default:
		set, err = sampleRedis(ctx, cfg.sample, bar)
	}
	bar.done()
	if err != nil {
		return err
	}
	if len(set.values) < 2 {
		return fmt.Errorf("%s: %d values to measure: nothing to report", set.source, len(set.values))
	}
	if cfg.progress != nil {
		fmt.Fprintf(cfg.progress, "bench: measuring %d values (%s) under every algorithm and level\n", len(set.values), bytesOf(int(set.readBytes)))
	}
	m, err := measureSample(set, timingFor(cfg.short))
	if err != nil {
		return err
	}
	if cfg.dictOut != "" && m.dictionary != nil {
		if err := os.WriteFile(cfg.dictOut, m.dictionary, 0o644); err != nil {
			return err
		}
	}
	charts, err := m.writeCharts(cfg.chartsDir)
	if err != nil {
		return err
	}
	wl := cfg.workload
	if !cfg.sample.keysHeldSet && set.total > 0 {
		wl.keys = float64(set.total)
	}
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }
	m.write(p, cfg, start, wl, charts)
	return bw.Flush()
}

// bar is a progress bar on a terminal, and nothing elsewhere.
type bar struct{ pb *progressbar.ProgressBar }

func newBar(w io.Writer) *bar {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &bar{}
	}
	return &bar{pb: progressbar.NewOptions64(-1, progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription("scanning"), progressbar.OptionShowCount(),
		progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))}
}

func (b *bar) phase(desc string, total int64) {
	if b.pb == nil {
		return
	}
	b.pb.Reset()
	b.pb.ChangeMax64(total)
	b.pb.Describe(desc)
}

func (b *bar) add(n int) {
	if b.pb != nil {
		_ = b.pb.Add(n)
	}
}

func (b *bar) done() {
	if b.pb != nil {
		_ = b.pb.Finish()
	}
}

// reservoir keeps a uniform random sample of up to n of the names offered
// (Algorithm R), so that the sample does not favour what SCAN or the
// directory walk returns first.
type reservoir struct {
	n    int
	seen int
	keep []string
	r    *rand.Rand
}

func (s *reservoir) offer(name string) {
	s.seen++
	if len(s.keep) < s.n {
		s.keep = append(s.keep, name)
		return
	}
	if j := s.r.IntN(s.seen); j < s.n {
		s.keep[j] = name
	}
}

func newReservoir(n int) *reservoir {
	return &reservoir{n: n, r: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

// sampleRedis draws the sample from a Redis database with read-only
// commands only: DBSIZE, SCAN (never KEYS) and MGET.
func sampleRedis(ctx context.Context, sc sampleConfig, b *bar) (*sampleSet, error) {
	opt, err := goredis.ParseURL(sc.url)
	if err != nil {
		return nil, errors.New("-sample: not a Redis URL (redis://[user:password@]host:port/db)")
	}
	opt.DisableIdentity = true // no CLIENT SETINFO: nothing but the reads below
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	set := &sampleSet{source: redactURL(sc.url), total: -1}
	if n, err := rdb.DBSize(ctx).Result(); err == nil {
		set.total = n
	} else {
		return nil, fmt.Errorf("%s: %w", set.source, err)
	}
	res := newReservoir(sc.maxKeys)
	b.phase("scanning key names", min(set.total, int64(sc.scanKeys)))
	var cursor uint64
	for res.seen < sc.scanKeys {
		keys, next, err := rdb.Scan(ctx, cursor, sc.match, 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("%s: SCAN: %w", set.source, err)
		}
		for _, k := range keys {
			if res.seen >= sc.scanKeys {
				break
			}
			res.offer(k)
		}
		b.add(len(keys))
		if cursor = next; cursor == 0 {
			break
		}
	}
	set.looked = res.seen
	b.phase("reading values", int64(len(res.keep)))
	for i := 0; i < len(res.keep) && set.readBytes < sc.maxBytes; i += 100 {
		batch := res.keep[i:min(i+100, len(res.keep))]
		vals, err := rdb.MGet(ctx, batch...).Result()
		if err != nil {
			return nil, fmt.Errorf("%s: MGET: %w", set.source, err)
		}
		for j, v := range vals {
			s, ok := v.(string)
			if !ok {
				set.notStrings++ // MGET answers nil for a key of another type, or gone
				continue
			}
			set.add(batch[j], []byte(s), sc.maxBytes)
		}
		b.add(len(batch))
	}
	return set, nil
}

// upstashTokenEnv holds the REST token for an Upstash -sample URL: never a
// flag, so that it stays out of shell history and the report.
const upstashTokenEnv = "UPSTASH_REDIS_REST_TOKEN"

// sampleUpstash draws the sample from an Upstash database through
// provider/upstash, with read-only commands only: DBSIZE, SCAN and MGET.
// Values another client wrote as text that is not the provider's base64
// read as missing (counted with the keys that held no string).
func sampleUpstash(ctx context.Context, sc sampleConfig, b *bar) (*sampleSet, error) {
	p, err := upstash.New(sc.url, os.Getenv(upstashTokenEnv), upstash.Options{ScanCount: 1000})
	if err != nil {
		return nil, fmt.Errorf("-sample: %w", err)
	}
	defer p.Close()
	set := &sampleSet{source: redactURL(sc.url), total: -1}
	if set.total, err = p.Len(ctx); err != nil {
		return nil, fmt.Errorf("%s: %w", set.source, err)
	}
	res := newReservoir(sc.maxKeys)
	b.phase("scanning key names", min(set.total, int64(sc.scanKeys)))
	for cursor := "0"; res.seen < sc.scanKeys; {
		keys, next, err := p.Scan(ctx, cursor, sc.match)
		if err != nil {
			return nil, fmt.Errorf("%s: SCAN: %w", set.source, err)
		}
		for _, k := range keys {
			if res.seen >= sc.scanKeys {
				break
			}
			res.offer(k)
		}
		b.add(len(keys))
		if cursor = next; cursor == "0" {
			break
		}
	}
	set.looked = res.seen
	b.phase("reading values", int64(len(res.keep)))
	for i := 0; i < len(res.keep) && set.readBytes < sc.maxBytes; i += 100 {
		batch := res.keep[i:min(i+100, len(res.keep))]
		vals, err := p.GetMulti(ctx, batch)
		if err != nil {
			return nil, fmt.Errorf("%s: MGET: %w", set.source, err)
		}
		for j, v := range vals {
			if v == nil {
				set.notStrings++
				continue
			}
			set.add(batch[j], v, sc.maxBytes)
		}
		b.add(len(batch))
	}
	return set, nil
}

// sampleDir draws the sample from the regular files under a directory.
func sampleDir(ctx context.Context, sc sampleConfig, b *bar) (*sampleSet, error) {
	set := &sampleSet{source: sc.dir, total: -1}
	res := newReservoir(sc.maxKeys)
	b.phase("listing files", -1)
	err := filepath.WalkDir(sc.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if res.seen >= sc.scanKeys {
			return fs.SkipAll
		}
		if d.Type().IsRegular() {
			res.offer(path)
			b.add(1)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("-dir: %w", err)
	}
	set.looked, set.total = res.seen, int64(res.seen)
	b.phase("reading files", int64(len(res.keep)))
	for _, path := range res.keep {
		if set.readBytes >= sc.maxBytes {
			break
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("-dir: %w", err)
		}
		if fi.Size() > codec.DefaultMaxSize {
			set.tooLarge++
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("-dir: %w", err)
		}
		set.add(path, data, sc.maxBytes)
		b.add(1)
	}
	return set, nil
}

var sampleCodec = codec.Must(codec.Options{Compression: codec.None})

// add classifies one value and keeps what aside's codec would compress:
// for an aside entry its serialized payload, for JSON the msgpack of the
// decoded value (what aside stores for the same value held in Go), for
// anything else the msgpack of the bytes.
func (s *sampleSet) add(name string, stored []byte, limit int64) {
	if len(stored) > codec.DefaultMaxSize {
		s.tooLarge++
		return
	}
	v := sampledValue{stored: stored}
	if frame, ok := aside.EntryFrame(stored); ok {
		payload, err := sampleCodec.AppendPayload(nil, frame)
		if err != nil {
			if errors.Is(err, codec.ErrUnknownDictionary) {
				s.asideDictionary++
			} else {
				s.asideOwn++
			}
			return
		}
		// Compare codec frame with codec frame: the envelope around it
		// (freshness, tag stamps) is the same whichever codec wrote it.
		v.stored, v.payload, v.kind = frame, payload, kindAside
	} else if strings.HasPrefix(name, "aside:") {
		s.asideOwn++
		return
	} else if json.Valid(stored) {
		var x any
		if err := json.Unmarshal(stored, &x); err != nil {
			return
		}
		b, err := codec.Msgpack().Marshal(x)
		if err != nil {
			return
		}
		v.payload, v.kind = b, kindJSON
	} else {
		b, err := codec.Msgpack().Marshal(stored)
		if err != nil {
			return
		}
		v.payload, v.kind = b, kindBytes
	}
	if s.readBytes+int64(len(stored)) > limit && len(s.values) > 0 {
		return
	}
	s.readBytes += int64(len(stored))
	s.values = append(s.values, v)
}

// sampleSetup is one algorithm and level.
type sampleSetup struct {
	name  string
	codec *codec.Codec
}

// sampleResult is one setup over the held-out half.
type sampleResult struct {
	setup       string
	asNow       bool // the row of the bytes as stored now
	stored      int
	medianRatio float64
	enc, dec    testing.BenchmarkResult
}

// sampleMeasure is the measured sample.
type sampleMeasure struct {
	set            *sampleSet
	train, held    []sampledValue
	current        int // bytes of the held-out values as stored now
	payload        int // their serialized (msgpack) bytes
	results        []sampleResult
	dictionary     []byte
	dictID         uint32
	dictErr        error
	kinds          map[string][2]int // kind -> count, bytes as stored
	meanCurrent    float64
	meanDefault    float64
	meanDictionary float64
}

// measureSample trains a dictionary on half of the sample and measures
// every setup on the other half.
func measureSample(set *sampleSet, t timing) (*sampleMeasure, error) {
	m := &sampleMeasure{set: set, kinds: map[string][2]int{}}
	for i, v := range set.values {
		k := m.kinds[v.kind]
		m.kinds[v.kind] = [2]int{k[0] + 1, k[1] + len(v.stored)}
		if i%2 == 0 {
			m.train = append(m.train, v)
		} else {
			m.held = append(m.held, v)
		}
	}
	var samples [][]byte
	for _, v := range m.train {
		samples = append(samples, v.payload)
	}
	m.dictionary, m.dictErr = codec.Train(samples, codec.TrainOptions{})
	if m.dictErr == nil {
		m.dictID, _ = codec.DictionaryID(m.dictionary)
	}
	setups, err := sampleSetups(m.dictionary)
	if err != nil {
		return nil, err
	}
	payloads := make([][]byte, len(m.held))
	for i, v := range m.held {
		payloads[i] = v.payload
		m.current += len(v.stored)
		m.payload += len(v.payload)
	}
	mean := float64(m.payload) / float64(len(payloads))
	m.results = append(m.results, sampleResult{setup: "as stored now", asNow: true, stored: m.current, medianRatio: 1})
	for _, s := range setups {
		frames := make([][]byte, len(payloads))
		r := sampleResult{setup: s.name}
		var ratios []float64
		for i, pl := range payloads {
			f, err := s.codec.AppendFrame(nil, pl)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			back, err := s.codec.AppendPayload(nil, f)
			if err != nil || string(back) != string(pl) {
				return nil, fmt.Errorf("%s: a value did not round-trip: %v", s.name, err)
			}
			frames[i] = f
			r.stored += len(f)
			ratios = append(ratios, float64(len(f))/float64(len(m.held[i].stored)))
		}
		slices.Sort(ratios)
		r.medianRatio = ratios[len(ratios)/2]
		var buf []byte
		r.enc = t.run(t.codec, func(b *testing.B) {
			b.SetBytes(int64(mean))
			i := 0
			for b.Loop() {
				buf, _ = s.codec.AppendFrame(buf[:0], payloads[i%len(payloads)])
				i++
			}
		})
		r.dec = t.run(t.codec, func(b *testing.B) {
			b.SetBytes(int64(mean))
			i := 0
			for b.Loop() {
				buf, _ = s.codec.AppendPayload(buf[:0], frames[i%len(frames)])
				i++
			}
		})
		m.results = append(m.results, r)
	}
	n := float64(len(m.held))
	m.meanCurrent = float64(m.current) / n
	for _, r := range m.results {
		switch r.setup {
		case "zstd 3 (default)":
			m.meanDefault = float64(r.stored) / n
		case "zstd 3 + dictionary":
			m.meanDictionary = float64(r.stored) / n
		}
	}
	return m, nil
}

func sampleSetups(dict []byte) ([]sampleSetup, error) {
	var out []sampleSetup
	for _, s := range []struct {
		name string
		o    codec.Options
	}{
		{"zstd 1", codec.Options{Level: 1}},
		{"zstd 3 (default)", codec.Options{}},
		{"zstd 7", codec.Options{Level: 7}},
		{"zstd 19", codec.Options{Level: 19}},
		{"s2 1", codec.Options{Compression: codec.S2, Level: 1}},
		{"s2 3", codec.Options{Compression: codec.S2, Level: 3}},
		{"gzip 1", codec.Options{Compression: codec.Gzip, Level: 1}},
		{"gzip 5", codec.Options{Compression: codec.Gzip}},
		{"gzip 9", codec.Options{Compression: codec.Gzip, Level: 9}},
		{"none", codec.Options{Compression: codec.None}},
	} {
		c, err := codec.New(s.o)
		if err != nil {
			return nil, err
		}
		out = append(out, sampleSetup{s.name, c})
	}
	if dict != nil {
		c, err := codec.New(codec.Options{Dictionary: dict, MinSize: 64})
		if err != nil {
			return nil, err
		}
		out = append(out, sampleSetup{"zstd 3 + dictionary", c})
	}
	return out, nil
}

func (m *sampleMeasure) writeCharts(dir string) ([]chart, error) {
	if dir == "" {
		return nil, nil
	}
	var series []string
	g := barGroup{name: "held-out half of the sample"}
	var pts []point
	for _, r := range m.results {
		series = append(series, r.setup)
		g.values = append(g.values, float64(r.stored)/float64(m.current))
		if !r.asNow && r.setup != "none" {
			pts = append(pts, point{label: r.setup, x: mbpsOf(r.dec, float64(m.payload)/float64(len(m.held))), y: float64(r.stored) / float64(m.current)})
		}
	}
	ratio := chart{file: filepath.Join(dir, "sample-ratio.svg"), alt: "what aside would store ÷ what is stored now, per algorithm and level"}
	if err := barChart(ratio.file, "Stored by aside ÷ stored now (lower is better)", "ratio", series, []barGroup{g}); err != nil {
		return nil, err
	}
	speed := chart{file: filepath.Join(dir, "sample-speed.svg"), alt: "decompression speed against ratio, per algorithm and level"}
	if err := scatterChart(speed.file, "Decompression speed vs stored size", "decode MB/s of serialized bytes", "stored ÷ stored now", pts); err != nil {
		return nil, err
	}
	return []chart{ratio, speed}, nil
}

func (m *sampleMeasure) write(p printer, cfg config, start time.Time, wl workload, charts []chart) {
	set := m.set
	p("# aside savings on your data\n\n")
	p("Made by `%s` on %s, in %s (%s/%s, %d CPUs, %s).\n\n", cfg.command(), start.UTC().Format("2006-01-02 15:04 MST"),
		time.Since(start).Round(time.Second), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	total := "unknown"
	if set.total >= 0 {
		total = count(float64(set.total))
	}
	p("Source: `%s`, read-only (%s). It holds %s keys; %s names were looked at and %d values (%s) drawn from\n",
		set.source, sourceCommands(cfg), total, count(float64(set.looked)), len(set.values), bytesOf(int(set.readBytes)))
	p("them at random. Skipped: %d keys that held no string or expired meanwhile, %d of aside's own records (leases, tag\n", set.notStrings, set.asideOwn)
	p("and dictionary records), %d aside entries compressed with a dictionary this tool does not hold, %d values over\n", set.asideDictionary, set.tooLarge)
	p("64 MiB.\n\n")
	p("| kind | values | bytes as stored | what aside compresses |\n| --- | ---: | ---: | --- |\n")
	for _, k := range []string{kindAside, kindJSON, kindBytes} {
		if c, ok := m.kinds[k]; ok {
			what := map[string]string{
				kindAside: "the entry's serialized payload (msgpack); *as stored* is the entry's codec frame, without the envelope (freshness, tag stamps) that any codec gets",
				kindJSON:  "the msgpack of the decoded JSON: what aside stores for the same value held in Go",
				kindBytes: "the bytes as they are, in a msgpack bin",
			}[k]
			p("| %s | %d | %s | %s |\n", k, c[0], bytesOf(c[1]), what)
		}
	}
	p("\n")
	p("The sample was split in two at random: the dictionary row uses a zstd dictionary trained (`codec.Train`) on the\n")
	p("first half, and every row is measured on the second half only (%d values, %s as stored now, %s serialized).\n",
		len(m.held), bytesOf(m.current), bytesOf(m.payload))
	p("*Stored* is aside's whole codec frame (header, length, checksum); *ratio* divides it by the bytes as stored now.\n")
	p("Speeds are of serialized bytes, and decode is decompression only (building your Go values adds the same time\n")
	p("for every row).\n\n")
	p("| algorithm and level | stored | ratio | saved | median ratio | encode MB/s | decode MB/s |\n")
	p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	mean := float64(m.payload) / float64(len(m.held))
	for _, r := range m.results {
		ratio := float64(r.stored) / float64(m.current)
		if r.asNow {
			p("| %s | %s | 1.000 | - | 1.000 | - | - |\n", r.setup, bytesOf(r.stored))
			continue
		}
		p("| %s | %s | %.3f | %s | %.3f | %.0f | %.0f |\n", r.setup, bytesOf(r.stored), ratio, pct(100*(1-ratio)), r.medianRatio,
			mbpsOf(r.enc, mean), mbpsOf(r.dec, mean))
	}
	p("\n")
	switch {
	case m.dictErr != nil:
		p("No dictionary could be trained on this sample: %v.\n\n", m.dictErr)
	case cfg.dictOut != "":
		p("The dictionary (ID %d, %s) was written to `%s`: give it to `codec.Options{Dictionary: ...}`, or let\n", m.dictID, bytesOf(len(m.dictionary)), cfg.dictOut)
		p("`aside.Options{AutoDictionary: &aside.AutoDictionary{}}` train and share one by itself.\n\n")
	default:
		p("The dictionary (ID %d, %s) is not kept: `-dict-out file` writes it. `aside.AutoDictionary` trains and shares\n", m.dictID, bytesOf(len(m.dictionary)))
		p("one by itself.\n\n")
	}
	for _, c := range charts {
		p("![%s](%s)\n\n", c.alt, cfg.chartRef(c))
	}
	p("## On Upstash, per month\n\n")
	p("Mean bytes per entry from the held-out half above; %s.\n\n", map[bool]string{true: "entries held is the store's key count", false: "entries held as given"}[!cfg.sample.keysHeldSet && set.total > 0])
	rows := []upstashMonth{
		upstashCost("as stored now", wl, m.meanCurrent),
		upstashCost("aside, zstd 3 (default)", wl, m.meanDefault),
	}
	if m.meanDictionary > 0 {
		rows = append(rows, upstashCost("aside, zstd 3 + dictionary", wl, m.meanDictionary))
	}
	writeUpstash(p, wl, rows)
}

func sourceCommands(cfg config) string {
	if cfg.sample.dir != "" {
		return "files are only read"
	}
	return "DBSIZE, SCAN and MGET only: never KEYS, never a write"
}
