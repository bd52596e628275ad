package redact

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"sync"
)

// Errors returned by this package.
var (
	// ErrInvalidRules means a [Rules] value cannot be used: an unknown Mode,
	// or an Add/Remove entry with no letters or digits.
	ErrInvalidRules = errors.New("aside: redact: invalid rules")
	// ErrNotJSON means the body passed to [Filter.JSON] is not valid JSON.
	ErrNotJSON = errors.New("aside: redact: body is not valid JSON")
)

// DefaultReplacement is the string that [Mask] writes over sensitive strings
// when [Rules].Replacement is empty.
const DefaultReplacement = "[REDACTED]"

// Mode says what happens to a sensitive value.
type Mode uint8

const (
	// Drop removes sensitive map keys and JSON object members, and sets
	// sensitive struct fields to their zero value. It is the default.
	Drop Mode = iota
	// Mask replaces sensitive strings with the replacement string and sets
	// every other sensitive value to its zero value (JSON: null). Keys and
	// struct fields stay, so the shape of the data does not change.
	Mask
)

// String returns "drop" or "mask".
func (m Mode) String() string {
	switch m {
	case Drop:
		return "drop"
	case Mask:
		return "mask"
	default:
		return "Mode(" + strconv.Itoa(int(m)) + ")"
	}
}

// Rules configures a [Filter]. The zero value is the default deny-list in
// [Drop] mode.
type Rules struct {
	// Mode is what happens to sensitive values. Default: Drop.
	Mode Mode
	// Replacement is the string Mask writes over sensitive strings.
	// Default: DefaultReplacement ("[REDACTED]").
	Replacement string
	// Add lists extra sensitive names. "name" matches that whole name;
	// "*name" also matches it as the last words of a longer name ("*pin"
	// catches "cardPin"). Matching ignores case, separators and trailing
	// digits. Under an added name every value but a boolean is redacted,
	// numbers and whole objects included, even when the name is a default
	// one with narrower rules ("token").
	Add []string
	// Remove lists names, default or added, that are not sensitive. A removed
	// name is not sensitive as the last words of a longer name either:
	// removing "token" lets "github_token" through. Remove wins over Add.
	Remove []string
	// Match, when set, is consulted in addition to the lists with the raw
	// field or key name; returning true makes the name sensitive, as if it
	// were added. It must be safe for concurrent use. For struct fields its
	// answer is cached per type, so it must be a pure function of the name.
	Match func(name string) bool
	// Disabled turns the filter off: every method returns its input as is.
	Disabled bool
}

// Filter removes or masks sensitive fields and keys. Build it once with [New]
// or [Default]; all methods are safe for concurrent use. A nil *Filter is a
// disabled filter.
type Filter struct {
	off         bool
	mode        Mode
	replacement string
	maskJSON    []byte // replacement as a JSON string literal
	names       *names
	match       func(string) bool
	plans       sync.Map // reflect.Type -> *plan
}

// New compiles r into a Filter.
func New(r Rules) (*Filter, error) {
	if r.Mode != Drop && r.Mode != Mask {
		return nil, fmt.Errorf("%w: unknown Mode %d (use redact.Drop or redact.Mask)", ErrInvalidRules, r.Mode)
	}
	n := newNames()
	for _, a := range r.Add {
		if !n.add(a) {
			return nil, fmt.Errorf("%w: Add entry %q has no letters or digits", ErrInvalidRules, a)
		}
	}
	for _, a := range r.Remove {
		if !n.remove(a) {
			return nil, fmt.Errorf("%w: Remove entry %q has no letters or digits", ErrInvalidRules, a)
		}
	}
	rep := r.Replacement
	if rep == "" {
		rep = DefaultReplacement
	}
	return &Filter{
		off:         r.Disabled,
		mode:        r.Mode,
		replacement: rep,
		maskJSON:    jsonString(rep),
		names:       n,
		match:       r.Match,
	}, nil
}

var defaultFilter = sync.OnceValue(func() *Filter {
	f, err := New(Rules{})
	if err != nil {
		panic(err) // unreachable: the zero Rules are valid
	}
	return f
})

// Default returns the shared filter for the zero [Rules]: the default
// deny-list in Drop mode.
func Default() *Filter { return defaultFilter() }

// IsSensitive reports whether a field or key called name would be redacted
// when it holds a non-empty string (struct tags aside). Whether a number or
// an object under the name is redacted too depends on the name: see the
// package doc.
func (f *Filter) IsSensitive(name string) bool {
	_, ok := f.lookup(name)
	return ok
}

// lookup reports whether name is sensitive and which values under it are.
func (f *Filter) lookup(name string) (flags, bool) {
	if f == nil || f.off {
		return 0, false
	}
	if f.match != nil && f.match(name) {
		return added, true
	}
	return match(f.names, name)
}

func (f *Filter) lookupBytes(name []byte) (flags, bool) {
	if f.match != nil && f.match(string(name)) {
		return added, true
	}
	return match(f.names, name)
}

// Apply returns v with sensitive fields and keys removed or masked, and
// whether anything changed. It never modifies v or anything v points to: the
// parts of v on a path to a change are copied (copy-on-write) and the rest is
// shared with v. When nothing is sensitive it returns v itself and false, and
// for types that cannot hold a sensitive value (see the package doc) that
// costs one cache lookup and no allocation.
func (f *Filter) Apply(v any) (out any, changed bool) {
	return f.ApplyTo(v, nil, nil)
}

// ApplyTo is [Filter.Apply] that adds every redacted value to t and logs
// the first redaction of each type and field to log at debug level (see
// [Tally]). Either may be nil.
func (f *Filter) ApplyTo(v any, t *Tally, log *slog.Logger) (out any, changed bool) {
	if f == nil || f.off || v == nil {
		return v, false
	}
	rv := reflect.ValueOf(v)
	p := f.planFor(rv.Type())
	if p.kind == kSkip {
		return v, false
	}
	nv, changed := f.run(rv, p, t, log)
	if !changed {
		return v, false
	}
	return nv.Interface(), true
}

// Value is [Filter.Apply] for a value of static type T: it returns a redacted
// copy of v of the same type. For a T that cannot hold a sensitive value it
// does not box v and does not allocate.
func Value[T any](f *Filter, v T) (T, bool) {
	if f == nil || f.off {
		return v, false
	}
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Interface {
		p := f.planFor(t)
		if p.kind == kSkip {
			return v, false
		}
		return valueSlow(f, v, p)
	}
	out, changed := f.Apply(v)
	if !changed {
		return v, false
	}
	if out == nil {
		var zero T
		return zero, true
	}
	return out.(T), true
}

// valueSlow is split from Value so that taking v's address, which moves it to
// the heap, only happens for types that may need redacting.
func valueSlow[T any](f *Filter, v T, p *plan) (T, bool) {
	nv, changed := f.run(reflect.ValueOf(&v).Elem(), p, nil, nil)
	if !changed {
		return v, false
	}
	return nv.Interface().(T), true
}
