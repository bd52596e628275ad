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
// # Dictionaries
//
// Small values (a few hundred bytes) hold too little repetition for zstd
// to find; a dictionary trained on typical values supplies it. [Train]
// builds one from serialized samples (klauspost/compress/dict), and
// Options.Dictionary compresses with it. Every dictionary frame names its
// dictionary's ID; a Codec decodes frames of Options.Dictionary and of the
// older Options.Dictionaries, and fails with [ErrUnknownDictionary] on any
// other ([FrameDictionaryID] says which one it needs). The Cache's
// automatic dictionary (aside.AutoDictionary) trains, shares and rotates
// them for you.
//
// [AppendCompressed] and [AppendDecompressed] are the bare compressors, with
// no frame: zstd output is a standard zstd frame (no dictionary) and gzip
// output a standard gzip stream, so an HTTP layer can store a compressed body
// and send it as-is with Content-Encoding.
//
// # Frame format (version 2)
//
//	byte 0      magic 0xA5
//	byte 1      format version, 2
//	byte 2      algorithm: 0 zstd, 1 s2, 2 gzip, 3 none (the [Algorithm] values)
//	byte 3      flags: bit 0 = dictionary ID follows; bit 1 = bare zstd
//	            payload (both only on zstd frames); every other bit must be 0
//	[4 bytes]   zstd dictionary ID, little-endian uint32, only when bit 0 is set
//	uvarint     length of the serialized payload before compression
//	            (encoding/binary uvarint, 1 to 10 bytes)
//	payload     the serialized bytes for none, a zstd frame, an s2 block, or
//	            a gzip stream
//	8 bytes     checksum: xxhash64 of every byte before it (header and
//	            payload), little-endian
//
// A bare zstd payload (every zstd frame this release writes) is a standard
// zstd frame written without zstd's content checksum, and stored without
// its 4-byte magic number and without the dictionary ID field of its
// header: the codec frame holds the ID and a stronger checksum. That saves
// 8 to 12 bytes per entry, a few percent of a small value's compressed
// size; the decoder puts magic and ID back before decompressing. Frames
// without bit 1 (written by earlier releases: a whole zstd frame) are
// still read; releases before this one refuse bare frames as corrupt, so a
// rolling deploy reads the new release's zstd entries as misses on the old
// instances until it completes.
//
// A small raw value therefore costs 13 or 14 bytes of framing. The decoder
// first checks the magic and the version, then the checksum, and only then
// trusts any other byte: that the algorithm and flags are known, that a
// dictionary frame names one of the Codec's dictionaries, that the claimed length is
// within Options.MaxSize; after decompressing, that the payload is exactly
// the claimed length. Any failure is an error wrapping one of the sentinel
// errors (ErrShortFrame, ErrBadMagic, ErrVersion, ErrUnknownAlgorithm,
// ErrUnknownDictionary, ErrTooLarge, ErrCorrupt, which a checksum mismatch
// wraps together with ErrChecksum), never a panic.
//
// The checksum is 64 bits so that damage goes unnoticed with probability
// 2^-64 per damaged frame rather than 2^-32: a cache reads far more frames
// than it writes, and serving a wrong value is the one failure it must not
// have. It costs 8 bytes per entry and one xxhash64 pass over the frame
// per read, a small share of decoding it (BenchmarkChecksum).
//
// Version 1 frames, written by earlier releases, are the same without the
// checksum and are still read: during a rolling deploy, and until they
// expire, their damage is caught only where zstd's or gzip's own checksum
// or the payload checks catch it. A single bit flip never turns version 2
// into version 1.
//
// # Untrusted bytes
//
// Unmarshal treats every frame as untrusted: for any input bytes and any
// destination type it returns an error, never panics, never overflows the
// stack and never allocates without bound. Besides the frame checks above:
//
//   - with [Msgpack], the payload must be exactly one well-formed
//     MessagePack value, nested at most 1,000 arrays and maps deep, whose
//     every count and length fits in the bytes that remain, and which
//     vmihailenco/msgpack can read only one way (it reads an ext header in
//     front of a map as part of the map: such an ext must hold exactly a
//     map, and timestamps whose payload could be read so are rewritten);
//   - then, from the destination type, what msgpack would allocate is
//     bounded before it runs: at most 16 bytes per serialized byte plus
//     64 KiB, or the payload is refused with [ErrTooLarge].
//
// A whole Unmarshal therefore allocates at most 21 bytes per serialized
// byte plus 128 KiB: the 16 for msgpack, one for the decompression buffer
// and one for a bare zstd frame given its header back (both pooled up to
// 1 MiB), at most 2.5 for the rare copy with rewritten
// timestamps, and the decompressors' own state (TestUnmarshalAllocationIsBounded,
// FuzzUnmarshal and FuzzMsgpackUnmarshal measure it). The decompressed size
// itself is capped by MaxSize and by what the compressed bytes can expand
// to. [Msgpack] lists what the bounds do not cover: decode methods of your
// own, decoders registered with msgpack, values already held in v.
//
// # Performance
//
// zstd coders are created once and shared (EncodeAll and DecodeAll are safe
// for concurrent use), gzip writers and readers, msgpack encoders and
// decoders and scratch buffers are pooled. A Codec with dictionaries holds
// one decoder for all of them, and an encoder for Options.Dictionary. The msgpack checks read the
// payload once or twice and allocate nothing; decoding a raw frame with
// [Msgpack] allocates only what msgpack creates for the value itself.
//
// # Concurrency
//
// All functions and all methods of [Codec] are safe for concurrent use.
// Package-level state is limited to those lazily created coders and pools,
// and a cache of what each destination type costs to decode (one entry per
// type a program decodes into, like msgpack's own caches).
//
// # What this package does not do
//
// It does not encrypt or authenticate: the checksum catches accidental
// damage, not tampering (anyone can compute an xxhash). A frame written by
// an attacker cannot crash the process or exhaust its memory, but it
// decodes to whatever value the attacker chose. It does not version your
// types: msgpack maps struct fields by name, so added and removed fields
// decode, but a field whose type changed fails to decode and the caller
// should treat that as a miss. It does not fetch, store or rotate
// dictionaries: a Codec holds those it is given (the root package's
// AutoDictionary does the rest).
package codec
