package rueidis

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
	// DefaultMaxInFlight bounds the calls running on rueidis at once (see
	// Options.MaxInFlight).
	DefaultMaxInFlight = 300
)

// maxInFlight is the largest Options.MaxInFlight: twice it must stay below
// the 1024 commands rueidis queues per connection (see do).
const maxInFlight = 500

// Options configures a [Provider]. The zero value is ready to use.
type Options struct {
	// Timeout bounds every call other than DeletePattern: the call returns
	// an error matching context.DeadlineExceeded once Timeout has passed,
	// or earlier if the caller's context ends first. Default
	// [DefaultTimeout] (250 ms).
	//
	// The caller stops waiting at Timeout whatever rueidis is doing: the
	// command runs on a goroutine of its own, which lives on until Redis
	// answers or rueidis drops the connection (see MaxInFlight).
	Timeout time.Duration

	// ScanTimeout bounds each batch of DeletePattern: one SCAN, or one
	// UNLINK of the keys it found. The whole DeletePattern is bounded only
	// by the caller's context. Default [DefaultScanTimeout] (1 s).
	ScanTimeout time.Duration

	// ScanCount is the COUNT hint given to each SCAN of DeletePattern.
	// Default [DefaultScanCount] (1000).
	ScanCount int

	// MaxValueSize is the largest value Set, Add, CompareAndSwap, SetMulti
	// and AddMulti accept; a larger one fails with provider.ErrTooLarge
	// without a round trip. Default [DefaultMaxValueSize] (512 MiB).
	MaxValueSize int

	// MaxInFlight bounds the calls running on rueidis at once. A call that
	// finds the budget spent waits for a slot, at most until its Timeout.
	// After a call gave up on Redis (a hung or overloaded server), calls
	// hold their slot until Redis answers them or rueidis drops the
	// connection, even when their caller has given up: this is what a hung
	// Redis can make pile up (a goroutine and a copy of the values per
	// command), and what keeps rueidis's per-connection queue (1024
	// commands) from filling, which would block callers past their Timeout.
	// It must therefore stay at or below 500. Default [DefaultMaxInFlight]
	// (300).
	MaxInFlight int

	// CloseClient makes Close close the client given to [New]. By default
	// the client belongs to the caller. Providers built from a URL own
	// their client and always close it.
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
	case o.MaxInFlight < 0 || o.MaxInFlight > maxInFlight:
		return o, fmt.Errorf("%w: MaxInFlight is %d; use 1 to %d (0 for the default %d)", ErrInvalidOptions, o.MaxInFlight, maxInFlight, DefaultMaxInFlight)
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
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	return o, nil
}
