package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// config is what the command line sets.
type config struct {
	redisAddr string // host:port, or "" to skip Redis
	redisDB   int
	short     bool
	out       string // file, or "" for stdout
	chartsDir string // where SVG charts go; "" for none
	dictOut   string // file the trained dictionary is written to, or ""
	workload  workload
	sample    sampleConfig // -sample and -dir
	args      []string
	progress  io.Writer // one line per section, for the person waiting
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{args: args, progress: stderr}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./bench [-redis host:port] [-redis-db N] [-short] [-o file] [-charts dir] [-dict-out file]")
		fmt.Fprintln(stderr, "       go run ./bench -sample redis://host:port/db | -sample https://<upstash-rest-url> | -dir path  [-o file] ...")
		fmt.Fprintln(stderr, "Measures aside's codec and hit path and prints a Markdown report; with -sample or -dir, what aside would")
		fmt.Fprintln(stderr, "store for the values of your own store or files (read-only).")
		fs.PrintDefaults()
	}
	var keysHeld, reads, writes float64
	fs.StringVar(&cfg.chartsDir, "charts", "", "write SVG charts to `dir` (default: charts/ beside -o, or none for stdout; with -sample/-dir: aside-savings-charts beside -o)")
	fs.StringVar(&cfg.dictOut, "dict-out", "", "write the trained zstd dictionary to `file` (usable as codec.Options.Dictionary or with zstd -D)")
	fs.Float64Var(&keysHeld, "keys-held", 1_000_000, "entries held, for the Upstash figures (-sample: the store's key count unless set)")
	fs.Float64Var(&reads, "reads", 10_000_000, "reads a month, for the Upstash figures")
	fs.Float64Var(&writes, "writes", 1_000_000, "writes a month, for the Upstash figures")
	fs.StringVar(&cfg.sample.url, "sample", "", "measure a sample of the values in the store at `URL` (redis://[user:pass@]host:port/db or an Upstash REST URL https://..., token in UPSTASH_REDIS_REST_TOKEN); read-only")
	fs.StringVar(&cfg.sample.dir, "dir", "", "measure a sample of the files under `path`, one value per file")
	fs.StringVar(&cfg.sample.match, "match", "*", "with -sample: only keys matching this glob (SCAN MATCH)")
	fs.IntVar(&cfg.sample.maxKeys, "sample-keys", 2000, "with -sample/-dir: values to sample at most")
	fs.Int64Var(&cfg.sample.maxBytes, "sample-bytes", 64<<20, "with -sample/-dir: bytes of values to read at most")
	fs.IntVar(&cfg.sample.scanKeys, "scan-keys", 200_000, "with -sample: key names to SCAN at most (the sample is drawn from them at random)")
	fs.StringVar(&cfg.redisAddr, "redis", "", "also measure hits on the Redis at `host:port` (skipped with a note when it does not answer)")
	fs.IntVar(&cfg.redisDB, "redis-db", 12, "Redis `database` the bench writes to; its keys are deleted afterwards")
	fs.BoolVar(&cfg.short, "short", false, "few iterations: a quick check, not figures to quote")
	fs.StringVar(&cfg.out, "o", "", "write the report to `file` instead of stdout")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.redisAddr != "" {
		if err := checkRedisAddr(cfg.redisAddr); err != nil {
			return cfg, err
		}
	}
	if cfg.redisDB < 0 || cfg.redisDB > 15 {
		return cfg, errors.New("-redis-db must be 0 to 15")
	}
	if cfg.sample.url != "" && cfg.sample.dir != "" {
		return cfg, errors.New("-sample and -dir are two sources: give one")
	}
	if cfg.sample.maxKeys < 2 || cfg.sample.maxBytes < 1 || cfg.sample.scanKeys < 1 {
		return cfg, errors.New("-sample-keys must be at least 2, -sample-bytes and -scan-keys positive")
	}
	if keysHeld < 0 || reads < 0 || writes < 0 {
		return cfg, errors.New("-keys-held, -reads and -writes must not be negative")
	}
	cfg.workload = workload{keys: keysHeld, reads: reads, writes: writes}
	fs.Visit(func(f *flag.Flag) { cfg.sample.keysHeldSet = cfg.sample.keysHeldSet || f.Name == "keys-held" })
	if cfg.sampling() {
		if cfg.chartsDir == "" {
			cfg.chartsDir = "aside-savings-charts"
			if cfg.out != "" {
				cfg.chartsDir = filepath.Join(filepath.Dir(cfg.out), cfg.chartsDir)
			}
		}
		return cfg, cfg.sample.check()
	}
	if cfg.chartsDir == "" && cfg.out != "" {
		cfg.chartsDir = filepath.Join(filepath.Dir(cfg.out), "charts")
	}
	return cfg, nil
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var out bytes.Buffer
	runIt := run
	if cfg.sampling() {
		runIt = runSample
	}
	if err := runIt(ctx, cfg, &out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if cfg.out == "" {
		_, err = os.Stdout.Write(out.Bytes())
	} else {
		err = os.WriteFile(cfg.out, out.Bytes(), 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// timing is how long each figure is measured.
type timing struct {
	codec, hit time.Duration
}

func timingFor(short bool) timing {
	if short {
		return timing{codec: 2 * time.Millisecond, hit: 10 * time.Millisecond}
	}
	return timing{codec: 200 * time.Millisecond, hit: time.Second}
}

// run measures everything and writes the report to w.
func run(ctx context.Context, cfg config, w io.Writer) error {
	testing.Init() // registers -test.benchtime, which testing.Benchmark reads
	r := &report{cfg: cfg, start: time.Now(), timing: timingFor(cfg.short)}
	if err := r.collect(ctx); err != nil {
		return err
	}
	if cfg.dictOut != "" {
		if err := os.WriteFile(cfg.dictOut, r.real.dictionary, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(cfg.progress, "bench: wrote the automatic dictionary (ID %d, %d bytes) to %s\n", r.real.dictID, len(r.real.dictionary), cfg.dictOut)
	}
	return r.write(w)
}

func (cfg config) sampling() bool { return cfg.sample.url != "" || cfg.sample.dir != "" }

// run measures f with testing.Benchmark for about d.
func (t timing) run(d time.Duration, f func(*testing.B)) testing.BenchmarkResult {
	fl := flag.Lookup("test.benchtime")
	old := fl.Value.String()
	if err := fl.Value.Set(d.String()); err != nil {
		panic(err) // a time.Duration always parses
	}
	defer func() { _ = fl.Value.Set(old) }()
	return testing.Benchmark(f)
}

// command is the command line that reproduces the report.
func (cfg config) command() string {
	parts := []string{"go", "run", "./bench"}
	for _, a := range cfg.args {
		a = redactURL(a)
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
