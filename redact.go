package aside

import (
	"fmt"

	"github.com/aside-go/aside/internal/redact"
)

// Redaction configures the filter that strips sensitive fields from every
// value before it is serialized for storage (Set, Remember, and JSON bodies
// in the HTTP middleware). The zero value is the default deny-list in Drop
// mode: password, passwd, secret, token, access_token, refresh_token,
// api_key, authorization, cookie, session, ssn, credit_card, card_number,
// cvv, private_key and similar, matched case- and separator-insensitively on
// Go field names, json/msgpack tag names and map keys, also as the last words
// of a longer name ("userPassword", "github_token", "stripeApiKey").
//
// Struct tags opt a field in or out: `aside:"redact"`, `aside:"keep"`.
//
// Fields:
//   - Mode: RedactDrop (default) removes map entries and zeroes struct
//     fields; RedactMask replaces strings with Replacement and zeroes others.
//   - Replacement: the mask text (default "[REDACTED]").
//   - Add: more names; "name" matches the whole name, "*name" also its last
//     words. Remove: default names to stop treating as sensitive.
//   - Match: an extra predicate over names.
//   - Disabled: turn redaction off.
//
// The filter never mutates the caller's value (it copies what it changes),
// handles cycles and unexported fields, and plans each type once, so a type
// with no sensitive fields costs a few nanoseconds and no allocation.
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
	out, _, err := c.redact.JSON(body)
	if err != nil {
		return nil, fmt.Errorf("aside: redact JSON: %w", err)
	}
	return out, nil
}
