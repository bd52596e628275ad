package keys

import (
	"errors"
	"fmt"
)

// Errors returned by this package. Functions wrap them with %w and a message
// that names what to change; test with errors.Is.
var (
	// ErrEmpty means an empty key, tag or pattern was passed. No stored key
	// is ever built from an empty string.
	ErrEmpty = errors.New("aside: keys: key is empty")
	// ErrInvalidPattern means a glob passed to Builder.EntryPattern cannot be
	// translated faithfully into a glob over stored keys.
	ErrInvalidPattern = errors.New("aside: keys: invalid pattern")
	// ErrInvalidOptions means a field of Options is out of range; the wrapped
	// message names the field and the accepted range.
	ErrInvalidOptions = errors.New("aside: keys: invalid options")
	// ErrInvalidEscape means Unescape was given text that Escape never
	// produces: a '%' not followed by two upper-case hex digits, a byte that
	// Escape always rewrites, or an escape that Escape would not have written.
	ErrInvalidEscape = errors.New("aside: keys: invalid escaped text")
)

// Pre-wrapped so that the error paths of the hot methods do not allocate.
var (
	errEmptyKey     = fmt.Errorf("%w: Entry needs a non-empty key", ErrEmpty)
	errEmptyTag     = fmt.Errorf("%w: Tag needs a non-empty tag", ErrEmpty)
	errEmptyPattern = fmt.Errorf("%w: EntryPattern needs a non-empty pattern (use \"*\" for every entry)", ErrEmpty)
)
