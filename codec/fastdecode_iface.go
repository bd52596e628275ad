package codec

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// time.Time and empty interfaces for the fast decoder, mirroring
// vmihailenco/msgpack v5.4.1 time.go, ext.go, decode.go (DecodeInterface)
// and decode_value.go (decodeInterfaceValue).

var (
	timeType = reflect.TypeFor[time.Time]()
	anyType  = reflect.TypeFor[any]()
)

// The plans for the two destinations msgpack's Decode treats specially at
// the top level: *time.Time (DecodeTime, which accepts more forms than a
// time.Time field) and a pointer to an empty interface (a non-nil content
// must be a pointer).
var (
	timeTopPlan  = &plan{kind: kTimeTop, typ: timeType}
	ifaceTopPlan = &plan{kind: kIfaceTop, typ: anyType}
)

func isEmptyInterface(t reflect.Type) bool {
	return t.Kind() == reflect.Interface && t.NumMethod() == 0
}

const timeExtID = -1 // msgpack's timeExtID

var (
	// errUnaddressable stands for a reflect panic in msgpack: it decodes
	// into a non-nil interface's content, which is not addressable, so
	// setting it panics. The fast decoder fails instead.
	errUnaddressable = errors.New("msgpack: cannot decode into the non-pointer value an interface holds (msgpack/v5 panics)")
	// errNilTime stands for msgpack's panic on nil into a time.Time
	// (decodeNilValue calls IsNil on a struct).
	errNilTime = errors.New("msgpack: nil decoding time.Time (msgpack/v5 panics)")
	errDepth   = fmt.Errorf("msgpack: interface values nest deeper than %d", maxMsgpackDepth)
)

// extHeader is Decoder.extHeader after the code c: the payload length and
// the ext type.
func extHeader(b []byte, i int, c byte) (int, int8, int, error) {
	var n int
	switch c {
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		n = 1 << (c - 0xd4)
	case 0xc7, 0xc8, 0xc9:
		var (
			u   uint64
			err error
		)
		if u, i, err = uintN(b, i, 1<<(c-0xc7)); err != nil {
			return 0, 0, i, err
		}
		n = int(u)
	default:
		return 0, 0, i, invalidCode(c, "ext len")
	}
	if i >= len(b) {
		return 0, 0, i, errEOF
	}
	return n, int8(b[i]), i + 1, nil
}

// timePayload is Decoder.decodeTime: an n-byte time ext payload. A zero
// result is not yet converted to UTC.
func timePayload(b []byte, i, n int) (time.Time, int, error) {
	if n > len(b)-i {
		return time.Time{}, i, errEOF
	}
	p := b[i : i+n]
	var tm time.Time
	switch n {
	case 4:
		tm = time.Unix(int64(uint32(p[0])<<24|uint32(p[1])<<16|uint32(p[2])<<8|uint32(p[3])), 0)
	case 8:
		sec, _, _ := uintN(p, 0, 8)
		nsec := int64(sec >> 34)
		sec &= 0x00000003ffffffff
		tm = time.Unix(int64(sec), nsec)
	case 12:
		nsec, _, _ := uintN(p, 0, 4)
		sec, _, _ := uintN(p, 4, 8)
		tm = time.Unix(int64(sec), int64(nsec))
	default:
		return time.Time{}, i + n, fmt.Errorf("msgpack: invalid ext len=%d decoding time", n)
	}
	return tm, i + n, nil
}

// decodeTimeExt is msgpack's registered decoder for a time.Time value
// (nilAwareDecoder over makeExtDecoder over timeDecoder): only ext type -1.
func decodeTimeExt(b []byte, i int, dst *time.Time) (int, error) {
	c, i, err := readCode(b, i)
	if err != nil {
		return i, err
	}
	if c == 0xc0 {
		return i, errNilTime
	}
	n, typ, i, err := extHeader(b, i, c)
	if err != nil {
		return i, err
	}
	if typ != timeExtID {
		return i, fmt.Errorf("msgpack: got ext type=%d, wanted %d", typ, timeExtID)
	}
	tm, i, err := timePayload(b, i, n)
	if err != nil {
		return i, err
	}
	if tm.IsZero() {
		tm = tm.UTC()
	}
	*dst = tm
	return i, nil
}

// decodeTimeTop is Decode(*time.Time), that is Decoder.DecodeTime: also a
// two-element array of seconds and nanoseconds, an RFC 3339 string, and ext
// type 13. Like Decode it stores the result even when it fails.
func decodeTimeTop(b []byte, i int, dst *time.Time) (int, error) {
	tm, i, err := decodeTime(b, i)
	*dst = tm
	return i, err
}

func decodeTime(b []byte, i int) (time.Time, int, error) {
	c, i, err := readCode(b, i)
	if err != nil {
		return time.Time{}, i, err
	}
	switch {
	case c == 0x92:
		var sec, nsec int64
		if c, i, err = readCode(b, i); err != nil {
			return time.Time{}, i, err
		}
		if sec, i, err = decodeInt(b, i, c); err != nil {
			return time.Time{}, i, err
		}
		if c, i, err = readCode(b, i); err != nil {
			return time.Time{}, i, err
		}
		if nsec, i, err = decodeInt(b, i, c); err != nil {
			return time.Time{}, i, err
		}
		return time.Unix(sec, nsec), i, nil
	case c >= 0xa0 && c <= 0xbf, c == 0xd9, c == 0xda, c == 0xdb:
		var s string
		if s, i, err = stringAfterCode(b, i, c); err != nil {
			return time.Time{}, i, err
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		return tm, i, err
	}
	n, typ, i, err := extHeader(b, i, c)
	if err != nil {
		return time.Time{}, i, err
	}
	if typ != timeExtID && typ != 13 {
		return time.Time{}, i, fmt.Errorf("msgpack: invalid time ext id=%d", typ)
	}
	tm, i, err := timePayload(b, i, n)
	if err != nil {
		return time.Time{}, i, err
	}
	if tm.IsZero() {
		return tm.UTC(), i, nil
	}
	return tm, i, nil
}

// stringAfterCode is Decoder.string.
func stringAfterCode(b []byte, i int, c byte) (string, int, error) {
	n, i, err := bytesLen(b, i, c)
	if err != nil || n <= 0 {
		return "", i, err
	}
	if n > len(b)-i {
		return "", i, errEOF
	}
	return string(b[i : i+n]), i + n, nil
}

// decodeAny is Decoder.DecodeInterface (not the loose variant): the Go type
// follows the msgpack code.
//
// Claimed lengths cannot make it allocate more than the input could hold,
// even in bytes checkMsgpack never walked as values (an ext payload that a
// map destination reads as a map, see decodeMapLen): pending counts the
// values the enclosing containers still expect after this one, and a
// container claiming more elements than the remaining bytes can hold
// beside them fails at once. That is exact: every value takes at least
// one byte, so msgpack would fail too, after allocating. pending starts
// again at zero below a typed container (a []any field, say), so the
// claims are also charged to the call's budget (bud, see claim). depth
// counts the enclosing containers; past maxMsgpackDepth it fails where
// msgpack would recurse on (input checkMsgpack walked never nests that
// deep).
func decodeAny(b []byte, i, depth, pending int, bud *int) (any, int, error) {
	start := i
	c, i, err := readCode(b, i)
	if err != nil {
		return nil, i, err
	}
	switch {
	case c <= 0x7f || c >= 0xe0:
		return int8(c), i, nil
	case c <= 0x8f:
		return decodeMapAny(b, start, depth+1, pending, bud)
	case c <= 0x9f:
		return decodeSliceAny(b, i, c, depth+1, pending, bud)
	case c <= 0xbf:
		return anyString(stringAfterCode(b, i, c))
	}
	var u uint64
	switch c {
	case 0xc0:
		return nil, i, nil
	case 0xc2:
		return false, i, nil
	case 0xc3:
		return true, i, nil
	case 0xca:
		if u, i, err = uintN(b, i, 4); err != nil {
			return nil, i, err
		}
		return math.Float32frombits(uint32(u)), i, nil
	case 0xcb:
		if u, i, err = uintN(b, i, 8); err != nil {
			return nil, i, err
		}
		return math.Float64frombits(u), i, nil
	case 0xcc, 0xd0:
		if u, i, err = uintN(b, i, 1); err != nil {
			return nil, i, err
		}
		if c == 0xcc {
			return uint8(u), i, nil
		}
		return int8(u), i, nil
	case 0xcd, 0xd1:
		if u, i, err = uintN(b, i, 2); err != nil {
			return nil, i, err
		}
		if c == 0xcd {
			return uint16(u), i, nil
		}
		return int16(u), i, nil
	case 0xce, 0xd2:
		if u, i, err = uintN(b, i, 4); err != nil {
			return nil, i, err
		}
		if c == 0xce {
			return uint32(u), i, nil
		}
		return int32(u), i, nil
	case 0xcf, 0xd3:
		if u, i, err = uintN(b, i, 8); err != nil {
			return nil, i, err
		}
		if c == 0xcf {
			return u, i, nil
		}
		return int64(u), i, nil
	case 0xc4, 0xc5, 0xc6: // Decoder.bytes: never nil, even when empty
		var n int
		if n, i, err = bytesLen(b, i, c); err != nil {
			return nil, i, err
		}
		if n > len(b)-i {
			return nil, i, errEOF
		}
		out := make([]byte, n)
		copy(out, b[i:i+n])
		return out, i + n, nil
	case 0xd9, 0xda, 0xdb:
		return anyString(stringAfterCode(b, i, c))
	case 0xdc, 0xdd:
		return decodeSliceAny(b, i, c, depth+1, pending, bud)
	case 0xde, 0xdf:
		return decodeMapAny(b, start, depth+1, pending, bud)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xc7, 0xc8, 0xc9:
		return decodeExtAny(b, start, i, c)
	}
	return nil, i, fmt.Errorf("msgpack: unknown code %x decoding interface{}", c)
}

func anyString(s string, i int, err error) (any, int, error) {
	if err != nil {
		return nil, i, err
	}
	return s, i, nil
}

// decodeSliceAny is Decoder.decodeSlice: a non-nil []any.
func decodeSliceAny(b []byte, i int, c byte, depth, pending int, bud *int) (any, int, error) {
	if depth > maxMsgpackDepth {
		return nil, i, errDepth
	}
	n, i, err := arrayLen(b, i, c)
	if err != nil {
		return nil, i, err
	}
	if n > len(b)-i-pending {
		return nil, i, errEOF
	}
	if err = claim(bud, n); err != nil {
		return nil, i, err
	}
	s := make([]any, n)
	for k := range s {
		if s[k], i, err = decodeAny(b, i, depth, pending+n-1-k, bud); err != nil {
			return nil, i, err
		}
	}
	return s, i, nil
}

// decodeMapAny is Decoder.DecodeMap: keys by DecodeString, values by
// DecodeInterface, and like every map DecodeMapLen skips an ext header in
// front of the map; nil gives a nil map.
func decodeMapAny(b []byte, i, depth, pending int, bud *int) (map[string]any, int, error) {
	if depth > maxMsgpackDepth {
		return nil, i, errDepth
	}
	n, i, err := decodeMapLen(b, i)
	if err != nil || n == -1 {
		return nil, i, err
	}
	if n > (len(b)-i-pending)/2 { // a key and a value per entry
		return nil, i, errEOF
	}
	if err = claim(bud, 2*n); err != nil {
		return nil, i, err
	}
	m := make(map[string]any, min(n, 1e6))
	for e := range n {
		var (
			k string
			v any
		)
		if k, i, err = decodeString(b, i); err != nil {
			return nil, i, err
		}
		if v, i, err = decodeAny(b, i, depth, pending+2*(n-1-e), bud); err != nil {
			return nil, i, err
		}
		m[k] = v
	}
	return m, i, nil
}

// decodeMapStringAny is decodeMapStringInterfacePtr: the map is replaced,
// not merged into, and left alone when decoding fails.
func decodeMapStringAny(b []byte, i int, dst *map[string]any, bud *int) (int, error) {
	m, i, err := decodeMapAny(b, i, 0, 0, bud)
	if err != nil {
		return i, err
	}
	*dst = m
	return i, nil
}

// decodeExtAny is Decoder.decodeInterfaceExt. Ext type -1 is msgpack's
// time.Time; any other type is decoded by msgpack itself (it knows which
// types were registered with msgpack.RegisterExt: an unregistered one fails
// right after the header, a registered one runs the registrant's code).
func decodeExtAny(b []byte, start, i int, c byte) (any, int, error) {
	n, typ, i, err := extHeader(b, i, c)
	if err != nil {
		return nil, i, err
	}
	if typ != timeExtID {
		var v any
		i, err = delegate(b, start, func(d *msgpack.Decoder) error {
			var err error
			v, err = d.DecodeInterface()
			return err
		})
		if err != nil {
			return nil, i, err
		}
		return v, i, nil
	}
	tm, i, err := timePayload(b, i, n)
	if err != nil {
		return nil, i, err
	}
	if tm.IsZero() {
		tm = tm.UTC()
	}
	return tm, i, nil
}

// decodeIface is decodeInterfaceValue for an empty interface (top false)
// or, for the pointer Unmarshal received (top true), Decode's handling of
// it. A nil interface gets what DecodeInterface returns. A non-nil one is
// decoded into: msgpack decodes into its content, which is addressable only
// through a pointer.
func decodeIface(b []byte, i int, dst *any, top bool, bud *int) (int, error) {
	cur := *dst
	if cur == nil {
		v, i, err := decodeAny(b, i, 0, 0, bud)
		if err != nil {
			return i, err
		}
		if v != nil {
			*dst = v
		}
		return i, nil
	}
	rv := reflect.ValueOf(cur)
	if rv.Kind() == reflect.Pointer {
		return decodeThroughPointer(b, i, rv, bud)
	}
	if top {
		return i, fmt.Errorf("msgpack: Decode(non-pointer %s)", rv.Type())
	}
	switch cur.(type) {
	case bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64,
		string, []byte, []any, map[string]any, time.Time:
		// What DecodeInterface produces (a repeated key decodes twice into
		// the same interface). msgpack fails or panics on every one of
		// them, and for []any it first allocates the claimed length.
		return i, errUnaddressable
	}
	// A value the caller put there, of the caller's type.
	return delegate(b, i, func(d *msgpack.Decoder) error { return d.DecodeValue(rv) })
}

// decodeThroughPointer is ptrValueDecoder on the non-settable pointer an
// interface holds, when the pointed-to type has a plan: nil input clears
// nothing (msgpack panics setting a non-nil pointer to nil), and a nil
// pointer cannot be allocated (msgpack panics) unless the input is nil.
// Without a plan, msgpack decodes it.
func decodeThroughPointer(b []byte, i int, rv reflect.Value, bud *int) (int, error) {
	pl := nestedPlan(rv.Type())
	if pl == nil {
		return delegate(b, i, func(d *msgpack.Decoder) error { return d.DecodeValue(rv) })
	}
	if i < len(b) && b[i] == 0xc0 {
		if !rv.IsNil() {
			return i, errUnaddressable
		}
		return i + 1, nil
	}
	if rv.IsNil() {
		return i, errUnaddressable
	}
	return pl.decode(b, i, rv.UnsafePointer(), bud)
}

// delegate runs fn, a vmihailenco/msgpack decode, on b[i:] and returns the
// position after what it consumed. msgpack panics on some inputs (setting
// values it cannot address); a panic becomes an error, and that decoder is
// not reused.
func delegate(b []byte, i int, fn func(*msgpack.Decoder) error) (j int, err error) {
	d := msgpackDecoders.Get().(*msgpackDecoder)
	d.r.Reset(b[i:])
	d.dec.Reset(&d.r)
	done := false
	defer func() {
		j = len(b) - d.r.Len()
		if !done {
			err = fmt.Errorf("msgpack: panic: %v", recover())
			return
		}
		d.r.Reset(nil)
		d.dec.Reset(nil)
		msgpackDecoders.Put(d)
	}()
	err = fn(d.dec)
	done = true
	return j, err
}
