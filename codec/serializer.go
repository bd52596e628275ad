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
// damaged payload cannot make msgpack allocate gigabytes or overflow the
// stack.
//
// For destination types built only from bools, numbers, strings, byte
// slices, slices, arrays, pointers, string-keyed maps and plain structs,
// Unmarshal decodes with its own decoder (a per-type plan, built once),
// which gives exactly the result vmihailenco/msgpack gives, at less than
// half the cost. Any other type (interfaces, time.Time, types with
// msgpack or encoding unmarshal methods, ...) is decoded by msgpack. A
// decoder installed for a plain type with msgpack.Register or
// msgpack.RegisterExtDecoder is not seen, so such a type decodes by the
// default rules; give the type a DecodeMsgpack method instead.
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
		if _, err := pl.decode(data, 0, p); err != nil {
			return fmt.Errorf("aside: codec: msgpack decode into %T: %w", v, err)
		}
		return nil
	}
	return decodeMsgpack(data, v)
}

// decodeMsgpack decodes with vmihailenco/msgpack: the path for types the
// fast decoder (fastdecode.go) does not support, and its reference in tests.
func decodeMsgpack(data []byte, v any) error {
	d := msgpackDecoders.Get().(*msgpackDecoder)
	d.r.Reset(data)
	d.dec.Reset(&d.r)
	err := d.dec.Decode(v)
	d.r.Reset(nil)
	d.dec.Reset(nil)
	msgpackDecoders.Put(d)
	if err != nil {
		return fmt.Errorf("aside: codec: msgpack decode into %T: %w", v, err)
	}
	return nil
}
