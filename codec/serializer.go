package codec

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// Serializer turns values into bytes and back. A Codec calls it before
// compressing and after decompressing.
//
// Unmarshal must not keep data (or any sub-slice of it) after it returns: a
// Codec passes a pooled decompression buffer that it reuses. Implementations
// must be safe for concurrent use.
type Serializer interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// AppendMarshaler is an optional ability of a [Serializer]: serialize v
// appended to dst. A Codec whose Serializer has it serializes into a pooled
// scratch buffer instead of a fresh slice per call. [Msgpack] has it.
type AppendMarshaler interface {
	AppendMarshal(dst []byte, v any) ([]byte, error)
}

// Msgpack returns the default [Serializer]: MessagePack through
// vmihailenco/msgpack/v5 with its default settings, so structs are encoded
// as maps keyed by field name (or `msgpack:"name"` tag) and survive fields
// being added, removed or reordered between deploys. Maps keyed by string
// whose values are strings, bools or interfaces are written with their keys
// sorted, so equal values serialize to equal bytes.
//
// Encoders and decoders are pooled, and Unmarshal reads the input in place.
// Unmarshal never panics (a panic inside msgpack is returned as an error)
// and never lets msgpack run without bounds. Before msgpack sees a byte it
// checks, in one or two passes over the input that allocate nothing:
//
//   - that the input is exactly one well-formed MessagePack value, nesting
//     at most 1,000 arrays and maps deep (msgpack recurses once per level,
//     and a stack overflow kills the process), each declaring no more
//     elements or bytes than remain;
//   - that msgpack can read it only one way: msgpack reads an ext value
//     opaquely, except where a map is expected, where it steps over the ext
//     header and reads the payload as a map. An ext whose payload could be
//     read so must hold exactly one map; 4- and 8-byte timestamps that
//     could are rewritten (in a copy) into the 12-byte form, which cannot;
//   - what msgpack will allocate for that value and the destination type:
//     at most 16 bytes per input byte plus 64 KiB, or the input is refused
//     with [ErrTooLarge]. msgpack allocates per element what the type says,
//     so without this a megabyte of nils read into a []User costs 160 MB.
//     Go values cost more than their encoding mostly in maps (a map with
//     one entry takes ~340 bytes): a value made of thousands of tiny maps
//     can exceed the bound, and decodes cheaply into structs instead.
//
// Errors from these checks wrap [ErrCorrupt] or [ErrTooLarge].
//
// The bounds assume v points to a zero value (as the Cache's Remember and
// Get do) and hold for every destination type except what code of your own
// does: types with DecodeMsgpack, UnmarshalMsgpack, UnmarshalBinary or
// UnmarshalText methods get their bytes as msgpack hands them over, and a
// decoder installed with msgpack.Register or msgpack.RegisterExt (including
// one replacing msgpack's own for time.Time) is not seen. msgpack itself
// starts one goroutine per type, and keeps 256 preallocated values, the
// first time it decodes into a nil embedded struct pointer.
func Msgpack() Serializer { return msgpackSerializer{} }

type msgpackSerializer struct{}

var _ AppendMarshaler = msgpackSerializer{}

type msgpackEncoder struct {
	w   appendWriter
	enc *msgpack.Encoder
}

type msgpackDecoder struct {
	r   bytes.Reader // an io.ByteScanner: msgpack reads it without a bufio layer
	dec *msgpack.Decoder
}

var (
	msgpackEncoders = sync.Pool{New: func() any { return &msgpackEncoder{enc: msgpack.NewEncoder(nil)} }}
	msgpackDecoders = sync.Pool{New: func() any { return &msgpackDecoder{dec: msgpack.NewDecoder(nil)} }}
)

func (msgpackSerializer) Marshal(v any) ([]byte, error) {
	return msgpackSerializer{}.AppendMarshal(nil, v)
}

func (msgpackSerializer) AppendMarshal(dst []byte, v any) ([]byte, error) {
	e := msgpackEncoders.Get().(*msgpackEncoder)
	e.w.b = dst
	e.enc.Reset(&e.w) // also clears any per-call settings
	// Sorted keys make the output of map[string]string, map[string]bool and
	// map[string]any deterministic, and compress better: equal values give
	// equal bytes, and zstd finds the same runs in the same order (on the
	// bench's npm documents, 7% smaller after zstd than Go's random map
	// order). msgpack does not sort maps of other types.
	e.enc.SetSortMapKeys(true)
	err := e.enc.Encode(v)
	out := e.w.b
	e.w.b = nil
	e.enc.Reset(nil)
	msgpackEncoders.Put(e)
	if err != nil {
		return dst, fmt.Errorf("aside: codec: msgpack encode %T: %w", v, err)
	}
	return out, nil
}

func (msgpackSerializer) Unmarshal(data []byte, v any) error {
	widen, err := checkMsgpack(data)
	if err != nil {
		return err
	}
	limit := decodeLimit(len(data))
	if widen != nil {
		p := getScratch()
		wide := widenTimes((*p)[:0], data, widen)
		defer putScratch(p, wide)
		data = wide
	}
	p, err := topPlan(v)
	if err != nil {
		return fmt.Errorf("aside: codec: msgpack decode into %T: %w", v, err)
	}
	if n := uint64(len(data)); p != nil && satAdd(satMul(p.rate, n), 6*n+decodeBase) > limit {
		// Too large to rule out on the type alone: follow the input.
		if cost := decodeCost(data, p); cost > limit {
			return fmt.Errorf("%w: decoding %d msgpack bytes into %T could allocate %d bytes, over the limit of %d", ErrTooLarge, len(data), v, cost, limit)
		}
	}
	return decodeMsgpack(data, v)
}

// decodeMsgpack decodes with vmihailenco/msgpack. msgpack panics on some
// inputs (an int into an error interface, a key repeated over an interface
// it filled); the panic is returned as an error, and the decoder, whose
// state is then unknown, is not reused.
func decodeMsgpack(data []byte, v any) (err error) {
	d := msgpackDecoders.Get().(*msgpackDecoder)
	d.r.Reset(data)
	d.dec.Reset(&d.r)
	defer func() {
		if r := recover(); r != nil {
			err = &decodeError{into: reflect.TypeOf(v), err: fmt.Errorf("msgpack panicked: %v", r)}
			return
		}
		d.r.Reset(nil)
		d.dec.Reset(nil)
		msgpackDecoders.Put(d)
	}()
	if err := d.dec.Decode(v); err != nil {
		return &decodeError{into: reflect.TypeOf(v), err: err}
	}
	return nil
}

// decodeError is msgpack's error, prefixed with the package name and the
// destination type when printed. It is formatted only then: some of
// msgpack's errors (time.Parse's) quote the input, and Unmarshal's
// allocations must not grow with them.
type decodeError struct {
	into reflect.Type
	err  error
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("aside: codec: msgpack decode into %v: %v", e.into, e.err)
}

func (e *decodeError) Unwrap() error { return e.err }
