package upstash

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// Defaults of [Options] fields left at their zero value.
const (
	// DefaultTimeout bounds every call but DeletePattern, retries included.
	// It is twice provider/redis's: an HTTPS request to a managed service
	// crosses more network than a Redis round trip on a private network,
	// and the bound leaves room for one retry.
	DefaultTimeout = 500 * time.Millisecond
	// DefaultScanTimeout bounds each SCAN or DEL batch of DeletePattern.
	DefaultScanTimeout = 2 * time.Second
	// DefaultScanCount is the COUNT hint of each SCAN of DeletePattern.
	DefaultScanCount = 1000
	// DefaultMaxInFlight is how many HTTP requests may run at once: two,
	// so that one can be on the wire while the calls made meanwhile gather
	// for the next. Over HTTP/2 they share one connection.
	DefaultMaxInFlight = 2
	// DefaultMaxBatch is the most commands one pipeline request carries.
	DefaultMaxBatch = 256
	// DefaultMaxBatchBytes is the body size past which a pipeline request
	// takes no further command (a single larger command is sent alone).
	DefaultMaxBatchBytes = 1 << 20
	// DefaultRetries is how many times a command is sent again after a
	// failure that allows it (see the package documentation).
	DefaultRetries = 2
	// DefaultMaxRequestBytes is Upstash's request size limit (10 MB on the
	// free and pay-as-you-go plans, read as 10^7 bytes to be safe). A
	// command whose request would be larger fails with
	// provider.ErrTooLarge before it is sent.
	DefaultMaxRequestBytes = 10_000_000
	// DefaultMaxValueSize is the largest value Set, Add, CompareAndSwap,
	// SetMulti and AddMulti accept: 7 MiB, whose base64 form (9.8 MB) still
	// fits in one request under DefaultMaxRequestBytes.
	DefaultMaxValueSize = 7 << 20
	// DefaultMaxResponseBytes bounds a response body the provider reads.
	DefaultMaxResponseBytes = 64 << 20
)

// Options configures a [Provider]. The zero value is ready to use with an
// Upstash database.
type Options struct {
	// Timeout bounds every call other than DeletePattern, from the moment
	// it is made to its return, whatever the concurrency: time waiting for
	// a pipeline, the request, its retries and their backoff all count. The
	// call then fails with an error matching context.DeadlineExceeded.
	// Default [DefaultTimeout] (500 ms).
	Timeout time.Duration

	// ScanTimeout bounds each SCAN, and each DEL of the keys it found, of
	// DeletePattern, whose whole length is bounded only by the caller's
	// context. Default [DefaultScanTimeout] (2 s).
	ScanTimeout time.Duration

	// ScanCount is the COUNT hint of each SCAN of DeletePattern: about how
	// many keys one billed SCAN examines. Default [DefaultScanCount] (1000).
	ScanCount int

	// MaxInFlight is how many HTTP requests the provider runs at once.
	// Commands made while all of them are busy wait and leave together, in
	// the order they were made, in the next /pipeline request: the busier
	// the provider, the more commands each request carries. Default
	// [DefaultMaxInFlight] (2). More lets a slow request (a large value)
	// hold up fewer calls, at the price of more, emptier requests.
	MaxInFlight int

	// MaxBatch is the most commands one pipeline request carries. Default
	// [DefaultMaxBatch] (256).
	MaxBatch int

	// MaxBatchBytes is the request body size past which no further command
	// joins a pipeline request. Default [DefaultMaxBatchBytes] (1 MiB).
	MaxBatchBytes int

	// BatchWait, when positive, holds a request until it has waited that
	// long or is full (MaxBatch), to gather more commands even when a
	// request slot is free: fewer requests at a little added latency. The
	// default 0 never waits: a command is sent at once when a slot is free.
	BatchWait time.Duration

	// Retries is how many times a command may be sent again after a
	// request failed in a way that allows it: always when the request never
	// left (a refused connection), and only for read-only commands (GET,
	// MGET, SCAN, DBSIZE, PING) when the request may have run (a lost or
	// cut reply, a 5xx). Retries back off exponentially from 10 ms, within
	// Timeout. Default [DefaultRetries] (2); negative means none.
	Retries int

	// GlobalScriptLock makes the provider send its Lua scripts without the
	// `allow-key-locking` shebang flag, for a server that rejects the flag
	// (real Redis 7 does). Upstash then runs each script under its global
	// script lock, so leave it false against Upstash and against the
	// emulator of package emulator, which accepts the flag.
	GlobalScriptLock bool

	// MaxValueSize is the largest value the writes accept; a larger one
	// fails with provider.ErrTooLarge without a request. Default
	// [DefaultMaxValueSize] (7 MiB).
	MaxValueSize int

	// MaxRequestBytes is the largest request body the provider sends; a
	// command that needs more fails with provider.ErrTooLarge without a
	// request. Default [DefaultMaxRequestBytes] (10^7 bytes, Upstash's
	// limit).
	MaxRequestBytes int

	// MaxResponseBytes bounds a response body; a larger one fails the
	// request. Default [DefaultMaxResponseBytes] (64 MiB).
	MaxResponseBytes int

	// AllowHTTP accepts a plain http:// URL to a host that is not a
	// loopback address (the token then crosses the network in clear).
	// http:// to 127.0.0.1, ::1 or localhost, where the emulator runs, is
	// always accepted; Upstash itself is https:// only.
	AllowHTTP bool

	// TLSConfig is the TLS configuration of the provider's own HTTP
	// client, for a private CA in front of a self-hosted server. Default:
	// the system roots, TLS 1.2 or later.
	TLSConfig *tls.Config

	// HTTPClient replaces the provider's own HTTP client (one keep-alive
	// pool, HTTP/2 when the server offers it, no redirects). Its timeouts
	// still apply on top of Timeout. The provider never closes it.
	HTTPClient *http.Client

	// Logger receives a warning for each quota error and each rejected
	// token, never a token, a key or a value. Default: discard.
	Logger *slog.Logger
}

// withDefaults returns o with zero fields replaced by their defaults, or an
// error naming the first field out of range.
func (o Options) withDefaults() (Options, error) {
	for _, f := range []struct {
		name string
		neg  bool
	}{
		{"Timeout", o.Timeout < 0},
		{"ScanTimeout", o.ScanTimeout < 0},
		{"ScanCount", o.ScanCount < 0},
		{"MaxInFlight", o.MaxInFlight < 0},
		{"MaxBatch", o.MaxBatch < 0},
		{"MaxBatchBytes", o.MaxBatchBytes < 0},
		{"BatchWait", o.BatchWait < 0},
		{"MaxValueSize", o.MaxValueSize < 0},
		{"MaxRequestBytes", o.MaxRequestBytes < 0},
		{"MaxResponseBytes", o.MaxResponseBytes < 0},
	} {
		if f.neg {
			return o, fmt.Errorf("%w: %s is negative (use 0 for the default)", ErrInvalidOptions, f.name)
		}
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defD(&o.Timeout, DefaultTimeout)
	defD(&o.ScanTimeout, DefaultScanTimeout)
	def(&o.ScanCount, DefaultScanCount)
	def(&o.MaxInFlight, DefaultMaxInFlight)
	def(&o.MaxBatch, DefaultMaxBatch)
	def(&o.MaxBatchBytes, DefaultMaxBatchBytes)
	def(&o.MaxValueSize, DefaultMaxValueSize)
	def(&o.MaxRequestBytes, DefaultMaxRequestBytes)
	def(&o.MaxResponseBytes, DefaultMaxResponseBytes)
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
