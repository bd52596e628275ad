package codec

import "math/rand/v2"

// HostileMsgpack exposes the hostile generator (msgpack_corpus_test.go) to
// the fuzz targets, which live in codec_test.
func HostileMsgpack(r *rand.Rand, size int) []byte { return hostileMsgpack(r, size) }

// DecodeLimit is decodeLimit, for the allocation tests.
func DecodeLimit(n int) uint64 { return decodeLimit(n) }

// RaceEnabled reports whether the race detector is on.
const RaceEnabled = raceEnabled
