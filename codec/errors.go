package codec

import "errors"

// Errors returned by this package. Decode errors wrap one of these, so test
// them with [errors.Is]; the wrapped message adds detail (the byte seen, the
// dictionary ID asked for, the underlying decompressor's complaint).
var (
	// ErrShortFrame: the input ends before the frame header does. An empty
	// slice (for example a value written by something other than a Codec)
	// gives this error.
	ErrShortFrame = errors.New("aside: codec: frame too short")

	// ErrBadMagic: the first byte is not the frame magic, so the bytes were
	// not written by a Codec.
	ErrBadMagic = errors.New("aside: codec: not a codec frame (bad magic byte)")

	// ErrVersion: the frame names a format version this build cannot read,
	// typically one written by a newer release during a rolling deploy.
	ErrVersion = errors.New("aside: codec: unsupported frame version")

	// ErrUnknownAlgorithm: a frame or [ParseAlgorithm] names an algorithm this
	// package does not know. The accepted names are zstd, s2, gzip and none.
	ErrUnknownAlgorithm = errors.New("aside: codec: unknown compression algorithm")

	// ErrUnknownDictionary: the frame was compressed with a zstd dictionary
	// the decoding Codec does not hold; give that Codec the writer's
	// dictionary (Options.Dictionary, or Options.Dictionaries for an older
	// one). [FrameDictionaryID] names the one the frame needs.
	ErrUnknownDictionary = errors.New("aside: codec: frame needs a zstd dictionary this codec does not hold")

	// ErrCorrupt: the frame's checksum does not match, the frame header is
	// inconsistent, the compressed payload does not decompress to the
	// length the header claims, or the serialized payload is malformed.
	ErrCorrupt = errors.New("aside: codec: corrupt frame")

	// ErrChecksum: a version 2 frame's bytes do not match its checksum: the
	// frame was damaged after it was written (truncated, bit flips, bytes
	// from another entry). Errors wrapping it also wrap [ErrCorrupt].
	ErrChecksum = errors.New("aside: codec: checksum mismatch")

	// ErrTooLarge: a payload exceeds the size limit (Options.MaxSize for a
	// Codec, [DefaultMaxSize] for [AppendDecompressed]).
	ErrTooLarge = errors.New("aside: codec: payload too large")

	// ErrTraining: [Train] could not build a dictionary from the samples
	// (too few distinct bytes to learn from); the wrapped message says why.
	ErrTraining = errors.New("aside: codec: cannot train a dictionary")

	// ErrBadOptions: [New] or [AppendCompressed] was given a setting out of
	// range; the wrapped message names the field and the accepted values.
	ErrBadOptions = errors.New("aside: codec: invalid options")
)
