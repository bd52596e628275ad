package redis

import (
	"fmt"
	"time"
)

// Defaults of [Options] fields left at their zero value.
const (
	// DefaultTimeout bounds every single-round-trip call.
	DefaultTimeout = 250 * time.Millisecond
	// DefaultScanTimeout bounds each SCAN or UNLINK batch of DeletePattern.
	DefaultScanTimeout = time.Second
	// DefaultScanCount is the COUNT hint of each SCAN of DeletePattern.
	DefaultScanCount = 1000
	// DefaultMaxValueSize is Redis's own limit on a string value
	// (proto-max-bulk-len, 512 MiB).
	DefaultMaxValueSize = 512 << 20
)

// Options configures a [Provider]. The zero value is ready to use.
type Options struct {
	// Timeout bounds every call other than DeletePattern: the call returns
	// an error matching context.DeadlineExceeded once Timeout has passed,
	// or earlier if the caller's context ends first. Default
	// [DefaultTimeout] (250 ms): a cache read that is slower than that is
	// better treated as a miss.
	//
	// The bound is a context cancelled at Timeout, handed to go-redis for
	// the whole call, and it holds at any number of concurrent callers:
	// go-redis stops waiting for a free pooled connection, for a dial and
	// between its retries when that context ends, and, with
	// ContextTimeoutEnabled, takes its deadline for socket reads and writes.
	// For a client given to [New] without ContextTimeoutEnabled, the socket
	// wait is bounded by the client's ReadTimeout instead; the provider
	// still returns at Timeout by not waiting for it (see [New]).
	//
	// How fast a down Redis fails, within Timeout, is the client's: the
	// clients this package builds fail a refused connection at once (see
	// [NewFromURL]); a client given to [New] with go-redis's defaults dials
	// up to 5 times with 100 ms pauses and retries a command 3 times with
	// backoff, so its calls may take up to the whole Timeout to fail.
	Timeout time.Duration

	// ScanTimeout bounds each batch of DeletePattern: one SCAN, or one
	// UNLINK of the keys it found. The whole DeletePattern is bounded only
	// by the caller's context, because its length grows with the size of
	// the database.
	// Default [DefaultScanTimeout] (1 s).
	ScanTimeout time.Duration

	// ScanCount is the COUNT hint given to each SCAN of DeletePattern: about
	// how many keys each batch examines. Default [DefaultScanCount] (1000).
	ScanCount int

	// MaxValueSize is the largest value Set, Add, CompareAndSwap and
	// SetMulti accept; a larger one fails with provider.ErrTooLarge without
	// a round trip. Default [DefaultMaxValueSize] (512 MiB, the server's
	// proto-max-bulk-len default). Set it lower to reject large values
	// before they cost network time.
	MaxValueSize int

	// CloseClient makes Close close the client given to [New]. By default
	// the client belongs to the caller, who closes it. Providers built by
	// [NewFromURL], [NewCluster] and [FromURL] own their client and always
	// close it.
	CloseClient bool
}

// withDefaults returns o with zero fields replaced by their defaults, or an
// error naming the first field that is out of range.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.Timeout < 0:
		return o, fmt.Errorf("%w: Timeout is negative (use 0 for the default %s)", ErrInvalidOptions, DefaultTimeout)
	case o.ScanTimeout < 0:
		return o, fmt.Errorf("%w: ScanTimeout is negative (use 0 for the default %s)", ErrInvalidOptions, DefaultScanTimeout)
	case o.ScanCount < 0:
		return o, fmt.Errorf("%w: ScanCount is negative (use 0 for the default %d)", ErrInvalidOptions, DefaultScanCount)
	case o.MaxValueSize < 0:
		return o, fmt.Errorf("%w: MaxValueSize is negative (use 0 for the default %d)", ErrInvalidOptions, DefaultMaxValueSize)
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.ScanTimeout == 0 {
		o.ScanTimeout = DefaultScanTimeout
	}
	if o.ScanCount == 0 {
		o.ScanCount = DefaultScanCount
	}
	if o.MaxValueSize == 0 {
		o.MaxValueSize = DefaultMaxValueSize
	}
	return o, nil
}
