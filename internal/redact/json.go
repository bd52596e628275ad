package redact

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"slices"
)

// JSON redacts the members of every object in a JSON document whose key is
// sensitive, at any depth. In Drop mode the member is removed; in Mask mode a
// string value becomes the replacement and any other value null. As in
// [Filter.Apply], what is redacted depends on the key and the value: a
// string always; a number only under a key for numeric secrets (card
// numbers, PINs...); an object whole, or walked under keys whose secret is
// always a string ("token"); an array whole when an element would be
// redacted. null, false, true, "" and [] stay, and so does a string that
// already is the replacement.
//
// The document is edited in one pass, not decoded and re-encoded: key order,
// duplicate keys, whitespace and the exact text of numbers and strings are
// preserved; only the removed members and their commas, and replaced values,
// differ. When nothing is sensitive it returns body itself and false, without
// allocating. A body that is not valid JSON fails with [ErrNotJSON].
func (f *Filter) JSON(body []byte) (out []byte, changed bool, err error) {
	return f.JSONTo(body, nil, nil)
}

// JSONTo is [Filter.JSON] that adds every redacted member to t and logs the
// first redaction of each key to log at debug level (see [Tally]). Either
// may be nil.
func (f *Filter) JSONTo(body []byte, t *Tally, log *slog.Logger) (out []byte, changed bool, err error) {
	if !json.Valid(body) {
		return nil, false, ErrNotJSON
	}
	if f == nil || f.off {
		return body, false, nil
	}
	log = debugLogger(t, log)
	s := jsonScan{f: f, in: body, logKeys: log != nil}
	s.value(s.ws(0))
	if !s.changed {
		return body, false, nil
	}
	s.emit(len(body))
	if t != nil {
		t.n.Add(s.n)
		for _, k := range s.keys {
			t.note(log, nil, k)
		}
	}
	return s.out, true, nil
}

func jsonString(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}

var jsonNull = []byte("null")

// jsonScan walks a document already known to be valid, so it only finds
// boundaries and never reports syntax errors. Output is produced lazily:
// in[:pos] has been dealt with (copied to out or dropped), and nothing is
// copied until the first edit.
type jsonScan struct {
	f       *Filter
	in      []byte
	out     []byte
	pos     int
	changed bool
	n       int64    // members redacted
	logKeys bool     // collect keys: the Tally logs them
	keys    []string // their keys, for the Tally (at most MaxLoggedFields)
	// starts and ends are the offsets of every object and array and of the
	// byte past it, in document order, built on first use by end.
	starts, ends []int
}

// end returns the offset just past the object at i. Classifying an array
// skips the objects in it, which are walked later and may hold arrays that
// are classified in turn; looking their ends up in a table built in one pass
// keeps that linear in the document instead of quadratic in its depth.
func (s *jsonScan) end(i int) int {
	if s.starts == nil {
		var open []int
		for j := 0; j < len(s.in); j++ {
			switch s.in[j] {
			case '"':
				j = s.str(j) - 1
			case '{', '[':
				open = append(open, len(s.starts))
				s.starts = append(s.starts, j)
				s.ends = append(s.ends, 0)
			case '}', ']':
				s.ends[open[len(open)-1]] = j + 1
				open = open[:len(open)-1]
			}
		}
	}
	k, _ := slices.BinarySearch(s.starts, i)
	return s.ends[k]
}

// emit copies the input up to i.
func (s *jsonScan) emit(i int) {
	if i <= s.pos {
		return
	}
	if s.out == nil {
		s.out = make([]byte, 0, len(s.in))
	}
	s.out = append(s.out, s.in[s.pos:i]...)
	s.pos = i
}

// skip drops the input from pos up to i; callers emit up to pos first.
func (s *jsonScan) skip(i int) {
	s.pos = i
	s.changed = true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (s *jsonScan) ws(i int) int {
	for i < len(s.in) && isSpace(s.in[i]) {
		i++
	}
	return i
}

// value walks the value at i, editing what is inside it, and returns the
// offset just past it.
func (s *jsonScan) value(i int) int {
	switch s.in[i] {
	case '{':
		return s.object(i)
	case '[':
		return s.array(i)
	}
	return s.scalar(i)
}

// skipValue returns the offset just past the value at i without editing it.
func (s *jsonScan) skipValue(i int) int {
	switch s.in[i] {
	case '{', '[':
		depth := 0
		for ; i < len(s.in); i++ {
			switch s.in[i] {
			case '"':
				i = s.str(i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	return s.scalar(i)
}

func (s *jsonScan) scalar(i int) int {
	if s.in[i] == '"' {
		return s.str(i)
	}
	for i < len(s.in) {
		switch s.in[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// str returns the offset just past the string starting at i.
func (s *jsonScan) str(i int) int {
	for i++; i < len(s.in); i++ {
		switch s.in[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// object walks an object. A dropped member takes the comma before it with
// it, or, when no member before it is kept, the comma after it.
func (s *jsonScan) object(start int) int {
	i := s.ws(start + 1)
	if s.in[i] == '}' {
		return i + 1
	}
	kept := 0         // members kept so far
	keptEnd := 0      // end of the last kept member's value
	dropNext := false // leading members were dropped: drop the comma before the next kept one
	for {
		keyStart := i
		keyEnd := s.str(i)
		vStart := s.ws(s.ws(keyEnd) + 1) // skip the colon
		var vEnd int
		if s.redactMember(keyStart, keyEnd, vStart) {
			vEnd = s.skipValue(vStart)
			replacement, drop := s.leaf(s.in[vStart:vEnd])
			if drop {
				switch {
				case kept > 0:
					s.emit(keptEnd)
				case !dropNext:
					s.emit(keyStart)
				}
				s.skip(vEnd)
				s.redacted(keyStart, keyEnd)
				dropNext = kept == 0
			} else {
				if dropNext {
					s.skip(keyStart)
					dropNext = false
				}
				if replacement != nil {
					s.emit(vStart)
					s.out = append(s.out, replacement...)
					s.skip(vEnd)
					s.redacted(keyStart, keyEnd)
				}
				kept++
				keptEnd = vEnd
			}
		} else {
			if dropNext {
				s.skip(keyStart)
				dropNext = false
			}
			vEnd = s.value(vStart)
			kept++
			keptEnd = vEnd
		}
		i = s.ws(vEnd)
		if s.in[i] == '}' {
			return i + 1
		}
		i = s.ws(i + 1) // skip the comma
	}
}

func (s *jsonScan) array(start int) int {
	i := s.ws(start + 1)
	if s.in[i] == ']' {
		return i + 1
	}
	for {
		i = s.ws(s.value(i))
		if s.in[i] == ']' {
			return i + 1
		}
		i = s.ws(i + 1)
	}
}

// redactMember decides whether the member whose key is in[keyStart:keyEnd]
// and whose value starts at vStart is redacted whole. When it is not, the
// caller walks the value as any other.
func (s *jsonScan) redactMember(keyStart, keyEnd, vStart int) bool {
	fl, ok := s.keyFlags(s.in[keyStart:keyEnd])
	if !ok {
		return false
	}
	if s.in[vStart] == '{' {
		return fl&walk == 0 // without looking for its end
	}
	act, _ := s.action(vStart, fl)
	return act == aRedact
}

// keyFlags checks a quoted key. Keys without escapes are checked in place
// without allocating.
func (s *jsonScan) keyFlags(quoted []byte) (flags, bool) {
	raw := quoted[1 : len(quoted)-1]
	if bytes.IndexByte(raw, '\\') < 0 {
		return s.f.lookupBytes(raw)
	}
	key, ok := unquote(quoted)
	if !ok {
		return 0, false // unreachable: the document is valid
	}
	return s.f.lookup(key)
}

func unquote(quoted []byte) (string, bool) {
	var key string
	if json.Unmarshal(quoted, &key) != nil {
		return "", false
	}
	return key, true
}

// action classifies the value at i as valueAction does a decoded one, and
// returns the offset past it unless the action is aRedact (the caller skips
// the value then). Each nested array is scanned once.
func (s *jsonScan) action(i int, fl flags) (action, int) {
	switch c := s.in[i]; c {
	case '"':
		return aRedact, 0
	case '{':
		if fl&walk != 0 {
			return aWalk, s.end(i)
		}
		return aRedact, 0
	case '[':
		act := aKeep
		j := s.ws(i + 1)
		if s.in[j] == ']' {
			return aKeep, j + 1
		}
		for {
			a, end := s.action(j, fl)
			switch a {
			case aRedact:
				return aRedact, 0
			case aWalk:
				act = aWalk
			}
			j = s.ws(end)
			if s.in[j] == ']' {
				return act, j + 1
			}
			j = s.ws(j + 1)
		}
	case 't', 'f', 'n':
		return aKeep, s.scalar(i)
	}
	if fl&numeric != 0 {
		return aRedact, 0
	}
	return aKeep, s.scalar(i)
}

// redacted counts a redacted member and keeps its key for the Tally.
func (s *jsonScan) redacted(keyStart, keyEnd int) {
	s.n++
	if !s.logKeys || len(s.keys) >= MaxLoggedFields {
		return
	}
	quoted := s.in[keyStart:keyEnd]
	key := string(quoted[1 : len(quoted)-1])
	if bytes.IndexByte(quoted, '\\') >= 0 {
		key, _ = unquote(quoted)
	}
	s.keys = append(s.keys, key)
}

// leaf decides a sensitive member's value: kept (nil, false), replaced, or
// dropped.
func (s *jsonScan) leaf(v []byte) (replacement []byte, drop bool) {
	switch string(v) {
	case "null", "true", "false", `""`:
		return nil, false // unreachable after action, except ""
	}
	if s.f.mode == Drop {
		return nil, true
	}
	if v[0] == '"' {
		if bytes.Equal(v, s.f.maskJSON) {
			return nil, false // already masked
		}
		return s.f.maskJSON, false
	}
	return jsonNull, false
}
