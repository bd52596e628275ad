package codec

import (
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// DefaultMinSize is the default Options.MinSize. Below about 256 bytes a
// compressor has too little repetition to work with while its fixed cost
// stays (a zstd frame header and checksum are ~10 bytes, gzip's are 18), so
// it saves a handful of bytes at best; small values are also the hot ones,
// and a raw frame decodes with no decompression at all.
const DefaultMinSize = 256

// minSavingsDiv: compression is kept only when it saves at least
// 1/minSavingsDiv of the serialized bytes.
const minSavingsDiv = 8

// Options configures a [Codec]. The zero value is valid: zstd at level 3,
// raw below 256 bytes, msgpack, 64 MiB limit.
type Options struct {
	// Compression is the algorithm for new frames. Default [Zstd]. A Codec
	// decodes frames of every algorithm whatever this says.
	Compression Algorithm

	// Level is the compression level; 0 picks the algorithm's default.
	//   Zstd: 1..22 in zstd's own scale, mapped onto klauspost's four speeds
	//         (1-2 fastest, 3-5 default, 6-9 better, 10-22 best); default 3.
	//   S2:   1 = s2.Encode, 2 = EncodeBetter, 3 = EncodeBest; default 1.
	//   Gzip: 1..9; default 5.
	//   None: ignored.
	// Anything else fails [New] with [ErrBadOptions].
	Level int

	// MinSize is the serialized size below which a payload is stored raw
	// (frame algorithm None) without trying to compress it. 0 means
	// [DefaultMinSize] (256 bytes); negative is an error. Payloads at or
	// above it are compressed, and still stored raw when compression does
	// not make them smaller.
	MinSize int

	// MaxSize is the largest serialized payload Marshal writes and Unmarshal
	// accepts; larger fails with [ErrTooLarge]. It also bounds what a
	// corrupt frame can make Unmarshal allocate. 0 means [DefaultMaxSize]
	// (64 MiB); at most 1 GiB.
	MaxSize int

	// Dictionary is an optional trained zstd dictionary, in the format
	// "zstd --train" and klauspost's dict.BuildZstdDict produce. When set,
	// zstd frames are compressed with it and carry its ID, and only a Codec
	// holding the same dictionary can decode them ([ErrUnknownDictionary]
	// otherwise). It is kept for decoding even when Compression is not
	// Zstd, which lets a fleet switch algorithm without losing entries.
	// The slice must not be modified after New.
	Dictionary []byte

	// Dictionaries are more zstd dictionaries this Codec decodes with but
	// never compresses with: the dictionaries a fleet used before the
	// current one, kept until the entries written with them expire. Their
	// IDs must differ from each other and from Dictionary's. Each one costs
	// its size in memory, once. The slices must not be modified after New.
	Dictionaries [][]byte

	// Serializer turns values into bytes; nil means [Msgpack].
	Serializer Serializer
}

// Codec encodes values into self-describing frames and back. Create it
// with [New]; all methods are safe for concurrent use.
type Codec struct {
	alg     Algorithm
	level   int // resolved
	minSize int
	maxSize int
	ser     Serializer
	app     AppendMarshaler // ser's optional ability, or nil

	dictID  uint32        // the dictionary new frames use; 0 for none
	dictEnc *zstd.Encoder // nil unless dictID is set and alg is Zstd
	dictDec *zstd.Decoder // holds every dictionary in dictIDs; nil without one
	dictIDs []uint32      // every dictionary this Codec decodes with
}

// New validates o and returns a Codec.
func New(o Options) (*Codec, error) {
	level, err := resolveLevel(o.Compression, o.Level)
	if err != nil {
		return nil, err
	}
	c := &Codec{alg: o.Compression, level: level, minSize: o.MinSize, maxSize: o.MaxSize, ser: o.Serializer}
	switch {
	case c.minSize < 0:
		return nil, fmt.Errorf("%w: MinSize %d is negative (0 means %d)", ErrBadOptions, c.minSize, DefaultMinSize)
	case c.minSize == 0:
		c.minSize = DefaultMinSize
	}
	switch {
	case c.maxSize < 0 || c.maxSize > maxMaxSize:
		return nil, fmt.Errorf("%w: MaxSize %d out of range (0 for %d, or 1 to %d)", ErrBadOptions, c.maxSize, DefaultMaxSize, maxMaxSize)
	case c.maxSize == 0:
		c.maxSize = DefaultMaxSize
	}
	if c.ser == nil {
		c.ser = Msgpack()
	}
	c.app, _ = c.ser.(AppendMarshaler)

	dicts := o.Dictionaries
	if len(o.Dictionary) > 0 {
		dicts = append([][]byte{o.Dictionary}, dicts...)
	}
	for i, d := range dicts {
		id, err := DictionaryID(d)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadOptions, dictField(o, i), err)
		}
		if slices.Contains(c.dictIDs, id) {
			return nil, fmt.Errorf("%w: %s: ID %d is used by another dictionary", ErrBadOptions, dictField(o, i), id)
		}
		c.dictIDs = append(c.dictIDs, id)
	}
	if len(dicts) > 0 {
		var err error
		if c.dictDec, err = newZstdDecoder(true, zstd.WithDecoderDicts(dicts...)); err != nil {
			return nil, fmt.Errorf("%w: Dictionary: %w", ErrBadOptions, err)
		}
	}
	if len(o.Dictionary) > 0 {
		c.dictID = c.dictIDs[0]
		if c.alg == Zstd {
			var err error
			if c.dictEnc, err = newZstdEncoder(zstd.EncoderLevelFromZstd(level), false, zstd.WithEncoderDict(o.Dictionary)); err != nil {
				return nil, fmt.Errorf("%w: Dictionary: %w", ErrBadOptions, err)
			}
		}
	}
	if c.alg == Zstd && c.dictEnc == nil {
		// Create the shared encoder now so that a broken setup fails New,
		// not the first Marshal.
		if _, err := sharedZstdEncoder(level, false); err != nil {
			return nil, fmt.Errorf("aside: codec: zstd encoder: %w", err)
		}
	}
	return c, nil
}

// dictField names the option that held dictionary i of New's list.
func dictField(o Options, i int) string {
	if len(o.Dictionary) > 0 {
		if i == 0 {
			return "Dictionary"
		}
		i--
	}
	return fmt.Sprintf("Dictionaries[%d]", i)
}

// Must is like [New] but panics on error; for package-level variables with
// constant options.
func Must(o Options) *Codec {
	c, err := New(o)
	if err != nil {
		panic(err)
	}
	return c
}

// Scratch buffers for serialized payloads (Marshal) and decompressed ones
// (Unmarshal). Buffers that grew past poolMaxBuf are dropped rather than
// pooled, so one huge value does not pin memory.
const poolMaxBuf = 1 << 20

var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func getScratch() *[]byte { return scratch.Get().(*[]byte) }

func putScratch(p *[]byte, b []byte) {
	if cap(b) > poolMaxBuf {
		return
	}
	*p = b[:0]
	scratch.Put(p)
}

// Marshal serializes v, compresses the result when it is at least MinSize
// bytes and compression saves at least an eighth of it (otherwise stores it
// raw in a frame marked None: an entry read often is not worth decompressing
// for a few bytes, and already-compressed data such as a gzip'd HTTP body is
// then never decompressed on a hit), appends the frame to dst and returns it, with rawSize
// the serialized (uncompressed) length. On error dst is returned as it was;
// a Serializer's own error is returned unwrapped.
func (c *Codec) Marshal(dst []byte, v any) (out []byte, rawSize int, err error) {
	if c.app == nil {
		raw, err := c.ser.Marshal(v)
		if err != nil {
			return dst, 0, err
		}
		return c.appendFrame(dst, raw)
	}
	p := getScratch()
	raw, err := c.app.AppendMarshal((*p)[:0], v)
	if err == nil {
		out, rawSize, err = c.appendFrame(dst, raw)
	} else {
		out = dst
	}
	putScratch(p, raw)
	return out, rawSize, err
}

// AppendFrame appends to dst the frame of payload, bytes already
// serialized with the Codec's Serializer, and returns it: what Marshal does
// after serializing. It is for callers that hold serialized bytes (a tool
// measuring a store, a cache sampling what it writes). On error dst is
// returned as it was.
func (c *Codec) AppendFrame(dst, payload []byte) ([]byte, error) {
	out, _, err := c.appendFrame(dst, payload)
	return out, err
}

// appendFrame appends the frame holding the serialized payload raw to dst.
func (c *Codec) appendFrame(dst, raw []byte) ([]byte, int, error) {
	if len(raw) > c.maxSize {
		return dst, len(raw), fmt.Errorf("%w: serialized value is %d bytes, MaxSize %d", ErrTooLarge, len(raw), c.maxSize)
	}
	start := len(dst)
	if c.alg != None && len(raw) >= c.minSize {
		var dictID uint32
		if c.alg == Zstd {
			dictID = c.dictID
		}
		out := appendFrameHeader(dst, c.alg, dictID, len(raw))
		payload := len(out)
		out, err := appendCompressed(out, raw, c.alg, c.level, c.dictEnc, false)
		if err == nil && c.alg == Zstd {
			out, err = bareZstd(out, payload)
		}
		if err != nil {
			return dst[:start], len(raw), err
		}
		if len(out)-payload <= len(raw)-len(raw)/minSavingsDiv {
			return appendChecksum(out, start), len(raw), nil
		}
		dst = out[:start] // keep the grown capacity; overwrite with a raw frame
	}
	out := appendFrameHeader(dst, None, 0, len(raw))
	out = append(out, raw...)
	return appendChecksum(out, start), len(raw), nil
}

// Unmarshal decodes a frame produced by any Codec (any algorithm, level or
// MinSize, format version 1 or 2) into v, which must be what the
// Serializer decodes into (for msgpack, a non-nil pointer, best to a zero
// value).
//
// Errors: [ErrShortFrame], [ErrBadMagic], [ErrVersion],
// [ErrUnknownAlgorithm], [ErrUnknownDictionary] (a dictionary frame and a
// Codec without that dictionary), [ErrTooLarge] (the frame claims more than
// MaxSize, or the value would cost msgpack too much to build), [ErrCorrupt]
// (with [ErrChecksum] for a damaged version 2 frame), or the Serializer's
// error.
//
// Unmarshal never panics on bad input. Before decompressing it checks the
// checksum, then sizes one buffer from the claimed length, which is capped
// by MaxSize and, for zstd and gzip, by the most the payload could expand
// to (32768:1 and 1032:1); a frame that lies about its length then fails
// with [ErrCorrupt]. With [Msgpack] it allocates at most 21 bytes per
// serialized byte plus 128 KiB in all (see the package documentation).
func (c *Codec) Unmarshal(data []byte, v any) error {
	h, payload, err := parseFrame(data, c.maxSize)
	if err != nil {
		return err
	}
	if h.alg == None {
		if len(payload) != h.rawLen {
			return fmt.Errorf("%w: raw payload is %d bytes, frame header claims %d", ErrCorrupt, len(payload), h.rawLen)
		}
		return c.ser.Unmarshal(payload, v)
	}
	p := getScratch()
	buf, err := c.decompress((*p)[:0], h, payload)
	if err == nil {
		err = c.ser.Unmarshal(buf, v)
	}
	putScratch(p, buf)
	return err
}

// AppendPayload appends to dst the serialized payload that frame holds,
// decompressed, and returns it: what Unmarshal hands to the Serializer. It
// checks the frame as Unmarshal does, but does not check that the payload
// is well-formed for the Serializer. On error dst is returned as it was.
func (c *Codec) AppendPayload(dst, frame []byte) ([]byte, error) {
	h, payload, err := parseFrame(frame, c.maxSize)
	if err != nil {
		return dst, err
	}
	if h.alg == None {
		if len(payload) != h.rawLen {
			return dst, fmt.Errorf("%w: raw payload is %d bytes, frame header claims %d", ErrCorrupt, len(payload), h.rawLen)
		}
		return append(dst, payload...), nil
	}
	return c.decompress(dst, h, payload)
}

// decompress appends the decompressed payload of a compressed frame to buf.
func (c *Codec) decompress(buf []byte, h frameHeader, payload []byte) ([]byte, error) {
	var err error
	switch h.alg {
	case Zstd:
		dec := c.dictDec
		switch {
		case h.hasDic && !slices.Contains(c.dictIDs, h.dictID):
			return buf, fmt.Errorf("%w: frame needs dictionary %d, codec holds %s", ErrUnknownDictionary, h.dictID, c.dictName())
		case !h.hasDic:
			if dec, err = zstdExact(); err != nil {
				return buf, err
			}
		}
		if uint64(h.rawLen) > uint64(len(payload))*maxZstdRatio {
			return buf, fmt.Errorf("%w: zstd payload of %d bytes cannot hold %d", ErrCorrupt, len(payload), h.rawLen)
		}
		if !h.bare {
			return appendUnZstd(dec, buf, payload, h.rawLen)
		}
		p := getScratch()
		full, err := restoreZstd((*p)[:0], payload, h.dictID)
		if err == nil {
			buf, err = appendUnZstd(dec, buf, full, h.rawLen)
		}
		putScratch(p, full)
		return buf, err
	case S2:
		return appendUnS2(buf, payload, h.rawLen, c.maxSize)
	case Gzip:
		if uint64(h.rawLen) > uint64(len(payload))*maxDeflateRatio {
			return buf, fmt.Errorf("%w: gzip payload of %d bytes cannot hold %d", ErrCorrupt, len(payload), h.rawLen)
		}
		return appendGunzip(buf, payload, h.rawLen, c.maxSize)
	}
	return buf, fmt.Errorf("%w: %s", ErrUnknownAlgorithm, h.alg)
}

func (c *Codec) dictName() string {
	switch len(c.dictIDs) {
	case 0:
		return "none"
	case 1:
		return fmt.Sprintf("dictionary %d", c.dictIDs[0])
	}
	return fmt.Sprintf("dictionaries %v", c.dictIDs)
}
