package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// DefaultMaxSize is the largest payload [AppendDecompressed] produces and the
// default Options.MaxSize: 64 MiB, far above any sensible cache entry or
// cached HTTP body, and low enough that a decompression bomb cannot take a
// process down.
const DefaultMaxSize = 64 << 20

// maxMaxSize bounds Options.MaxSize: 1 GiB.
const maxMaxSize = 1 << 30

// maxDeflateRatio is the largest expansion DEFLATE can achieve (258-byte
// matches coded in 2 bits, RFC 1951): a gzip frame claiming more output per
// input byte than this is corrupt, and is rejected before any buffer is sized.
const maxDeflateRatio = 1032

// maxZstdRatio is the largest expansion a zstd frame can achieve: a block
// decodes to at most 128 KiB and takes at least 4 bytes (an RLE block).
const maxZstdRatio = 128 << 10 / 4

// The zstd encoders and decoders below are created once, on first use, and
// shared: EncodeAll and DecodeAll are safe for concurrent use and keep their
// own pools of block coders, which is what makes them cheap per call. They
// start no goroutines, so nothing needs closing.
var (
	// zstdEncoders holds one encoder per klauspost speed, indexed by
	// zstd.EncoderLevel (1..4): zstdEncoders[0] writes standard frames with
	// their content checksum (AppendCompressed), zstdEncoders[1] writes
	// frames for codec frames, whose own checksum makes zstd's redundant.
	zstdEncoders [2][5]struct {
		once sync.Once
		enc  *zstd.Encoder
		err  error
	}

	// zstdExact decodes frames whose size the codec frame states: the caller
	// passes a buffer whose spare capacity is that size, and the decoder
	// refuses to write more (WithDecodeAllCapLimit).
	zstdExact = sync.OnceValues(func() (*zstd.Decoder, error) {
		return newZstdDecoder(true)
	})

	// zstdBounded decodes bodies of unknown size for AppendDecompressed,
	// stopping at DefaultMaxSize.
	zstdBounded = sync.OnceValues(func() (*zstd.Decoder, error) {
		return newZstdDecoder(false)
	})
)

func newZstdDecoder(exact bool, opts ...zstd.DOption) (*zstd.Decoder, error) {
	opts = append(opts,
		zstd.WithDecoderConcurrency(0), // one block decoder per P: DecodeAll callers never queue
		zstd.WithDecodeAllCapLimit(exact),
	)
	if exact {
		opts = append(opts, zstd.WithDecoderMaxMemory(maxMaxSize))
	} else {
		opts = append(opts, zstd.WithDecoderMaxMemory(DefaultMaxSize))
	}
	return zstd.NewReader(nil, opts...)
}

// newZstdEncoder returns an encoder; crc adds zstd's content checksum to
// each frame.
func newZstdEncoder(level zstd.EncoderLevel, crc bool, opts ...zstd.EOption) (*zstd.Encoder, error) {
	opts = append(opts,
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderCRC(crc),
		zstd.WithZeroFrames(true), // an empty input still yields a valid frame (HTTP bodies)
	)
	return zstd.NewWriter(nil, opts...)
}

// sharedZstdEncoder returns the dictionary-less encoder for a zstd level
// 1..22, with zstd's content checksum (standard frames) or without (for
// codec frames).
func sharedZstdEncoder(level int, crc bool) (*zstd.Encoder, error) {
	l := zstd.EncoderLevelFromZstd(level)
	set := 1
	if crc {
		set = 0
	}
	e := &zstdEncoders[set][l]
	e.once.Do(func() { e.enc, e.err = newZstdEncoder(l, crc) })
	return e.enc, e.err
}

// zstdMagic starts every zstd frame (RFC 8878 section 3.1.1).
const zstdMagic = "\x28\xb5\x2f\xfd"

// Bits of a zstd frame header descriptor (RFC 8878 section 3.1.1.1.1).
const (
	fhdDictIDMask    = 0b11
	fhdChecksum      = 1 << 2
	fhdSingleSegment = 1 << 5
)

// bareZstd turns the zstd frame z[start:] into its bare form, in place, and
// returns z shortened: without the magic number and the dictionary ID field
// of its header (the codec frame names the dictionary). The frame must have
// no content checksum (the codec frame has its own). restoreZstd undoes it.
func bareZstd(z []byte, start int) ([]byte, error) {
	f := z[start:]
	if len(f) < 5 || string(f[:4]) != zstdMagic || f[4]&fhdChecksum != 0 {
		return z, fmt.Errorf("aside: codec: unexpected zstd frame header")
	}
	fhd := f[4]
	didLen := [4]int{0, 1, 2, 4}[fhd&fhdDictIDMask]
	wdLen := 1
	if fhd&fhdSingleSegment != 0 {
		wdLen = 0
	}
	hdrEnd := 5 + wdLen + didLen
	if len(f) < hdrEnd {
		return z, fmt.Errorf("aside: codec: zstd frame header truncated")
	}
	f[0] = fhd &^ fhdDictIDMask
	copy(f[1:], f[5:5+wdLen])
	n := copy(f[1+wdLen:], f[hdrEnd:])
	return z[:start+1+wdLen+n], nil
}

// restoreZstd appends to dst the standard zstd frame whose bare form is
// bare, naming dictID when it is not 0.
func restoreZstd(dst, bare []byte, dictID uint32) ([]byte, error) {
	if len(bare) < 1 || bare[0]&fhdDictIDMask != 0 {
		return dst, fmt.Errorf("%w: bare zstd header", ErrCorrupt)
	}
	fhd := bare[0]
	wdLen := 1
	if fhd&fhdSingleSegment != 0 {
		wdLen = 0
	}
	if len(bare) < 1+wdLen {
		return dst, fmt.Errorf("%w: bare zstd header truncated", ErrCorrupt)
	}
	if dictID != 0 {
		fhd |= fhdDictIDMask // a 4-byte dictionary ID follows
	}
	dst = slices.Grow(dst, len(zstdMagic)+len(bare)+4)
	dst = append(dst, zstdMagic...)
	dst = append(dst, fhd)
	dst = append(dst, bare[1:1+wdLen]...)
	if dictID != 0 {
		dst = binary.LittleEndian.AppendUint32(dst, dictID)
	}
	return append(dst, bare[1+wdLen:]...), nil
}

// appendWriter is an io.Writer (and io.ByteWriter, for msgpack) appending to
// a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

// gzipWriters pools gzip writers per level (index 1..9): a flate compressor
// is hundreds of KiB, far too much to allocate per call.
var gzipWriters [10]sync.Pool

type gzipWriter struct {
	w  appendWriter
	zw *gzip.Writer
}

func appendGzip(dst, src []byte, level int) ([]byte, error) {
	p := &gzipWriters[level]
	gw, _ := p.Get().(*gzipWriter)
	if gw == nil {
		zw, err := gzip.NewWriterLevel(nil, level)
		if err != nil {
			return dst, fmt.Errorf("%w: gzip level %d: %w", ErrBadOptions, level, err)
		}
		gw = &gzipWriter{zw: zw}
	}
	gw.w.b = dst
	gw.zw.Reset(&gw.w)
	_, err := gw.zw.Write(src)
	if err == nil {
		err = gw.zw.Close()
	}
	out := gw.w.b
	gw.w.b = nil // never keep the caller's buffer alive in the pool
	p.Put(gw)
	if err != nil {
		return dst, fmt.Errorf("aside: codec: gzip: %w", err)
	}
	return out, nil
}

var gzipReaders = sync.Pool{New: func() any { return new(gzipReader) }}

type gzipReader struct {
	r  bytes.Reader // an io.ByteReader, so gzip reads it without a bufio layer
	zr gzip.Reader
}

// appendGunzip appends the decompressed src to dst. With exact >= 0 the
// output must be exactly that long; otherwise it may be up to limit bytes.
func appendGunzip(dst, src []byte, exact, limit int) ([]byte, error) {
	gr := gzipReaders.Get().(*gzipReader)
	defer func() {
		gr.r.Reset(nil)
		gzipReaders.Put(gr)
	}()
	gr.r.Reset(src)
	if err := gr.zr.Reset(&gr.r); err != nil {
		return dst, fmt.Errorf("%w: gzip: %w", ErrCorrupt, err)
	}
	start := len(dst)
	if exact >= 0 {
		dst = slices.Grow(dst, exact)
		n, err := io.ReadFull(&gr.zr, dst[start:start+exact])
		if err != nil {
			return dst[:start], fmt.Errorf("%w: gzip: %d of %d bytes: %w", ErrCorrupt, n, exact, err)
		}
		// Read on to EOF: that is where gzip checks its CRC and length, and
		// any byte past the claimed length means the header lied.
		var probe [1]byte
		if n, err := gr.zr.Read(probe[:]); n != 0 || err != io.EOF {
			if err == nil || err == io.EOF {
				err = errors.New("longer than the frame header claims")
			}
			return dst[:start], fmt.Errorf("%w: gzip: %w", ErrCorrupt, err)
		}
		return dst[:start+exact], nil
	}
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, min(max(cap(dst)-start, 4<<10), limit+1-(len(dst)-start)))
		}
		n, err := gr.zr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst[:start], fmt.Errorf("%w: gzip body decompresses to more than %d bytes", ErrTooLarge, limit)
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst[:start], fmt.Errorf("%w: gzip: %w", ErrCorrupt, err)
		}
	}
}

func appendS2(dst, src []byte, level int) ([]byte, error) {
	n := s2.MaxEncodedLen(len(src))
	if n < 0 {
		return dst, fmt.Errorf("%w: %d bytes is beyond the s2 block limit", ErrTooLarge, len(src))
	}
	start := len(dst)
	dst = slices.Grow(dst, n)
	// s2 writes from the start of the slice it is given when its capacity
	// suffices, so hand it the spare capacity and extend dst over the result.
	var out []byte
	switch level {
	case 1:
		out = s2.Encode(dst[start:start+n], src)
	case 2:
		out = s2.EncodeBetter(dst[start:start+n], src)
	default:
		out = s2.EncodeBest(dst[start:start+n], src)
	}
	return dst[:start+len(out)], nil
}

// appendUnS2 appends the decoded s2 block src to dst. With exact >= 0 the
// block must declare exactly that length; otherwise at most limit.
func appendUnS2(dst, src []byte, exact, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(src)
	if err != nil {
		return dst, fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
	}
	if exact >= 0 && n != exact {
		return dst, fmt.Errorf("%w: s2 block holds %d bytes, frame header claims %d", ErrCorrupt, n, exact)
	}
	if n > limit {
		return dst, fmt.Errorf("%w: s2 block decompresses to %d bytes, limit %d", ErrTooLarge, n, limit)
	}
	start := len(dst)
	dst = slices.Grow(dst, n)
	if _, err := s2.Decode(dst[start:start+n], src); err != nil {
		return dst[:start], fmt.Errorf("%w: s2: %w", ErrCorrupt, err)
	}
	return dst[:start+n], nil
}

// appendUnZstd appends the decoded zstd frame src to dst using dec. With
// exact >= 0, dec must have been built with exact=true (cap-limited) and the
// output must be exactly that long.
func appendUnZstd(dec *zstd.Decoder, dst, src []byte, exact int) ([]byte, error) {
	start := len(dst)
	if exact >= 0 {
		dst = slices.Grow(dst, exact)
		dst = dst[: start : start+exact] // DecodeAll may fill exactly the spare capacity
	}
	out, err := dec.DecodeAll(src, dst)
	if err != nil {
		switch {
		case errors.Is(err, zstd.ErrUnknownDictionary):
			return dst[:start], fmt.Errorf("%w: zstd: %w", ErrUnknownDictionary, err)
		case exact < 0 && errors.Is(err, zstd.ErrDecoderSizeExceeded):
			return dst[:start], fmt.Errorf("%w: zstd body decompresses to more than %d bytes", ErrTooLarge, DefaultMaxSize)
		}
		return dst[:start], fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
	}
	if exact >= 0 && len(out)-start != exact {
		return dst[:start], fmt.Errorf("%w: zstd payload holds %d bytes, frame header claims %d", ErrCorrupt, len(out)-start, exact)
	}
	return out, nil
}

// AppendCompressed appends src compressed with algorithm a to dst and
// returns the extended slice. It writes no codec frame: the output is a
// standard zstd frame (without a dictionary, with a checksum), a standard
// gzip stream (RFC 1952), an s2 block (s2.Decode format, not the framed s2
// stream; there is no HTTP Content-Encoding for it), or src itself for
// [None], so zstd and gzip output can be sent as-is with Content-Encoding.
//
// level 0 picks the algorithm's default (see [Options.Level] for the
// ranges); a level out of range fails with [ErrBadOptions]. Safe for
// concurrent use.
func AppendCompressed(dst, src []byte, a Algorithm, level int) ([]byte, error) {
	lvl, err := resolveLevel(a, level)
	if err != nil {
		return dst, err
	}
	return appendCompressed(dst, src, a, lvl, nil, true)
}

// appendCompressed compresses with a resolved level; enc, when not nil,
// replaces the shared zstd encoder (a Codec's dictionary encoder), and crc
// picks the shared zstd encoder that writes zstd's content checksum.
func appendCompressed(dst, src []byte, a Algorithm, level int, enc *zstd.Encoder, crc bool) ([]byte, error) {
	switch a {
	case Zstd:
		if enc == nil {
			var err error
			if enc, err = sharedZstdEncoder(level, crc); err != nil {
				return dst, fmt.Errorf("aside: codec: zstd encoder: %w", err)
			}
		}
		return enc.EncodeAll(src, dst), nil
	case S2:
		return appendS2(dst, src, level)
	case Gzip:
		return appendGzip(dst, src, level)
	case None:
		return append(dst, src...), nil
	}
	return dst, fmt.Errorf("%w: %s", ErrUnknownAlgorithm, a)
}

// AppendDecompressed appends the decompressed form of src, as produced by
// [AppendCompressed] with the same algorithm (or any standard zstd frame or
// gzip stream), to dst and returns the extended slice.
//
// The output is limited to [DefaultMaxSize] (64 MiB): a larger result fails
// with [ErrTooLarge] having allocated no more than about that much, so a
// decompression bomb cannot exhaust memory. Malformed input fails with
// [ErrCorrupt]; a zstd frame that needs a dictionary fails with
// [ErrUnknownDictionary]. On error dst is returned unextended. Safe for
// concurrent use.
func AppendDecompressed(dst, src []byte, a Algorithm) ([]byte, error) {
	switch a {
	case Zstd:
		dec, err := zstdBounded()
		if err != nil {
			return dst, fmt.Errorf("aside: codec: zstd decoder: %w", err)
		}
		return appendUnZstd(dec, dst, src, -1)
	case S2:
		return appendUnS2(dst, src, -1, DefaultMaxSize)
	case Gzip:
		return appendGunzip(dst, src, -1, DefaultMaxSize)
	case None:
		if len(src) > DefaultMaxSize {
			return dst, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), DefaultMaxSize)
		}
		return append(dst, src...), nil
	}
	return dst, fmt.Errorf("%w: %s", ErrUnknownAlgorithm, a)
}
