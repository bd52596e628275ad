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
	args      []string
	progress  io.Writer // one line per section, for the person waiting
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{args: args, progress: stderr}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./bench [-redis host:port] [-redis-db N] [-short] [-o file]")
		fmt.Fprintln(stderr, "Measures aside's codec and hit path and prints a Markdown report.")
		fs.PrintDefaults()
	}
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
	if err := run(ctx, cfg, &out); err != nil {
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
	return r.write(w)
}

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
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
