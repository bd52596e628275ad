package middleware

import (
	"context"
	"errors"
)

// Errors of this package; test with errors.Is.
var (
	// ErrConfig means a CacheConfig or AdminConfig field is out of range; the
	// message names it. CacheWithConfig panics with it, as Echo's own
	// XWithConfig functions do.
	ErrConfig = errors.New("aside: middleware: bad config")
	// ErrInvalidURL is returned by URITag for a URL that is not absolute.
	ErrInvalidURL = errors.New("aside: middleware: invalid URL")
)

// abortError ends a load for a reason other than the origin failing (the
// response was streamed, or the request it belongs to is gone). It matches
// context.Canceled so that aside.Remember answers it as it answers a caller
// leaving: never with a stale-if-error entry, which would write a stored
// response over a streamed one or hand a waiter a stale page the origin
// never refused. It never leaves this package.
type abortError struct{ reason string }

func (e *abortError) Error() string        { return "aside: middleware: load aborted: " + e.reason }
func (e *abortError) Is(target error) bool { return target == context.Canceled }

var (
	errStreamed = &abortError{"the response was streamed"}
	errGone     = &abortError{"the request that would run the handler has returned"}
	// errAnswered: the request's handler already ran in an earlier load
	// (Remember's refresh) that stored its response; a second load of the
	// same request must not store it again (see call.load).
	errAnswered = &abortError{"the request was answered by an earlier load"}
)

// originError is a load that failed at the origin (an error, or a 500, 502,
// 503 or 504): aside.Remember may answer it with a stale-if-error entry, and
// otherwise the request that ran the handler sends the real response.
type originError struct{ status int }

func (e *originError) Error() string { return "aside: middleware: origin failed" }
