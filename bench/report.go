package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// report is every measurement of one run, rendered by write.
type report struct {
	cfg    config
	start  time.Time
	took   time.Duration
	timing timing

	real   *realData // section 1: the npm corpus
	charts []chart   // written next to the report
	corpus *corpus
	setups []setup
	sizes  []measured // corpus.kinds x setups
	dict   []measured // corpus.heldOut x dictSetups
	mix    []mixTotal
	hits   []hitTable
}

func (r *report) collect(ctx context.Context) error {
	step := func(s string) error {
		if r.cfg.progress != nil {
			fmt.Fprintln(r.cfg.progress, "bench:", s)
		}
		return ctx.Err()
	}
	if err := step("npm corpus: a Cache trains its automatic dictionary on the training half"); err != nil {
		return err
	}
	var err error
	if r.real, err = newRealData(ctx); err != nil {
		return fmt.Errorf("npm corpus: %w", err)
	}
	if err := step("npm corpus: every setup on the held-out half"); err != nil {
		return err
	}
	if err := r.real.measure(r.timing); err != nil {
		return fmt.Errorf("npm corpus: %w", err)
	}
	if r.cfg.chartsDir != "" {
		if r.charts, err = r.real.writeCharts(r.cfg.chartsDir); err != nil {
			return err
		}
	}
	if err := step("generating payloads and training the dictionary"); err != nil {
		return err
	}
	if r.corpus, err = newCorpus(); err != nil {
		return err
	}
	if r.setups, err = r.corpus.setups(); err != nil {
		return err
	}
	if err := step("compression per payload kind"); err != nil {
		return err
	}
	if r.sizes, err = measure(r.corpus.kinds, r.setups, r.timing); err != nil {
		return err
	}
	if r.mix, err = mix(r.sizes, r.setups); err != nil {
		return err
	}
	if err := step("dictionary on held-out small values"); err != nil {
		return err
	}
	ds, err := r.corpus.dictSetups()
	if err != nil {
		return err
	}
	if r.dict, err = measure(r.corpus.heldOut, ds, r.timing); err != nil {
		return err
	}
	u := r.corpus.kinds[0].values[0].(User)
	if err := step("hits on the memory provider"); err != nil {
		return err
	}
	mem, err := memoryHits(u, r.timing)
	if err != nil {
		return fmt.Errorf("memory hits: %w", err)
	}
	r.hits = append(r.hits, mem)
	if r.cfg.redisAddr != "" {
		if err := step("hits on Redis"); err != nil {
			return err
		}
		rh, err := redisHits(ctx, r.cfg.redisAddr, r.cfg.redisDB, u, r.timing)
		if err != nil {
			return fmt.Errorf("redis hits: %w", err)
		}
		r.hits = append(r.hits, rh)
	}
	r.took = time.Since(r.start)
	return nil
}

// Section headings; the test checks that each is present.
const (
	hReal        = "## 1. Real data: npm registry documents and releases"
	hCompression = "## 2. Compression per payload kind (synthetic)"
	hDictionary  = "## 3. A trained zstd dictionary on small synthetic values"
	hMix         = "## 4. A typical cache mix"
	hHits        = "## 5. Hit latency and allocations"
)

func (r *report) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	p := func(format string, a ...any) { fmt.Fprintf(bw, format, a...) }

	p("# aside bench report\n\n")
	p("Made by `%s` on %s, in %s.\n\n", r.cfg.command(), r.start.UTC().Format("2006-01-02 15:04 MST"), r.took.Round(time.Second))
	p("- Machine: %s/%s, %d CPUs (GOMAXPROCS %d)%s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel())
	p("- Go: %s\n", runtime.Version())
	if rev := revision(); rev != "" {
		p("- Source: %s\n", rev)
	}
	mode := "full"
	if r.cfg.short {
		mode = "short (-short: too few iterations for the timings to mean much)"
	}
	p("- Mode: %s; each codec timing runs testing.Benchmark for ~%s, each hit timing for ~%s\n\n",
		mode, r.timing.codec, r.timing.hit)
	p("Every figure below was measured by this run; nothing is copied from elsewhere. Sizes are exact and\n")
	p("reproducible (a committed corpus, seeded payloads), except those with a trained dictionary, which vary a little\n")
	p("between runs because training visits Go maps. Timings are from one run on a shared machine: compare them only\n")
	p("with runs on the same machine.\n\n")

	r.writeReal(p)
	r.writeCompression(p)
	r.writeDictionary(p)
	r.writeMix(p)
	r.writeHits(p)
	return bw.Flush()
}

type printer func(format string, a ...any)

func (r *report) writeCompression(p printer) {
	p("%s\n\n", hCompression)
	p("Each value goes through the real `codec.New(codec.Options{Compression: alg}).Marshal` / `Unmarshal`: msgpack, then\n")
	p("compression when the serialized value is at least MinSize (256 B by default) and compressing saves at least an\n")
	p("eighth, else stored raw. *Serialized* is the msgpack size, *stored* the whole frame. `zstd+dict` is zstd with the\n")
	p("dictionary of section 3 and MinSize 1. MB/s are of serialized bytes in both directions; decode includes\n")
	p("allocating the value, as a cache hit does. Every frame was checked to decode back to an equal value.\n\n")
	p("| payload | what it is |\n| --- | --- |\n")
	for _, k := range r.corpus.kinds {
		p("| %s | %s |\n", k.name, k.about)
	}
	p("\n| payload | algorithm | serialized B | stored B | saved | encode ns/op | encode MB/s | decode ns/op | decode MB/s | allocs enc/dec |\n")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	last := ""
	for _, m := range r.sizes {
		name := m.kind
		if name == last {
			name = ""
		}
		last = m.kind
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d / %d |\n", name, m.setup,
			count(m.raw), count(m.stored), pct(m.savings()),
			nsop(m.enc), mbps(m.enc, m.raw), nsop(m.dec), mbps(m.dec, m.raw), m.enc.AllocsPerOp(), m.dec.AllocsPerOp())
	}
	p("\n")
}

func (r *report) writeDictionary(p printer) {
	cb := r.corpus
	held := len(cb.heldOut[0].values)
	p("%s\n\n", hDictionary)
	p("Values below MinSize are stored raw: too small for zstd to find repetition in. A dictionary trained on\n")
	p("typical values supplies it. `dict.BuildZstdDict` (klauspost/compress/dict) built a %s dictionary from the\n", bytesOf(len(cb.dictionary)))
	p("msgpack of %d users and %d products (%s, the training half); the rows below are the mean per value over\n", dictSamples/2, dictSamples/2, bytesOf(cb.trainBytes))
	p("the other %d of each, which it never saw.\n\n", held)
	p("| values | codec | serialized B | stored B | saved | encode ns/op | decode ns/op | allocs enc/dec |\n")
	p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	last := ""
	for _, m := range r.dict {
		name := m.kind
		if name == last {
			name = ""
		}
		last = m.kind
		p("| %s | %s | %s | %s | %s | %s | %s | %d / %d |\n", name, m.setup, count(m.raw), count(m.stored),
			pct(m.savings()), nsop(m.enc), nsop(m.dec), m.enc.AllocsPerOp(), m.dec.AllocsPerOp())
	}
	p("\n")
	for _, k := range cb.heldOut {
		plain, ok1 := find(r.dict, k.name, "zstd, MinSize 1")
		withDict, ok2 := find(r.dict, k.name, "zstd+dict, MinSize 1")
		if ok1 && ok2 {
			p("- %s: the dictionary stores %s of the bytes plain zstd stores, and costs %.1f× its encode time and %.1f× its decode time.\n",
				k.name, pct(100*withDict.stored/plain.stored), ns(withDict.enc)/ns(plain.enc), ns(withDict.dec)/ns(plain.dec))
		}
	}
	p("\n")
}

func (r *report) writeMix(p printer) {
	p("%s\n\n", hMix)
	var parts []string
	for _, s := range typicalMix {
		parts = append(parts, fmt.Sprintf("%d × %s", s.per1000, s.kind))
	}
	p("1,000 entries: %s (70%% small entities, 25%% lists and pages, 5%% large responses), sized with the\n", strings.Join(parts, ", "))
	p("per-value figures of section 2. Stored bytes are the codec frames (the cache adds a small envelope to each).\n\n")
	p("| algorithm | serialized | stored | saved |\n| --- | ---: | ---: | ---: |\n")
	for _, t := range r.mix {
		p("| %s | %s | %s | %s |\n", t.setup, bytesOf(int(t.raw)), bytesOf(int(t.stored)), pct(100*(1-t.stored/t.raw)))
	}
	p("\n")
}

func (r *report) writeHits(p printer) {
	p("%s\n\n", hHits)
	p("`aside.Remember` of the section-2 user when the entry is cached (the loader never runs: a miss during the\n")
	p("measurement fails the run). *Serial* is one goroutine; *parallel* is `b.RunParallel`, whose ns/op is wall\n")
	p("time per operation over all goroutines (the inverse of throughput). *3 tags* passes `aside.Tags` with three\n")
	p("tags, whose versions are checked on every hit. On Redis, the last two columns divide each row's ns/op by that\n")
	p("of a bare go-redis GET of the same stored entry (the mean of a run before and one after the aside rows; their\n")
	p("spread shows the noise): 1.00 means aside adds nothing over the client.\n\n")
	for _, tb := range r.hits {
		p("### %s\n\n", tb.provider)
		if tb.skipped != "" {
			p("%s\n\n", tb.skipped)
			continue
		}
		ratio := len(tb.raw) > 0
		var rawSerial, rawParallel float64 // the mean of the raw runs
		for _, h := range tb.raw {
			rawSerial += ns(h.serial) / float64(len(tb.raw))
			rawParallel += ns(h.parallel) / float64(len(tb.raw))
		}
		p("| path | serial ns/op | allocs/op | B/op | parallel ns/op (%d goroutines) | allocs/op |", tb.goroutines)
		if ratio {
			p(" ÷ raw GET, serial | ÷ raw GET, parallel |")
		}
		p("\n| --- | ---: | ---: | ---: | ---: | ---: |")
		if ratio {
			p(" ---: | ---: |")
		}
		p("\n")
		for _, h := range append(tb.rows[:len(tb.rows):len(tb.rows)], tb.raw...) {
			p("| %s | %s | %d | %d | %s | %d |", h.name, nsop(h.serial), h.serial.AllocsPerOp(), h.serial.AllocedBytesPerOp(),
				nsop(h.parallel), h.parallel.AllocsPerOp())
			if ratio {
				p(" %.2f | %.2f |", ns(h.serial)/rawSerial, ns(h.parallel)/rawParallel)
			}
			p("\n")
		}
		p("\nThe cache counted %s hits and no misses while these ran.\n\n", count(float64(tb.hitsChecked)))
	}
	if r.cfg.redisAddr == "" {
		p("### Redis\n\nNot measured: run with `-redis host:port` to add Redis hits and the raw go-redis reference.\n\n")
	}
}

func ns(b testing.BenchmarkResult) float64 {
	if b.N == 0 {
		return 0
	}
	return float64(b.T.Nanoseconds()) / float64(b.N)
}

func nsop(b testing.BenchmarkResult) string {
	v := ns(b)
	switch {
	case v >= 100_000:
		return count(v)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

// mbps is the throughput in MB/s (10^6 bytes, as go test prints) of a
// benchmark that processed raw bytes per operation.
func mbps(b testing.BenchmarkResult, raw float64) string {
	v := ns(b)
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", raw*1e3/v)
}

func pct(v float64) string { return fmt.Sprintf("%.1f%%", v) }

// count formats a non-negative number with thousands separators.
func count(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func bytesOf(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// cpuModel is ", <model name>" from /proc/cpuinfo, or "" where there is none.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return ", " + strings.TrimSpace(v)
		}
	}
	return ""
}

// revision is the VCS revision stamped into the binary, when the go command
// stamped one.
func revision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " (with uncommitted changes)"
			}
		}
	}
	if rev == "" {
		return ""
	}
	return "commit " + rev + dirty
}
