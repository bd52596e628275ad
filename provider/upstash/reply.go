package upstash

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
)

// The reply parser reads bytes from the network: it returns an error for
// anything that is not an Upstash reply and never panics. It allocates in
// proportion to its input (bounded by Options.MaxResponseBytes), nests at
// most maxDepth arrays, and makes at most maxValues values per body.

const (
	maxDepth  = 32
	maxValues = 1 << 22
)

// kind is the JSON type of a result.
type kind uint8

const (
	kNull kind = iota
	kInt
	kStr
	kArr
)

func (k kind) String() string {
	return [...]string{"null", "an integer", "a string", "an array"}[k]
}

// value is one result: null, an integer, a string (its bytes, which may
// alias the response body) or an array.
type value struct {
	kind kind
	num  int64
	str  []byte
	arr  []value
}

// outcome is the answer to one command: a result, or the server's error.
type outcome struct {
	val   value
	err   string
	isErr bool
}

var errReply = fmt.Errorf("%w: not an Upstash REST reply", ErrProtocol)

// parser walks a response body.
type parser struct {
	b      []byte
	i      int
	values int
}

// parseOutcome parses the reply to one command sent to POST /:
// {"result":...} or {"error":"..."}.
func parseOutcome(body []byte) (outcome, error) {
	p := parser{b: body}
	p.space()
	o, err := p.outcome()
	if err != nil {
		return outcome{}, err
	}
	if err := p.end(); err != nil {
		return outcome{}, err
	}
	return o, nil
}

// parseOutcomes parses the reply to a pipeline of n commands: an array of n
// outcomes. A body that is one object instead, {"error":"..."}, is the
// server refusing the whole request: it is returned as that single outcome
// with whole set.
func parseOutcomes(body []byte, n int) (outs []outcome, whole bool, err error) {
	p := parser{b: body}
	p.space()
	if p.peek() == '{' {
		o, err := p.outcome()
		if err == nil {
			err = p.end()
		}
		if err != nil {
			return nil, false, err
		}
		if !o.isErr {
			return nil, false, fmt.Errorf("%w: a single result for a pipeline of %d commands", ErrProtocol, n)
		}
		return []outcome{o}, true, nil
	}
	if !p.eat('[') {
		return nil, false, errReply
	}
	outs = make([]outcome, 0, min(n, 1024))
	p.space()
	if !p.eat(']') {
		for {
			p.space()
			o, err := p.outcome()
			if err != nil {
				return nil, false, err
			}
			outs = append(outs, o)
			p.space()
			if p.eat(']') {
				break
			}
			if !p.eat(',') {
				return nil, false, errReply
			}
		}
	}
	if err := p.end(); err != nil {
		return nil, false, err
	}
	if len(outs) != n {
		return nil, false, fmt.Errorf("%w: %d results for %d commands", ErrProtocol, len(outs), n)
	}
	return outs, false, nil
}

func (p *parser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *parser) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) end() error {
	p.space()
	if p.i != len(p.b) {
		return fmt.Errorf("%w: trailing bytes after the reply", ErrProtocol)
	}
	return nil
}

// outcome parses {"result":V} or {"error":"..."}; other members are
// skipped, so that a server adding fields does not break the client.
func (p *parser) outcome() (outcome, error) {
	var o outcome
	if !p.eat('{') {
		return o, errReply
	}
	seen := false
	p.space()
	if p.eat('}') {
		return o, errReply
	}
	for {
		p.space()
		name, err := p.string()
		if err != nil {
			return o, err
		}
		p.space()
		if !p.eat(':') {
			return o, errReply
		}
		p.space()
		switch string(name) {
		case "result":
			v, err := p.value(1)
			if err != nil {
				return o, err
			}
			o.val, seen = v, true
		case "error":
			s, err := p.string()
			if err != nil {
				return o, err
			}
			o.err, o.isErr, seen = string(s), true, true
		default:
			if err := p.skip(1); err != nil {
				return o, err
			}
		}
		p.space()
		if p.eat('}') {
			break
		}
		if !p.eat(',') {
			return o, errReply
		}
	}
	if !seen {
		return o, fmt.Errorf("%w: an object with neither result nor error", ErrProtocol)
	}
	return o, nil
}

func (p *parser) count() error {
	p.values++
	if p.values > maxValues {
		return fmt.Errorf("%w: more than %d values", ErrProtocol, maxValues)
	}
	return nil
}

// value parses a result: null, a number, a string or an array of those.
func (p *parser) value(depth int) (value, error) {
	if err := p.count(); err != nil {
		return value{}, err
	}
	switch c := p.peek(); {
	case c == 'n':
		if !p.literal("null") {
			return value{}, errReply
		}
		return value{kind: kNull}, nil
	case c == '"':
		s, err := p.string()
		return value{kind: kStr, str: s}, err
	case c == '-' || ('0' <= c && c <= '9'):
		return p.number()
	case c == '[':
		if depth >= maxDepth {
			return value{}, fmt.Errorf("%w: arrays nested deeper than %d", ErrProtocol, maxDepth)
		}
		p.i++
		v := value{kind: kArr, arr: []value{}}
		p.space()
		if p.eat(']') {
			return v, nil
		}
		for {
			p.space()
			e, err := p.value(depth + 1)
			if err != nil {
				return value{}, err
			}
			v.arr = append(v.arr, e)
			p.space()
			if p.eat(']') {
				return v, nil
			}
			if !p.eat(',') {
				return value{}, errReply
			}
		}
	}
	return value{}, errReply
}

// skip passes over any JSON value (of a member this client does not read).
func (p *parser) skip(depth int) error {
	if depth >= maxDepth {
		return fmt.Errorf("%w: values nested deeper than %d", ErrProtocol, maxDepth)
	}
	if err := p.count(); err != nil {
		return err
	}
	switch c := p.peek(); {
	case c == '"':
		_, err := p.string()
		return err
	case c == 't':
		return p.literalErr("true")
	case c == 'f':
		return p.literalErr("false")
	case c == 'n':
		return p.literalErr("null")
	case c == '-' || ('0' <= c && c <= '9'):
		_, err := p.number()
		return err
	case c == '[' || c == '{':
		closer := byte(']')
		if c == '{' {
			closer = '}'
		}
		p.i++
		p.space()
		if p.eat(closer) {
			return nil
		}
		for {
			p.space()
			if c == '{' {
				if _, err := p.string(); err != nil {
					return err
				}
				p.space()
				if !p.eat(':') {
					return errReply
				}
				p.space()
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.space()
			if p.eat(closer) {
				return nil
			}
			if !p.eat(',') {
				return errReply
			}
		}
	}
	return errReply
}

func (p *parser) literal(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

func (p *parser) literalErr(s string) error {
	if !p.literal(s) {
		return errReply
	}
	return nil
}

// number parses a JSON number: an integer becomes kInt; any other number
// (Upstash sends none) is kept as its text, like a string.
func (p *parser) number() (value, error) {
	start := p.i
	p.eat('-')
	first := p.i
	if !p.digits() || (p.b[first] == '0' && p.i-first > 1) {
		return value{}, errReply // no digit, or a leading zero
	}
	integer := true
	if p.eat('.') {
		integer = false
		if !p.digits() {
			return value{}, errReply
		}
	}
	if p.eat('e') || p.eat('E') {
		integer = false
		if !p.eat('+') {
			p.eat('-')
		}
		if !p.digits() {
			return value{}, errReply
		}
	}
	text := p.b[start:p.i]
	if integer {
		if n, err := strconv.ParseInt(string(text), 10, 64); err == nil {
			return value{kind: kInt, num: n}, nil
		}
	}
	return value{kind: kStr, str: text}, nil
}

func (p *parser) digits() bool {
	n := 0
	for p.i < len(p.b) && '0' <= p.b[p.i] && p.b[p.i] <= '9' {
		p.i++
		n++
	}
	return n > 0
}

// string parses a JSON string and returns its bytes. A string without
// escapes, such as the base64 text of every value, is returned as a slice
// of the body; one with escapes is decoded by encoding/json.
func (p *parser) string() ([]byte, error) {
	if !p.eat('"') {
		return nil, errReply
	}
	start := p.i
	escaped := false
	for p.i < len(p.b) {
		switch c := p.b[p.i]; {
		case c == '"':
			raw := p.b[start:p.i]
			p.i++
			if !escaped {
				return raw, nil
			}
			var s string
			if err := json.Unmarshal(p.b[start-1:p.i], &s); err != nil {
				return nil, fmt.Errorf("%w: a malformed JSON string", ErrProtocol)
			}
			return []byte(s), nil
		case c == '\\':
			escaped = true
			p.i += 2
		case c < 0x20:
			return nil, fmt.Errorf("%w: a control byte inside a JSON string", ErrProtocol)
		default:
			p.i++
		}
	}
	return nil, fmt.Errorf("%w: an unterminated JSON string", ErrProtocol)
}

// decodeBase64Strings decodes, in place, every string of v that a server
// answering with `Upstash-Encoding: base64` encoded: all but "OK", which
// Upstash leaves plain.
func decodeBase64Strings(v *value) error {
	switch v.kind {
	case kStr:
		if string(v.str) == "OK" {
			return nil
		}
		out, err := base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(v.str))), v.str)
		if err != nil {
			return fmt.Errorf("%w: a string that is not base64 in a base64-encoded reply", ErrProtocol)
		}
		v.str = out
	case kArr:
		for i := range v.arr {
			if err := decodeBase64Strings(&v.arr[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// errShape reports a result of an unexpected type for op.
func errShape(op string, v value) error {
	return fmt.Errorf("%w: %s answered %s", ErrProtocol, op, v.kind)
}
