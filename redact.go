package aside

import (
	"fmt"

	"github.com/aside-go/aside/internal/redact"
)

// Redaction configures the filter that strips sensitive fields from every
// value before it is serialized for storage (Set, Remember, and JSON bodies
// in the HTTP middleware). The zero value is the default deny-list in Drop
// mode: passwords, secrets, API and private keys, credentials, authorization
// headers, cookies, bearer and CSRF tokens, session identifiers, card
// numbers, CVVs, PINs, SSNs and one-time codes, matched case-, separator- and
// trailing-digit-insensitively on Go field names, json/msgpack tag names and
// map keys, most also as the last words of a longer name ("userPassword",
// "github_token", "stripeApiKey"). Pagination cursors (NextToken, PageToken,
// ContinuationToken...), "session", "auth" and counts are data and are kept.
// The README lists the exact names.
//
// Strings under a sensitive name are redacted, booleans never, numbers only
// under names of numeric secrets (card number, CVV, PIN, SSN, OTP,
// password), objects whole or, under token and session-id names, filtered
// by their own field names. Struct tags opt a field in or out:
// `aside:"redact"`, `aside:"keep"`.
//
// Fields:
//   - Mode: RedactDrop (default) removes map entries and zeroes struct
//     fields; RedactMask replaces strings with Replacement and zeroes others.
//   - Replacement: the mask text (default "[REDACTED]").
//   - Add: more names; "name" matches the whole name, "*name" also its last
//     words; every value but a boolean is redacted under them. Remove:
//     names to stop treating as sensitive.
//   - Match: an extra predicate over names, like Add.
//   - Disabled: turn redaction off.
//
// The filter never mutates the caller's value (it copies what it changes),
// handles cycles and unexported fields, and plans each type once, so a type
// with no sensitive fields costs a few nanoseconds and no allocation.
// Stats.Redactions counts redacted values, and a debug-level Logger gets
// one line per redacted type and field (never the value).
type Redaction = redact.Rules

// Redaction modes.
const (
	RedactDrop = redact.Drop
	RedactMask = redact.Mask
)

func newRedactor(r *Redaction) (*redact.Filter, error) {
	if r == nil {
		return redact.Default(), nil
	}
	if r.Disabled {
		return nil, nil
	}
	f, err := redact.New(*r)
	if err != nil {
		return nil, fmt.Errorf("%w: Redaction: %w", ErrInvalidOption, err)
	}
	return f, nil
}

// RedactJSON applies the cache's redaction to a JSON document, at any depth,
// keeping key order and number text. It returns body itself when nothing is
// sensitive, and an error when body is not JSON. The HTTP middleware stores
// JSON bodies through it.
func (c *Cache) RedactJSON(body []byte) ([]byte, error) {
	if c.redact == nil {
		return body, nil
	}
	out, _, err := c.redact.JSONTo(body, &c.stats.redactions, c.log)
	if err != nil {
		return nil, fmt.Errorf("aside: redact JSON: %w", err)
	}
	return out, nil
}
