// Package codec turns cached values into compact, self-describing byte
// frames and back: a [Serializer] (msgpack by default) followed by optional
// compression (zstd by default, s2, gzip or none), behind a small versioned
// header.
//
// # Use
//
// Build one [Codec] at start-up and share it:
//
//	c, err := codec.New(codec.Options{}) // zstd, msgpack, raw below 256 B
//	frame, rawSize, err := c.Marshal(nil, user)
//	var u User
//	err = c.Unmarshal(frame, &u)
//
// Every frame names its own algorithm, so a Codec decodes frames written
// with any algorithm, level or MinSize: changing Options.Compression needs
// no cache flush. Only a frame compressed with a zstd dictionary needs a
// Codec holding the same dictionary.
//
// [AppendCompressed] and [AppendDecompressed] are the bare compressors, with
// no frame: zstd output is a standard zstd frame (no dictionary) and gzip
// output a standard gzip stream, so an HTTP layer can store a compressed body
// and send it as-is with Content-Encoding.
//
// # Frame format (version 1)
//
//	byte 0      magic 0xA5
//	byte 1      format version, 1
//	byte 2      algorithm: 0 zstd, 1 s2, 2 gzip, 3 none (the [Algorithm] values)
//	byte 3      flags: bit 0 = dictionary ID follows; every other bit must be 0
//	[4 bytes]   zstd dictionary ID, little-endian uint32, only when bit 0 is set
//	            (only on zstd frames)
//	uvarint     length of the serialized payload before compression
//	            (encoding/binary uvarint, 1 to 10 bytes)
//	rest        the payload: the serialized bytes for none, a zstd frame
//	            (with checksum), an s2 block, or a gzip stream
//
// A small raw value therefore costs 5 or 6 bytes of header. The decoder
// checks, before touching the payload, that the magic, version, algorithm
// and flags are known, that a dictionary frame names the Codec's
// dictionary, and that the claimed length is within Options.MaxSize; after
// decompressing it checks the payload is exactly the claimed length. Any
// failure is an error wrapping one of the sentinel errors (ErrShortFrame,
// ErrBadMagic, ErrVersion, ErrUnknownAlgorithm, ErrUnknownDictionary,
// ErrTooLarge, ErrCorrupt), never a panic.
//
// # Performance
//
// zstd coders are created once and shared (EncodeAll and DecodeAll are safe
// for concurrent use), gzip writers and readers, msgpack encoders and
// decoders and scratch buffers are pooled. Decoding a raw frame with
// [Msgpack] allocates only what msgpack must create for the value itself.
//
// # Concurrency
//
// All functions and all methods of [Codec] are safe for concurrent use.
// Package-level state is limited to those lazily created coders and pools.
//
// # What this package does not do
//
// It does not encrypt or authenticate: the zstd and gzip checksums catch
// accidental damage, not tampering, so do not read frames from a store an
// attacker can write to and then trust the values. It does not version your
// types: msgpack maps struct fields by name, so added and removed fields
// decode, but a field whose type changed fails to decode and the caller
// should treat that as a miss. It does not train dictionaries (use
// klauspost/compress/dict or zstd --train).
package codec
