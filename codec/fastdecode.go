package codec

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/tagparser/v2"
)

// This file is a second decoder for the default msgpack Serializer. It
// produces exactly what vmihailenco/msgpack/v5 (v5.4.1, default settings)
// produces, for the types it supports, without msgpack's per-call costs: the
// type lookup in a sync.Map, a field-name map lookup that copies the name,
// an io.ReadFull per string. It reads the byte slice directly.
//
// "Exactly" includes the awkward parts, because callers may decode into a
// value that is not zero and because a map can repeat a key: msgpack decodes
// into what is already there (struct fields absent from the input keep their
// value, a slice with enough capacity is reused and its elements decoded in
// place, a map gains entries, a non-nil pointer's target is decoded into),
// and each rule below mirrors the msgpack function named next to it. The
// bytes consumed are the bytes msgpack consumes, so trailing input is
// ignored as msgpack ignores it (checkMsgpack has rejected it already).
//
// A plan is built once per destination type. A type is supported only if
// every type it reaches is: bool, ints, uints (not uintptr), floats,
// strings, []byte and [N]byte, slices, arrays, pointers, maps with string
// keys, structs whose fields follow the naming rules ported in fieldsOf,
// time.Time (msgpack's ext type -1; fastdecode_iface.go) and empty
// interfaces (decoded as DecodeInterface decodes them: int8 for a fixint,
// uint16 for a uint16, float32 for a float32, []byte for bin, []any,
// map[string]any, time.Time for ext -1). Anything else anywhere in the type
// makes the whole type go to vmihailenco/msgpack: a type with a
// msgpack.CustomDecoder, msgpack.Unmarshaler, encoding.BinaryUnmarshaler or
// encoding.TextUnmarshaler method (so also a struct embedding time.Time),
// interfaces with methods (error, fmt.Stringer), maps with non-string
// keys, complex numbers, channels, funcs, embedded pointers, unexported
// embedded structs, `intern` tags.
//
// Inside a supported type, msgpack still decodes two things, each from the
// input's remaining bytes, with a panic turned into an error: an ext value
// of a type other than -1 met by an interface (only msgpack knows which
// ext types were registered; an unregistered one fails after its header),
// and a value the caller stored in an interface before decoding, when it
// is not a pointer to a supported type or one of the types DecodeInterface
// produces.
//
// Where msgpack panics (nil into a time.Time; decoding into the non-pointer
// content of a non-nil interface, as a repeated key does), the fast decoder
// returns an error.
//
// msgpack's DecodeMapLen reads an ext header in front of a map as part of
// the map, so a map destination decodes an ext's payload, which
// checkMsgpack skipped as opaque bytes, as a map. msgpack then allocates
// whatever lengths that payload claims (decodeSlice, DecodeMap and
// decodeSliceValue, whose alloc limit is never applied in v5.4.1): a
// dozen bytes can claim gigabytes. The fast decoder mirrors the misreading
// but bounds every claim by the bytes that remain, and all the claims of
// one call together by the input's length (see claim), so on the fast path
// such input fails having allocated at most the input's length in
// elements. The hole remains wherever msgpack decodes: types that fall
// back, and the two delegated cases above.
//
// Not detected: a decoder installed with msgpack.Register,
// msgpack.RegisterExt or msgpack.RegisterExtDecoder for a plain type, for
// time.Time, or for ext type -1. Such a type (or time) would be decoded by
// the rules here instead of by that function.

// plans maps a pointer type (what Unmarshal receives) to its *plan, or to
// nil when the pointed-to type is not supported.
var plans sync.Map

// planFor returns the plan for v's pointed-to type and the pointer, or nil
// when v must go to vmihailenco/msgpack.
func planFor(v any) (*plan, unsafe.Pointer) {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil, nil
	}
	p := reflect.ValueOf(v).UnsafePointer()
	if p == nil {
		return nil, nil
	}
	// msgpack's Decode treats these two at the top level unlike anywhere
	// else (fastdecode_iface.go).
	switch e := t.Elem(); {
	case e == timeType:
		return timeTopPlan, p
	case isEmptyInterface(e):
		return ifaceTopPlan, p
	}
	return nestedPlan(t), p
}

// nestedPlan returns the plan for the type pointer type t points to, as
// msgpack's getDecoder decodes it, or nil when it is not supported.
func nestedPlan(t reflect.Type) *plan {
	if pl, ok := plans.Load(t); ok {
		return pl.(*plan)
	}
	b := planBuilder{plans: map[reflect.Type]*plan{}}
	pl, err := b.build(t.Elem())
	if err != nil {
		pl = nil
	}
	plans.Store(t, pl)
	return pl
}

type planKind uint8

const (
	kBool planKind = iota
	kInt
	kUint
	kFloat32
	kFloat64
	kString
	kBytes       // slice of a uint8 kind: decodeBytesValue
	kByteArray   // array of a uint8 kind: decodeByteArrayValue
	kStringSlice // slice whose element type is exactly string: decodeStringSliceValue
	kSlice       // decodeSliceValue
	kArray       // decodeArrayValue
	kPointer     // ptrValueDecoder
	kMapStringString
	kMap // decodeMapValue with a string-kind key
	kStruct
	kTime           // time.Time: msgpack's registered ext decoder
	kTimeTop        // *time.Time given to Unmarshal: Decoder.DecodeTime
	kIface          // an empty interface: decodeInterfaceValue
	kIfaceTop       // *interface{} given to Unmarshal: Decode
	kMapStringIface // key string, value exactly interface{}: decodeMapStringInterfaceValue
)

// plan decodes one type.
type plan struct {
	kind planKind
	typ  reflect.Type
	size uintptr // width of ints and uints in bytes; length of arrays
	elem *plan   // slice, array, pointer and map elements
	esz  uintptr // element size

	// Structs. fields is msgpack's fields.List (array-encoded structs
	// decode in that order), byName its fields.Map; inOrder[k] is the
	// field that key k names when keys come in List order, as msgpack
	// writes them.
	fields  []*fieldPlan
	byName  map[string]*fieldPlan
	inOrder []*fieldPlan
}

type fieldPlan struct {
	name   string
	offset uintptr
	plan   *plan
}

var (
	customDecoderType     = reflect.TypeFor[msgpack.CustomDecoder]()
	unmarshalerType       = reflect.TypeFor[msgpack.Unmarshaler]()
	binaryUnmarshalerType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	textUnmarshalerType   = reflect.TypeFor[encoding.TextUnmarshaler]()
	customEncoderType     = reflect.TypeFor[msgpack.CustomEncoder]()
	marshalerType         = reflect.TypeFor[msgpack.Marshaler]()
	binaryMarshalerType   = reflect.TypeFor[encoding.BinaryMarshaler]()
	textMarshalerType     = reflect.TypeFor[encoding.TextMarshaler]()
	stringType            = reflect.TypeFor[string]()
)

var errUnsupported = errors.New("type not supported by the fast decoder")

// hasMethods reports whether t or *t has a method msgpack's getDecoder
// (decode) or getEncoder (encode) would use instead of the kind's default.
func hasMethods(t reflect.Type, ifaces ...reflect.Type) bool {
	pt := reflect.PointerTo(t)
	for _, it := range ifaces {
		if t.Implements(it) || pt.Implements(it) {
			return true
		}
	}
	return false
}

func hasDecodeMethods(t reflect.Type) bool {
	return hasMethods(t, customDecoderType, unmarshalerType, binaryUnmarshalerType, textUnmarshalerType)
}

func hasEncodeMethods(t reflect.Type) bool {
	return hasMethods(t, customEncoderType, marshalerType, binaryMarshalerType, textMarshalerType)
}

type planBuilder struct {
	plans map[reflect.Type]*plan // this build's plans, so recursive types terminate
}

func (b *planBuilder) build(t reflect.Type) (*plan, error) {
	if pl, ok := b.plans[t]; ok {
		return pl, nil
	}
	if t == timeType { // its methods are not what msgpack uses: a registered ext decoder is
		pl := &plan{kind: kTime, typ: t}
		b.plans[t] = pl
		return pl, nil
	}
	// *time.Time has time.Time's methods, but msgpack's getDecoder sees
	// the registered time.Time first and decodes through the pointer.
	if hasDecodeMethods(t) && (t.Kind() != reflect.Pointer || t.Elem() != timeType) {
		return nil, errUnsupported
	}
	pl := &plan{typ: t}
	b.plans[t] = pl
	var err error
	switch t.Kind() {
	case reflect.Bool:
		pl.kind = kBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		pl.kind, pl.size = kInt, t.Size()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		pl.kind, pl.size = kUint, t.Size()
	case reflect.Float32:
		pl.kind = kFloat32
	case reflect.Float64:
		pl.kind = kFloat64
	case reflect.String:
		pl.kind = kString
	case reflect.Slice:
		switch {
		case t.Elem().Kind() == reflect.Uint8:
			pl.kind = kBytes
			_, err = b.build(t.Elem()) // msgpack ignores the element's methods; be stricter
		case t.Elem() == stringType:
			pl.kind = kStringSlice
		default:
			pl.kind = kSlice
			pl.elem, err = b.build(t.Elem())
			pl.esz = t.Elem().Size()
		}
	case reflect.Array:
		pl.size = uintptr(t.Len())
		if t.Elem().Kind() == reflect.Uint8 {
			pl.kind = kByteArray
			_, err = b.build(t.Elem())
		} else {
			pl.kind = kArray
			pl.elem, err = b.build(t.Elem())
			pl.esz = t.Elem().Size()
		}
	case reflect.Pointer:
		pl.kind = kPointer
		pl.elem, err = b.build(t.Elem())
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, errUnsupported
		}
		if _, err = b.build(t.Key()); err != nil {
			return nil, err
		}
		switch {
		case t.Key() == stringType && t.Elem() == stringType:
			pl.kind = kMapStringString
		case t.Key() == stringType && t.Elem() == anyType:
			pl.kind = kMapStringIface
		default:
			pl.kind = kMap
			pl.elem, err = b.build(t.Elem())
		}
	case reflect.Struct:
		pl.kind = kStruct
		err = b.buildStruct(pl)
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return nil, errUnsupported // msgpack's error special case, and panics
		}
		pl.kind = kIface
	default:
		// Uintptr has no msgpack decoder at all; Complex, Chan, Func and
		// UnsafePointer are not worth the risk.
		return nil, errUnsupported
	}
	if err != nil {
		return nil, err
	}
	return pl, nil
}

func (b *planBuilder) buildStruct(pl *plan) error {
	fs, err := fieldsOf(pl.typ)
	if err != nil {
		return err
	}
	byField := map[*msgpackField]*fieldPlan{}
	fp := func(f *msgpackField) (*fieldPlan, error) {
		if p, ok := byField[f]; ok {
			return p, nil
		}
		t, off := pl.typ, uintptr(0)
		for _, i := range f.index {
			sf := t.Field(i)
			off += sf.Offset
			t = sf.Type
		}
		fpl, err := b.build(t)
		if err != nil {
			return nil, err
		}
		p := &fieldPlan{name: f.name, offset: off, plan: fpl}
		byField[f] = p
		return p, nil
	}
	pl.byName = make(map[string]*fieldPlan, len(fs.byName))
	for name, f := range fs.byName {
		p, err := fp(f)
		if err != nil {
			return err
		}
		pl.byName[name] = p
	}
	for _, f := range fs.list {
		p, err := fp(f)
		if err != nil {
			return err
		}
		pl.fields = append(pl.fields, p)
		if pl.byName[p.name] == p {
			pl.inOrder = append(pl.inOrder, p)
		} else {
			pl.inOrder = append(pl.inOrder, nil)
		}
	}
	return nil
}

// msgpackField and msgpackFields mirror msgpack's field and fields.
type msgpackField struct {
	name  string
	index []int
}

type msgpackFields struct {
	byName map[string]*msgpackField // fields.Map
	list   []*msgpackField          // fields.List
}

func (fs *msgpackFields) add(f *msgpackField) {
	fs.byName[f.name] = f
	fs.list = append(fs.list, f)
}

// fieldsOf ports msgpack's getFields (types.go) with the default struct
// tag, returning errUnsupported where the port stops: unexported or pointer
// embedded fields, `intern` fields, and embedded types whose inlining
// depends on methods.
func fieldsOf(typ reflect.Type) (*msgpackFields, error) {
	fs := &msgpackFields{byName: map[string]*msgpackField{}}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := tagparser.Parse(f.Tag.Get("msgpack"))
		if tag.Name == "-" {
			continue
		}
		// A "_msgpack" field's as_array and omitempty only affect encoding.
		if f.PkgPath != "" && !f.Anonymous {
			continue
		}
		if f.PkgPath != "" || tag.HasOption("intern") {
			return nil, errUnsupported
		}
		field := &msgpackField{name: tag.Name, index: f.Index}
		if field.name == "" {
			field.name = f.Name
		}
		if f.Anonymous && !tag.HasOption("noinline") {
			if f.Type.Kind() == reflect.Pointer {
				return nil, errUnsupported
			}
			inline := tag.HasOption("inline")
			if inline {
				if f.Type.Kind() != reflect.Struct {
					return nil, errUnsupported // msgpack panics
				}
				if err := inlineFields(fs, f.Type, field); err != nil {
					return nil, err
				}
			} else {
				var err error
				if inline, err = shouldInline(fs, f.Type, field); err != nil {
					return nil, err
				}
			}
			if inline {
				fs.byName[field.name] = field
				continue
			}
		}
		fs.add(field)
		if alias, ok := tag.Options["alias"]; ok {
			fs.byName[alias] = field
		}
	}
	return fs, nil
}

func prefixed(prefix, index []int) []int {
	return append(append(make([]int, 0, len(prefix)+len(index)), prefix...), index...)
}

func inlineFields(fs *msgpackFields, typ reflect.Type, f *msgpackField) error {
	inner, err := fieldsOf(typ)
	if err != nil {
		return err
	}
	for _, field := range inner.list {
		if _, ok := fs.byName[field.name]; ok {
			continue // shadowed
		}
		field.index = prefixed(f.index, field.index)
		fs.add(field)
	}
	return nil
}

func shouldInline(fs *msgpackFields, typ reflect.Type, f *msgpackField) (bool, error) {
	if typ.Kind() != reflect.Struct {
		return false, nil
	}
	// msgpack inlines only when the type's encoder and decoder are the
	// plain struct ones; methods change that, and so would a registered
	// ext (time.Time has methods, so it lands here too).
	if hasEncodeMethods(typ) || hasDecodeMethods(typ) {
		return false, errUnsupported
	}
	inner, err := fieldsOf(typ)
	if err != nil {
		return false, err
	}
	for _, field := range inner.list {
		if _, ok := fs.byName[field.name]; ok {
			return false, nil
		}
	}
	for _, field := range inner.list {
		field.index = prefixed(f.index, field.index)
		fs.add(field)
	}
	return true, nil
}

// Decoding. Every function takes the input and a read position and returns
// the new position; they mirror msgpack's Decoder methods of the same name.

var errEOF = io.ErrUnexpectedEOF

func invalidCode(c byte, what string) error {
	return fmt.Errorf("msgpack: invalid code=%x decoding %s", c, what)
}

func readCode(b []byte, i int) (byte, int, error) {
	if i >= len(b) {
		return 0, i, errEOF
	}
	return b[i], i + 1, nil
}

// readN returns the position after n more bytes.
func readN(b []byte, i, n int) (int, error) {
	if n > len(b)-i {
		return i, errEOF
	}
	return i + n, nil
}

// uintN reads a big-endian unsigned integer of size bytes.
func uintN(b []byte, i, size int) (uint64, int, error) {
	if size > len(b)-i {
		return 0, i, errEOF
	}
	switch size {
	case 1:
		return uint64(b[i]), i + 1, nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b[i:])), i + 2, nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b[i:])), i + 4, nil
	default:
		return binary.BigEndian.Uint64(b[i:]), i + 8, nil
	}
}

// decodeInt is Decoder.int: every integer code, and nil as 0.
func decodeInt(b []byte, i int, c byte) (int64, int, error) {
	if c <= 0x7f || c >= 0xe0 {
		return int64(int8(c)), i, nil
	}
	var (
		n   uint64
		err error
	)
	switch c {
	case 0xc0:
		return 0, i, nil
	case 0xcc:
		n, i, err = uintN(b, i, 1)
		return int64(n), i, err
	case 0xd0:
		n, i, err = uintN(b, i, 1)
		return int64(int8(n)), i, err
	case 0xcd:
		n, i, err = uintN(b, i, 2)
		return int64(n), i, err
	case 0xd1:
		n, i, err = uintN(b, i, 2)
		return int64(int16(n)), i, err
	case 0xce:
		n, i, err = uintN(b, i, 4)
		return int64(n), i, err
	case 0xd2:
		n, i, err = uintN(b, i, 4)
		return int64(int32(n)), i, err
	case 0xcf, 0xd3:
		n, i, err = uintN(b, i, 8)
		return int64(n), i, err
	}
	return 0, i, invalidCode(c, "int64")
}

// bytesLen is Decoder.bytesLen: str and bin headers; -1 for nil.
func bytesLen(b []byte, i int, c byte) (int, int, error) {
	if c >= 0xa0 && c <= 0xbf {
		return int(c & 0x1f), i, nil
	}
	var (
		n   uint64
		err error
	)
	switch c {
	case 0xc0:
		return -1, i, nil
	case 0xd9, 0xc4:
		n, i, err = uintN(b, i, 1)
	case 0xda, 0xc5:
		n, i, err = uintN(b, i, 2)
	case 0xdb, 0xc6:
		n, i, err = uintN(b, i, 4)
	default:
		return 0, i, invalidCode(c, "string/bytes length")
	}
	return int(n), i, err
}

// arrayLen is Decoder.arrayLen; -1 for nil.
func arrayLen(b []byte, i int, c byte) (int, int, error) {
	if c >= 0x90 && c <= 0x9f {
		return int(c & 0x0f), i, nil
	}
	var (
		n   uint64
		err error
	)
	switch c {
	case 0xc0:
		return -1, i, nil
	case 0xdc:
		n, i, err = uintN(b, i, 2)
	case 0xdd:
		n, i, err = uintN(b, i, 4)
	default:
		return 0, i, invalidCode(c, "array length")
	}
	return int(n), i, err
}

// mapLen is Decoder.mapLen; -1 for nil.
func mapLen(b []byte, i int, c byte) (int, int, error) {
	if c >= 0x80 && c <= 0x8f {
		return int(c & 0x0f), i, nil
	}
	var (
		n   uint64
		err error
	)
	switch c {
	case 0xc0:
		return -1, i, nil
	case 0xde:
		n, i, err = uintN(b, i, 2)
	case 0xdf:
		n, i, err = uintN(b, i, 4)
	default:
		return 0, i, invalidCode(c, "map length")
	}
	return int(n), i, err
}

// decodeMapLen is Decoder.DecodeMapLen, which skips an ext header in front
// of a map (type byte, then the length bytes, read as codes).
func decodeMapLen(b []byte, i int) (int, int, error) {
	c, i, err := readCode(b, i)
	if err != nil {
		return 0, i, err
	}
	if (c >= 0xd4 && c <= 0xd8) || c == 0xc7 || c == 0xc8 || c == 0xc9 {
		hdr := 1
		switch c {
		case 0xc7:
			hdr += 1
		case 0xc8:
			hdr += 2
		case 0xc9:
			hdr += 4
		}
		if i, err = readN(b, i, hdr); err != nil {
			return 0, i, err
		}
		if c, i, err = readCode(b, i); err != nil {
			return 0, i, err
		}
	}
	return mapLen(b, i, c)
}

// decodeString is Decoder.DecodeString.
func decodeString(b []byte, i int) (string, int, error) {
	c, i, err := readCode(b, i)
	if err != nil {
		return "", i, err
	}
	n, i, err := bytesLen(b, i, c)
	if err != nil || n <= 0 {
		return "", i, err
	}
	if n > len(b)-i {
		return "", i, errEOF
	}
	return string(b[i : i+n]), i + n, nil
}

// skip is Decoder.Skip, iterative: it counts the values still to skip, so
// input nesting cannot deepen the Go stack.
func skip(b []byte, i int) (int, error) {
	for pending := 1; pending > 0; pending-- {
		c, j, err := readCode(b, i)
		if err != nil {
			return j, err
		}
		i = j
		var n int
		switch {
		case c <= 0x7f || c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		case c <= 0x8f:
			pending += 2 * int(c&0x0f)
		case c <= 0x9f:
			pending += int(c & 0x0f)
		case c <= 0xbf:
			n = int(c & 0x1f)
		default:
			var u uint64
			switch c {
			case 0xcc, 0xd0:
				n = 1
			case 0xcd, 0xd1:
				n = 2
			case 0xce, 0xd2, 0xca:
				n = 4
			case 0xcf, 0xd3, 0xcb:
				n = 8
			case 0xc4, 0xd9:
				u, i, err = uintN(b, i, 1)
				n = int(u)
			case 0xc5, 0xda:
				u, i, err = uintN(b, i, 2)
				n = int(u)
			case 0xc6, 0xdb:
				u, i, err = uintN(b, i, 4)
				n = int(u)
			case 0xdc:
				u, i, err = uintN(b, i, 2)
				pending += int(u)
			case 0xdd:
				u, i, err = uintN(b, i, 4)
				pending += int(u)
			case 0xde:
				u, i, err = uintN(b, i, 2)
				pending += 2 * int(u)
			case 0xdf:
				u, i, err = uintN(b, i, 4)
				pending += 2 * int(u)
			case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
				n = 1 + 1<<(c-0xd4)
			case 0xc7:
				u, i, err = uintN(b, i, 1)
				n = int(u) + 1
			case 0xc8:
				u, i, err = uintN(b, i, 2)
				n = int(u) + 1
			case 0xc9:
				u, i, err = uintN(b, i, 4)
				n = int(u) + 1
			default:
				return i, fmt.Errorf("msgpack: unknown code %x", c)
			}
			if err != nil {
				return i, err
			}
		}
		if i, err = readN(b, i, n); err != nil {
			return i, err
		}
	}
	return i, nil
}

type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

// unmarshal decodes the value at the start of b into the pl.typ at p and
// returns the position after it. It is the entry point: it gives the call
// its claim budget.
func (pl *plan) unmarshal(b []byte, p unsafe.Pointer) (int, error) {
	bud := len(b)
	return pl.decode(b, 0, p, &bud)
}

// errOverclaim: the containers met so far claim more elements in total than
// the input has bytes (see claim).
var errOverclaim = fmt.Errorf("msgpack: containers claim more elements than the input has bytes: %w", io.ErrUnexpectedEOF)

// claim charges n elements, about to be allocated because a container
// claims them, against *bud, the elements one Unmarshal call may still
// allocate from claims; it starts at the input's length.
//
// Checking each claim only against the bytes that remain is not enough:
// in bytes checkMsgpack never walked as values (an ext payload a map
// destination reads as a map, see decodeMapLen), every level of a
// recursive type (a struct holding a slice of itself) can claim all the
// remaining bytes before any element is read, and the allocations grow
// with the square of the input's size. With one budget for the call they
// stay linear: at most len(b) elements, each of its type's size.
//
// The budget fails only input msgpack fails on too. Every value the
// decoder reads takes at least one byte of b (its code byte; nil too),
// values are read one after another, and a container's elements are values
// of their own, a map's being its keys and its values. So a decode that
// succeeds reads at most len(b)-1 values below the top one, and only
// elements that are then all read are charged: a slice's new elements
// (those past the capacity it is decoded into, which is all of them for a
// new slice; the ones below it may be values msgpack decodes from nothing,
// in an interface the caller filled), a new map's keys and values,
// a []any's elements and a map[string]any's keys and values. A struct's
// map or array length, a fixed-size array's and a map already present
// allocate nothing from the claim and are not charged; strings and bin
// allocate at most the bytes they consume. The charged total therefore never
// exceeds len(b) when decoding succeeds, and since the fast decoder fails
// exactly where msgpack does, input that exceeds it fails in msgpack too,
// which first allocates what it claims.
func claim(bud *int, n int) error {
	if n < 0 || n > *bud { // n < 0: a 32-bit int overflowed
		return errOverclaim
	}
	*bud -= n
	return nil
}

// decode decodes the value at b[i:] into the pl.typ at p, charging bud (see
// claim).
func (pl *plan) decode(b []byte, i int, p unsafe.Pointer, bud *int) (int, error) {
	switch pl.kind {
	case kString:
		s, i, err := decodeString(b, i)
		if err != nil {
			return i, err
		}
		*(*string)(p) = s
		return i, nil

	case kInt, kUint:
		c, i, err := readCode(b, i)
		if err != nil {
			return i, err
		}
		n, i, err := decodeInt(b, i, c)
		if err != nil {
			return i, err
		}
		// reflect's SetInt and SetUint truncate to the width; the uint
		// codes of Decoder.uint give the same bits as Decoder.int.
		switch pl.size {
		case 1:
			*(*uint8)(p) = uint8(n)
		case 2:
			*(*uint16)(p) = uint16(n)
		case 4:
			*(*uint32)(p) = uint32(n)
		default:
			*(*uint64)(p) = uint64(n)
		}
		return i, nil

	case kBool:
		c, i, err := readCode(b, i)
		if err != nil {
			return i, err
		}
		switch c {
		case 0xc0, 0xc2:
			*(*bool)(p) = false
		case 0xc3:
			*(*bool)(p) = true
		default:
			return i, invalidCode(c, "bool")
		}
		return i, nil

	case kFloat32, kFloat64:
		c, i, err := readCode(b, i)
		if err != nil {
			return i, err
		}
		var f float64
		switch {
		case c == 0xca:
			var u uint64
			if u, i, err = uintN(b, i, 4); err != nil {
				return i, err
			}
			f = float64(math.Float32frombits(uint32(u)))
		case c == 0xcb && pl.kind == kFloat64:
			var u uint64
			if u, i, err = uintN(b, i, 8); err != nil {
				return i, err
			}
			f = math.Float64frombits(u)
		default:
			var n int64
			if n, i, err = decodeInt(b, i, c); err != nil {
				return i, invalidCode(c, "float")
			}
			if pl.kind == kFloat32 {
				f = float64(float32(n))
			} else {
				f = float64(n)
			}
		}
		if pl.kind == kFloat32 {
			*(*float32)(p) = float32(f)
		} else {
			*(*float64)(p) = f
		}
		return i, nil

	case kBytes:
		return decodeBytes(b, i, (*[]byte)(p))

	case kByteArray:
		c, i, err := readCode(b, i)
		if err != nil {
			return i, err
		}
		n, i, err := bytesLen(b, i, c)
		if err != nil || n == -1 {
			return i, err
		}
		if n > int(pl.size) {
			return i, fmt.Errorf("%s len is %d, but msgpack has %d elements", pl.typ, pl.size, n)
		}
		if n > len(b)-i {
			return i, errEOF
		}
		copy(unsafe.Slice((*byte)(p), n), b[i:i+n])
		return i + n, nil

	case kStringSlice:
		return decodeStringSlice(b, i, (*[]string)(p), bud)

	case kSlice:
		return pl.decodeSlice(b, i, p, bud)

	case kArray:
		c, i, err := readCode(b, i)
		if err != nil {
			return i, err
		}
		n, i, err := arrayLen(b, i, c)
		if err != nil || n == -1 {
			return i, err
		}
		if n > int(pl.size) {
			return i, fmt.Errorf("%s len is %d, but msgpack has %d elements", pl.typ, pl.size, n)
		}
		for k := range n {
			if i, err = pl.elem.decode(b, i, unsafe.Add(p, uintptr(k)*pl.esz), bud); err != nil {
				return i, err
			}
		}
		return i, nil

	case kPointer:
		pp := (*unsafe.Pointer)(p)
		if i < len(b) && b[i] == 0xc0 {
			*pp = nil
			return i + 1, nil
		}
		if *pp == nil {
			*pp = reflect.New(pl.elem.typ).UnsafePointer()
		}
		return pl.elem.decode(b, i, *pp, bud)

	case kMapStringString:
		return decodeMapStringString(b, i, (*map[string]string)(p), bud)

	case kMap:
		return pl.decodeMap(b, i, p, bud)

	case kStruct:
		return pl.decodeStruct(b, i, p, bud)

	case kTime:
		return decodeTimeExt(b, i, (*time.Time)(p))

	case kTimeTop:
		return decodeTimeTop(b, i, (*time.Time)(p))

	case kIface, kIfaceTop: // every empty interface type has the layout of any
		return decodeIface(b, i, (*any)(p), pl.kind == kIfaceTop, bud)

	case kMapStringIface:
		return decodeMapStringAny(b, i, (*map[string]any)(p), bud)
	}
	panic("codec: unknown plan kind")
}

// decodeBytes is decodeBytesValue: nil gives nil, anything else a non-nil
// slice, reusing the old one's array when it is large enough.
func decodeBytes(b []byte, i int, dst *[]byte) (int, error) {
	c, i, err := readCode(b, i)
	if err != nil {
		return i, err
	}
	n, i, err := bytesLen(b, i, c)
	if err != nil {
		return i, err
	}
	if n == -1 {
		*dst = nil
		return i, nil
	}
	if n > len(b)-i {
		return i, errEOF
	}
	out := *dst
	if out != nil && n <= cap(out) {
		out = out[:n]
	} else {
		out = make([]byte, n)
	}
	copy(out, b[i:i+n])
	*dst = out
	return i + n, nil
}

// decodeStringSlice is decodeStringSlicePtr: nil leaves dst alone.
func decodeStringSlice(b []byte, i int, dst *[]string, bud *int) (int, error) {
	c, i, err := readCode(b, i)
	if err != nil {
		return i, err
	}
	n, i, err := arrayLen(b, i, c)
	if err != nil || n == -1 {
		return i, err
	}
	if n > len(b)-i { // every string takes at least one byte
		return i, errEOF
	}
	ss := *dst
	if ss != nil && n <= cap(ss) {
		ss = ss[:n]
	} else {
		if err = claim(bud, n); err != nil {
			return i, err
		}
		ss = make([]string, n)
	}
	for k := range ss {
		if ss[k], i, err = decodeString(b, i); err != nil {
			return i, err
		}
	}
	*dst = ss
	return i, nil
}

// decodeSlice is decodeSliceValue: nil gives nil, and elements are decoded
// into what the slice (up to its capacity) already holds.
func (pl *plan) decodeSlice(b []byte, i int, p unsafe.Pointer, bud *int) (int, error) {
	c, i, err := readCode(b, i)
	if err != nil {
		return i, err
	}
	n, i, err := arrayLen(b, i, c)
	if err != nil {
		return i, err
	}
	sh := (*sliceHeader)(p)
	switch {
	case n == -1:
		*sh = sliceHeader{}
		return i, nil
	case sh.data == nil && n == 0:
		reflect.NewAt(pl.typ, p).Elem().Set(reflect.MakeSlice(pl.typ, 0, 0))
		return i, nil
	case sh.cap >= n:
		sh.len = n
	default:
		// Every element takes at least one byte, so a count the input
		// cannot hold fails before allocating (checkMsgpack has already
		// ensured this for well-formed input).
		if n > len(b)-i {
			return i, errEOF
		}
		if err = claim(bud, n-sh.cap); err != nil {
			return i, err
		}
		grown := reflect.MakeSlice(pl.typ, n, n)
		if sh.cap > 0 {
			old := reflect.NewAt(pl.typ, p).Elem()
			reflect.Copy(grown, old.Slice(0, sh.cap))
		}
		reflect.NewAt(pl.typ, p).Elem().Set(grown)
	}
	for k := range n {
		if i, err = pl.elem.decode(b, i, unsafe.Add(sh.data, uintptr(k)*pl.esz), bud); err != nil {
			return i, err
		}
	}
	return i, nil
}

// decodeMapStringString is decodeMapStringStringPtr.
func decodeMapStringString(b []byte, i int, dst *map[string]string, bud *int) (int, error) {
	n, i, err := decodeMapLen(b, i)
	if err != nil {
		return i, err
	}
	if n == -1 {
		*dst = nil
		return i, nil
	}
	m := *dst
	if m == nil {
		if err = claim(bud, 2*n); err != nil { // a key and a value per entry
			return i, err
		}
		m = make(map[string]string, min(n, len(b)-i, 1e6))
		*dst = m
	}
	for range n {
		var k, v string
		if k, i, err = decodeString(b, i); err != nil {
			return i, err
		}
		if v, i, err = decodeString(b, i); err != nil {
			return i, err
		}
		m[k] = v
	}
	return i, nil
}

// decodeMap is decodeMapValue for string-kind keys: every value is decoded
// into a fresh zero value, never into the entry already present.
func (pl *plan) decodeMap(b []byte, i int, p unsafe.Pointer, bud *int) (int, error) {
	n, i, err := decodeMapLen(b, i)
	if err != nil {
		return i, err
	}
	m := reflect.NewAt(pl.typ, p).Elem()
	if n == -1 {
		m.SetZero()
		return i, nil
	}
	if m.IsNil() {
		if err = claim(bud, 2*n); err != nil { // a key and a value per entry
			return i, err
		}
		m.Set(reflect.MakeMapWithSize(pl.typ, min(n, len(b)-i, 1e6)))
	}
	key := reflect.New(pl.typ.Key()).Elem()
	for range n {
		var s string
		if s, i, err = decodeString(b, i); err != nil {
			return i, err
		}
		key.SetString(s)
		val := reflect.New(pl.elem.typ)
		if i, err = pl.elem.decode(b, i, val.UnsafePointer(), bud); err != nil {
			return i, err
		}
		m.SetMapIndex(key, val.Elem())
	}
	return i, nil
}

// decodeStruct is decodeStructValue: a map by field name, or an array of
// all fields in order; nil or an empty array zeroes the struct.
func (pl *plan) decodeStruct(b []byte, i int, p unsafe.Pointer, bud *int) (int, error) {
	c, i, err := readCode(b, i)
	if err != nil {
		return i, err
	}
	n, j, err := mapLen(b, i, c)
	if err == nil {
		i = j
		if n == -1 {
			reflect.NewAt(pl.typ, p).Elem().SetZero()
			return i, nil
		}
		for k := range n {
			c, i, err = readCode(b, i)
			if err != nil {
				return i, err
			}
			var kn int
			if kn, i, err = bytesLen(b, i, c); err != nil {
				return i, err
			}
			var key []byte
			if kn > 0 {
				if kn > len(b)-i {
					return i, errEOF
				}
				key = b[i : i+kn]
				i += kn
			}
			var f *fieldPlan
			if k < len(pl.inOrder) && pl.inOrder[k] != nil && pl.inOrder[k].name == string(key) {
				f = pl.inOrder[k]
			} else {
				f = pl.byName[string(key)]
			}
			if f == nil {
				if i, err = skip(b, i); err != nil {
					return i, err
				}
				continue
			}
			if i, err = f.plan.decode(b, i, unsafe.Add(p, f.offset), bud); err != nil {
				return i, err
			}
		}
		return i, nil
	}
	n, i, err2 := arrayLen(b, i, c)
	if err2 != nil {
		return i, err
	}
	if n <= 0 {
		reflect.NewAt(pl.typ, p).Elem().SetZero()
		return i, nil
	}
	if n != len(pl.fields) {
		return i, errors.New("msgpack: number of fields in array-encoded struct has changed")
	}
	for _, f := range pl.fields {
		if i, err = f.plan.decode(b, i, unsafe.Add(p, f.offset), bud); err != nil {
			return i, err
		}
	}
	return i, nil
}
