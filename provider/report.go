package provider

import (
	"context"
	"reflect"
	"strings"
	"time"
)

// Optional abilities through which a provider reports on itself, for the
// Cache's Stats and Health and for metrics. None of them is on a hot path.

// Sizer is implemented by providers that know how many bytes they hold and
// the bound they hold them under (the in-process memory provider). Size is
// cheap: it never walks the keys.
type Sizer interface {
	Size(ctx context.Context) (used, limit int64, err error)
}

// MemberStats is what a composite provider counts for one of its stores
// since it was created, so that they can be compared side by side (during a
// migration from one store to another, say).
type MemberStats struct {
	// Name says what the store is ("memory", "upstash", "redis"...), unique
	// within the composite.
	Name string `json:"name"`
	// Role is its part in the composite ("primary", "secondary"...).
	Role string `json:"role"`
	// Hits and Misses count the reads it answered with and without a value.
	Hits   int64 `json:"hits"`
	Misses int64 `json:"misses"`
	// Errors counts its calls that failed (a refusal by an open circuit
	// included).
	Errors int64 `json:"errors"`
	// Calls counts the calls made to it, and CallTime is their total
	// duration: CallTime / Calls is its mean latency.
	Calls    int64         `json:"calls"`
	CallTime time.Duration `json:"call_time_ns"`
}

// Member is one store of a composite provider.
type Member struct {
	// Provider is the store itself, in which the Cache looks for Meter and
	// Sizer (through Unwrap, if it is wrapped).
	Provider Provider
	// Stats are the composite's figures for it.
	Stats MemberStats
}

// Composite is implemented by providers made of several stores (a fallback
// or a migration from one store to another). Members returns them, primary
// first; the Cache reports each one apart in Stats.Providers, and bills
// each Meter among them.
type Composite interface {
	Members() []Member
}

// Degrader is implemented by providers that can go on serving while a part
// of them fails: a fallback answering from its secondary store because its
// primary is unreachable, a migration whose second store misses writes.
// Degraded returns one reason per such condition, a sentence for people
// that never holds a key, a token or an address, and none when every part
// works. It never blocks. The Cache's Health reports each reason and is
// "degraded" while there is one.
type Degrader interface {
	Degraded() []string
}

// Unwrapper is implemented by providers that wrap another one (a circuit
// breaker, an instrumented provider). Unwrap returns the wrapped provider.
type Unwrapper interface {
	Unwrap() Provider
}

// Name says what p is, for stats and metric labels: the name of the package
// of the innermost provider under p's wrappers (Unwrapper), such as
// "memory", "redis" or "upstash".
func Name(p Provider) string {
	for {
		u, ok := p.(Unwrapper)
		if !ok {
			break
		}
		inner := u.Unwrap()
		if inner == nil {
			break
		}
		p = inner
	}
	t := reflect.TypeOf(p)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "unknown"
	}
	path := t.PkgPath()
	if path == "" {
		return t.Name()
	}
	return path[strings.LastIndexByte(path, '/')+1:]
}
