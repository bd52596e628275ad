package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider/upstash/emulator"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "upstash-local:", err)
		}
		os.Exit(2)
	}
}

// run serves until ctx ends. ready, when not nil, is called with the
// listening address once the server accepts connections.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(net.Addr)) error {
	fs := flag.NewFlagSet("upstash-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr      = fs.String("addr", "127.0.0.1:8079", "listen address")
		redisAddr = fs.String("redis", "127.0.0.1:6379", "Redis host:port, or a redis:// or rediss:// URL")
		db        = fs.Int("db", -1, "Redis database number (default: the URL's, else 0)")
		token     = fs.String("token", "", "standard REST token (default $UPSTASH_REDIS_REST_TOKEN)")
		roToken   = fs.String("readonly-token", "", "read-only REST token (default none)")
		danger    = fs.Bool("allow-dangerous", false, "let FLUSHALL, FLUSHDB, CONFIG, SHUTDOWN, DEBUG, ... through")
		maxBytes  = fs.Int64("max-request-bytes", 0, "request body limit in bytes (default 10 MiB; -1: none)")
		verbose   = fs.Bool("v", false, "log Redis failures to stderr")
		quota     = fs.String("quota", "max_requests", "quota error injected by -quota-rate: max_requests, daily_requests, request_size, db_capacity")
		f         emulator.Faults
	)
	fs.DurationVar(&f.Latency, "latency", 0, "delay added to every request")
	fs.DurationVar(&f.Jitter, "jitter", 0, "random extra delay, uniform in [0, jitter)")
	fs.Float64Var(&f.DropRate, "drop-rate", 0, "share of connections closed before the request runs")
	fs.Float64Var(&f.ServerErrorRate, "server-error-rate", 0, "share of requests answered with a 5xx")
	fs.IntVar(&f.ServerErrorStatus, "server-error-status", 500, "status of the injected server errors")
	fs.Float64Var(&f.QuotaRate, "quota-rate", 0, "share of requests answered with the -quota error")
	fs.Int64Var(&f.CommandLimit, "command-limit", 0, "billed commands allowed before every request gets ERR max requests limit exceeded (0: no limit)")
	fs.Float64Var(&f.DropAfterRate, "drop-after-rate", 0, "share of connections closed after their commands ran")
	fs.Float64Var(&f.TruncateRate, "truncate-rate", 0, "share of replies cut in half")
	fs.Uint64Var(&f.Seed, "seed", 0, "seed of the fault generator")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if *token == "" {
		*token = getenv("UPSTASH_REDIS_REST_TOKEN")
	}
	if *token == "" {
		return errors.New("no token: pass -token or set UPSTASH_REDIS_REST_TOKEN")
	}
	q, err := emulator.ParseQuota(*quota)
	if err != nil {
		return err
	}
	f.Quota = q

	ropts, err := redisOptions(*redisAddr, *db)
	if err != nil {
		return err
	}
	rdb := goredis.NewClient(ropts)
	defer rdb.Close()

	logger := slog.New(slog.DiscardHandler)
	if *verbose {
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	emu, err := emulator.New(rdb, emulator.Options{
		Token: *token, ReadOnlyToken: *roToken, AllowDangerous: *danger,
		MaxRequestBytes: *maxBytes, Faults: f, Logger: logger,
	})
	if err != nil {
		return err
	}

	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := rdb.Ping(pctx).Err(); err != nil {
		fmt.Fprintf(stderr, "upstash-local: warning: Redis at %s does not answer yet (%v); requests fail with 500 until it does\n", ropts.Addr, err)
	}
	cancel()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "upstash-local: Upstash REST API on http://%s over Redis %s db %d\n", ln.Addr(), ropts.Addr, ropts.DB)
	fmt.Fprintf(stderr, "upstash-local: UPSTASH_REDIS_REST_URL=http://%s UPSTASH_REDIS_REST_TOKEN=<your -token>\n", ln.Addr())
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// redisOptions builds the go-redis options the emulator needs (RESP2, no
// retries, context deadlines on the socket) from host:port or a URL. Errors
// never show the URL, which may hold a password.
func redisOptions(addr string, db int) (*goredis.Options, error) {
	var o *goredis.Options
	if strings.Contains(addr, "://") {
		var err error
		o, err = goredis.ParseURL(addr)
		if err != nil {
			return nil, errors.New("-redis: not a valid redis:// or rediss:// URL (expected redis://[[user]:password@]host[:port][/db])")
		}
	} else {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("-redis: %q is not host:port", addr)
		}
		o = &goredis.Options{Addr: addr}
	}
	if db >= 0 {
		o.DB = db
	}
	o.Protocol = 2
	o.MaxRetries = -1
	o.ContextTimeoutEnabled = true
	o.DialerRetries = 1 // a refused connection fails the request at once
	if o.DialTimeout == 0 {
		o.DialTimeout = time.Second
	}
	return o, nil
}
