package redact

import (
	"context"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
)

// Bounds of what a Tally remembers to log each type and field once.
const (
	// MaxLoggedFields is how many distinct (type, field) pairs a Tally logs;
	// later ones are counted but not logged.
	MaxLoggedFields = 256
	// maxNameLen bounds a remembered and logged field or key name.
	maxNameLen = 128
)

// Tally counts the values a [Filter] redacts and logs, at debug level, the
// first redaction of each type and field: its type and name, never its
// value. Memory is bounded: it remembers at most [MaxLoggedFields] pairs,
// names cut to 128 bytes, and only while the logger has debug enabled. The
// zero value is ready to use; all methods are safe for concurrent use. Use
// one Tally per cache, so that each cache logs its own first redactions.
type Tally struct {
	n    atomic.Int64
	mu   sync.RWMutex
	seen map[site]struct{} // bounded by MaxLoggedFields
	full bool
}

// site is where a value was redacted: a struct field or map entry of a Go
// type, or a member of a JSON document (typ nil).
type site struct {
	typ  reflect.Type
	name string
}

// Count returns the number of values redacted so far: struct fields, map
// entries and JSON members.
func (t *Tally) Count() int64 {
	if t == nil {
		return 0
	}
	return t.n.Load()
}

// debugLogger returns log when it logs at debug level, else nil.
func debugLogger(t *Tally, log *slog.Logger) *slog.Logger {
	if t == nil || log == nil || !log.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	return log
}

// note logs s unless it was logged before or the Tally is full.
func (t *Tally) note(log *slog.Logger, typ reflect.Type, name string) {
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	s := site{typ: typ, name: name}
	t.mu.RLock()
	_, seen := t.seen[s]
	full := t.full
	t.mu.RUnlock()
	if seen || full {
		return
	}
	t.mu.Lock()
	if _, seen := t.seen[s]; seen || t.full {
		t.mu.Unlock()
		return
	}
	if len(t.seen) >= MaxLoggedFields {
		t.full = true
		t.mu.Unlock()
		log.Debug("aside: redaction: more redacted fields than are logged; later ones are only counted",
			"limit", MaxLoggedFields)
		return
	}
	if t.seen == nil {
		t.seen = make(map[site]struct{})
	}
	s.name = string([]byte(name)) // do not pin a large key's backing array
	t.seen[s] = struct{}{}
	t.mu.Unlock()
	where := "JSON body"
	if typ != nil {
		where = typ.String()
	}
	log.Debug("aside: redacted a sensitive field before storing it", "type", where, "field", name)
}
