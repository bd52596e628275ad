package aside

import (
	"errors"
	"fmt"
)

// Errors returned by the Cache. Wrapped errors keep these as their chain's
// root, so test with errors.Is.
var (
	// ErrClosed is returned by every operation on a closed Cache.
	ErrClosed = errors.New("aside: cache is closed")
	// ErrInvalidOption means a per-call option or an Options field is out of
	// range; the message names it.
	ErrInvalidOption = errors.New("aside: invalid option")
	// ErrInvalidKey means a key or tag is empty.
	ErrInvalidKey = errors.New("aside: invalid key")
	// ErrConfig means FromEnv found a bad or missing environment variable; the
	// message names the variable and never its secret value.
	ErrConfig = errors.New("aside: bad configuration")
	// ErrNotSupported means the provider lacks an ability an operation needs
	// (for example InvalidatePattern on a provider without PatternDeleter).
	ErrNotSupported = errors.New("aside: not supported by this provider")
	// ErrCorruptEntry wraps the error of a tagged Set whose tag record is
	// garbled and could not be replaced (someone keeps writing garbage under
	// the tag's key). A read never returns it: bytes that are not a valid
	// entry are counted in Stats.DecodeFailures, deleted, and read as a miss.
	ErrCorruptEntry = errors.New("aside: corrupt cache entry")
)

// PanicError is the value re-panicked in every caller waiting on a loader that
// panicked, in each caller's own goroutine, so that one loader panic never
// deadlocks or silently fails the others (x/sync/singleflight's panicError).
type PanicError struct {
	// Value is what the loader passed to panic.
	Value any
	// Stack is the loader goroutine's stack at the time of the panic.
	Stack []byte
}

func (p *PanicError) Error() string {
	return fmt.Sprintf("aside: loader panicked: %v\n\n%s", p.Value, p.Stack)
}

// Unwrap returns the panic value when it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}
