package codec_test

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aside-go/aside/codec"
)

// fuzzTarget covers the msgpack paths that size allocations from the input:
// strings, slices of strings and of structs, maps, byte slices, interfaces,
// times.
type fuzzTarget struct {
	ID    int64
	Name  string
	Tags  []string
	Items []Item
	Meta  map[string]any
	Blob  []byte
	Any   any
	At    time.Time
	Ptrs  []*User
}

// recursive is the type whose decoding overflowed the stack.
type recursive struct{ M map[string]recursive }

// fuzzInto are the destinations every fuzz input is decoded into.
var fuzzInto = []func() any{
	func() any { return new(fuzzTarget) },
	func() any { return new(recursive) },
	func() any { return new([]User) },
	func() any { return new(map[string]any) },
	func() any { return new(any) },
	func() any { return new([]map[string]string) },
	func() any { return new(time.Time) },
}

// fuzzMaxSize keeps fuzz inputs' decompressed payloads, and so the
// allocation bound, small.
const fuzzMaxSize = 64 << 10

// unmarshalBound is what one Codec.Unmarshal of a payload of n serialized
// bytes may allocate (doc.go): what Msgpack lets msgpack allocate
// (16 n + 64 KiB), the decompression buffer (n), a bare zstd frame given
// its header back (under n), a copy with widened
// timestamps (at most 2.5 n), and the decompressors' own state.
func unmarshalBound(n int) uint64 { return 21*uint64(n) + 128<<10 }

// allocs returns what f allocated.
func allocs(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// fuzzSeeds returns msgpack payloads for the seed corpora: values the
// codec writes, and the hostile generator's deep nesting, huge counts,
// one-entry maps, timestamps and ext wrappers.
func fuzzSeeds(f *testing.F) [][]byte {
	var out [][]byte
	for _, v := range []any{
		fuzzTarget{ID: 1, Name: "n", Tags: []string{"a", "b"}, Items: items(600), Meta: map[string]any{"k": []any{1, "x"}},
			Blob: []byte{1, 2}, Any: 3.5, At: time.Unix(1700000000, 536870912), Ptrs: []*User{{ID: 1}, nil}},
		sampleUser(), items(3000), "a string", nil,
		recursive{M: map[string]recursive{"a": {M: map[string]recursive{"b": {}}}}},
	} {
		b, err := codec.Msgpack().Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	r := rand.New(rand.NewPCG(11, 12))
	for range 40 {
		out = append(out, codec.HostileMsgpack(r, 1+r.IntN(4000)))
	}
	out = append(out,
		[]byte{0xdd, 0xff, 0xff, 0xff, 0xff},                                    // a huge count
		append([]byte{0xdd, 0, 1, 0, 0}, bytes.Repeat([]byte{0xc0}, 1<<16)...),  // 64Ki nils
		append(bytes.Repeat([]byte{0x91}, 1100), 0xc0),                          // too deep
		[]byte{0xc7, 0x08, 0x01, 0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff}, // an ext read as a map, claiming 4G
	)
	return out
}

// FuzzMsgpackUnmarshal decodes raw msgpack into typed destinations,
// recursive ones included: it must never panic or crash, and never
// allocate more than the documented bound.
func FuzzMsgpackUnmarshal(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	s := codec.Msgpack()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, into := range fuzzInto {
			v := into()
			var err error
			got := allocs(func() { err = s.Unmarshal(data, v) })
			if limit := codec.DecodeLimit(len(data)) + 3*uint64(len(data)); got > limit && !codec.RaceEnabled {
				t.Fatalf("Unmarshal of %d bytes into %T allocated %d bytes, bound %d", len(data), v, got, limit)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "aside: codec: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
		}
	})
}

// FuzzUnmarshal decodes whole frames. The seeds are frames of every
// algorithm (none, zstd, s2, gzip, zstd with a dictionary) holding the
// seed payloads, as version 2 frames and as version 1 frames (which have
// no checksum, so that mutations reach the decompressors and msgpack), and
// copies with one bit flipped.
func FuzzUnmarshal(f *testing.F) {
	d := trainDict(f, 40100, 1)
	c := codec.Must(codec.Options{Dictionary: d, MaxSize: fuzzMaxSize})
	r := rand.New(rand.NewPCG(13, 14))
	for _, payload := range fuzzSeeds(f) {
		if len(payload) > fuzzMaxSize {
			continue
		}
		for _, o := range []codec.Options{
			{Compression: codec.Zstd, MinSize: 1},
			{Compression: codec.S2, MinSize: 1},
			{Compression: codec.Gzip, MinSize: 1},
			{Compression: codec.None},
			{Compression: codec.Zstd, MinSize: 1, Dictionary: d},
		} {
			frame, _, err := codec.Must(o).Marshal(nil, rawMsgpack(payload))
			if err != nil {
				f.Fatal(err)
			}
			v1 := asVersion1(frame)
			flipped := bytes.Clone(v1)
			flipped[r.IntN(len(flipped))] ^= 1 << r.IntN(8)
			f.Add(frame)
			f.Add(v1)
			f.Add(flipped)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0xA5, 1, 3, 0, 5, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xA5, 1, 1, 0, 0x80, 0x80, 0x04, 0x80, 0x80, 0x04})

	f.Fuzz(func(t *testing.T, data []byte) {
		for _, into := range fuzzInto {
			v := into()
			var err error
			got := allocs(func() { err = c.Unmarshal(data, v) })
			if limit := unmarshalBound(fuzzMaxSize); got > limit && !codec.RaceEnabled {
				t.Fatalf("Unmarshal of a %d-byte frame into %T allocated %d bytes, bound %d", len(data), v, got, limit)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "aside: codec: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
		}
	})
}

// rawMsgpack is a value whose msgpack encoding is the bytes themselves, so
// that seed frames can carry hostile payloads.
type rawMsgpack []byte

func (m rawMsgpack) MarshalMsgpack() ([]byte, error) { return m, nil }

func FuzzAppendDecompressed(f *testing.F) {
	for _, a := range []codec.Algorithm{codec.Zstd, codec.S2, codec.Gzip} {
		for _, body := range [][]byte{nil, []byte("hello"), text(5000)} {
			out, err := codec.AppendCompressed(nil, body, a, 0)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(a), out)
		}
	}
	f.Fuzz(func(t *testing.T, alg uint8, data []byte) {
		a := codec.Algorithm(alg % 4)
		out, err := codec.AppendDecompressed([]byte("pre"), data, a)
		if string(out[:3]) != "pre" {
			t.Fatal("dst prefix lost")
		}
		if err != nil {
			if len(out) != 3 {
				t.Fatalf("on error dst grew to %d bytes", len(out))
			}
			return
		}
		if len(out)-3 > codec.DefaultMaxSize {
			t.Fatalf("decompressed %d bytes, over the limit", len(out)-3)
		}
		// What decompresses must compress and come back the same.
		again, err := codec.AppendCompressed(nil, out[3:], a, 0)
		if err != nil {
			t.Fatal(err)
		}
		back, err := codec.AppendDecompressed(nil, again, a)
		if err != nil || string(back) != string(out[3:]) {
			t.Fatalf("re-compressed body does not round-trip: %v", err)
		}
	})
}
