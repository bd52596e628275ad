package codec

import (
	"bytes"
	"fmt"
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
// being added, removed or reordered between deploys.
//
// Encoders and decoders are pooled, and Unmarshal reads the input in place:
// apart from the values msgpack itself must create (strings, slices, maps),
// a call allocates nothing. Before decoding, Unmarshal walks the input once
// and rejects (with [ErrCorrupt]) anything that is not exactly one
// well-formed MessagePack value, nests deeper than 10,000 containers, or
// declares more elements than the input could hold, so a hostile or
// damaged payload cannot make msgpack allocate gigabytes by a length claim
// it can see (for those inside ext payloads, see below) or overflow the
// stack.
//
// For destination types built only from bools, numbers, strings, byte
// slices, slices, arrays, pointers, string-keyed maps, plain structs,
// time.Time and empty interfaces (any), Unmarshal decodes with its own
// decoder (a per-type plan, built once), which gives exactly the result
// vmihailenco/msgpack gives, at a fraction of the cost, except that it
// returns an error where msgpack panics. Other types go to msgpack: types
// with msgpack or encoding unmarshal methods (DecodeMsgpack,
// UnmarshalMsgpack, UnmarshalBinary, UnmarshalText), interfaces with
// methods, maps with non-string keys, embedded pointers, `intern` tags.
// So do, inside an any, ext values other than time, and values the caller
// stored there before decoding other than pointers to supported types. On that path msgpack can still be made to
// allocate what an ext payload read as a map claims (msgpack treats an ext
// header in front of a map as part of the map, and the well-formedness
// check cannot see into ext payloads); the own decoder bounds every
// allocation by the input's size. A panic inside msgpack is returned as an
// error. A decoder installed with msgpack.Register, msgpack.RegisterExt or
// msgpack.RegisterExtDecoder for a plain type, for time.Time or for ext
// type -1 is not seen, so such a type decodes by the default rules; give
// the type a DecodeMsgpack method instead.
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
	if err := checkMsgpack(data); err != nil {
		return err
	}
	if pl, p := planFor(v); pl != nil {
		if _, err := pl.unmarshal(data, p); err != nil {
			return fmt.Errorf("aside: codec: msgpack decode into %T: %w", v, err)
		}
		return nil
	}
	return decodeMsgpack(data, v)
}

// decodeMsgpack decodes with vmihailenco/msgpack: the path for types the
// fast decoder (fastdecode.go) does not support, and its reference in tests.
// msgpack panics on some inputs (nil into a time.Time, a key repeated over
// an interface it filled); the panic is returned as an error.
func decodeMsgpack(data []byte, v any) error {
	if _, err := delegate(data, 0, func(d *msgpack.Decoder) error { return d.Decode(v) }); err != nil {
		return fmt.Errorf("aside: codec: msgpack decode into %T: %w", v, err)
	}
	return nil
}
