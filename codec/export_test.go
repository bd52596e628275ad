package codec

import "math/rand/v2"

// HostileMsgpack exposes the hostile generator (msgpack_corpus_test.go) to
// the fuzz targets, which live in codec_test.
func HostileMsgpack(r *rand.Rand, size int) []byte { return hostileMsgpack(r, size) }

// DecodeLimit is decodeLimit, for the allocation tests.
func DecodeLimit(n int) uint64 { return decodeLimit(n) }

// RaceEnabled reports whether the race detector is on.
const RaceEnabled = raceEnabled

// StandardZstd returns the standard zstd frame inside a zstd codec frame
// (restored from its bare form, naming the frame's dictionary), for tests
// that hand it to other decoders.
func StandardZstd(frame []byte) []byte {
	h, payload, err := parseFrame(frame, maxMaxSize)
	if err != nil || h.alg != Zstd || !h.bare {
		panic("not a bare zstd codec frame")
	}
	z, err := restoreZstd(nil, payload, h.dictID)
	if err != nil {
		panic(err)
	}
	return z
}
