package codec_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/aside-go/aside/codec"
)

// fuzzTarget covers the msgpack paths that size allocations from the input:
// strings, slices of strings and of structs, maps, byte slices, interfaces.
type fuzzTarget struct {
	ID    int64
	Name  string
	Tags  []string
	Items []Item
	Meta  map[string]any
	Blob  []byte
	Any   any
}

// fuzzMaxSize keeps the allocation bound below meaningful: a frame may
// legitimately decompress to MaxSize bytes and msgpack may create a value per
// byte, but nothing may allocate in proportion to a length the input merely
// claims.
const fuzzMaxSize = 64 << 10

func FuzzUnmarshal(f *testing.F) {
	d := trainDict(f, 40100, 1)
	c := codec.Must(codec.Options{Dictionary: d, MaxSize: fuzzMaxSize})
	seedValues := []any{
		fuzzTarget{ID: 1, Name: "n", Tags: []string{"a", "b"}, Items: items(600), Meta: map[string]any{"k": []any{1, "x"}}, Blob: []byte{1, 2}, Any: 3.5},
		sampleUser(),
		items(3000),
		"a string",
		nil,
	}
	for _, v := range seedValues {
		for _, o := range []codec.Options{
			{Compression: codec.Zstd, MinSize: 1},
			{Compression: codec.S2, MinSize: 1},
			{Compression: codec.Gzip, MinSize: 1},
			{Compression: codec.None},
			{Compression: codec.Zstd, MinSize: 1, Dictionary: d},
		} {
			frame, _, err := codec.Must(o).Marshal(nil, v)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(frame)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0xA5, 1, 3, 0, 5, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xA5, 1, 1, 0, 0x80, 0x80, 0x04, 0x80, 0x80, 0x04})

	var ms runtime.MemStats
	f.Fuzz(func(t *testing.T, data []byte) {
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc

		var v fuzzTarget
		err1 := c.Unmarshal(data, &v)
		var a any
		err2 := c.Unmarshal(data, &a)

		runtime.ReadMemStats(&ms)
		if got, limit := ms.TotalAlloc-before, uint64(256*fuzzMaxSize+4<<20); got > limit {
			t.Fatalf("two Unmarshal calls on %d input bytes allocated %d bytes, bound %d", len(data), got, limit)
		}
		for _, err := range []error{err1, err2} {
			if err != nil && !strings.HasPrefix(err.Error(), "aside: codec: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
		}
	})
}

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
