package codec_test

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/dict"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
	"go.uber.org/goleak"

	"github.com/aside-go/aside/codec"
)

func TestMain(m *testing.M) {
	// The shared zstd coders must not leave goroutines behind. msgpack
	// itself starts one goroutine per type, for good, the first time it
	// decodes into a nil embedded struct pointer (cachedValue, reached from
	// fieldByIndexAlloc); the fallback tests decode such a type.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/vmihailenco/msgpack/v5.cachedValue.func1"))
}

var allAlgs = []codec.Algorithm{codec.Zstd, codec.S2, codec.Gzip, codec.None}

// frameAlg reads the algorithm byte of a frame (doc.go: byte 2).
func frameAlg(t testing.TB, frame []byte) codec.Algorithm {
	t.Helper()
	require.GreaterOrEqual(t, len(frame), 4)
	require.Equal(t, byte(0xA5), frame[0], "magic")
	require.Equal(t, byte(2), frame[1], "version")
	return codec.Algorithm(frame[2])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// text returns n bytes of compressible, JSON-like text.
func text(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"id":%d,"name":"user %d","email":"user%d@example.com","active":true},`, i, i%97, i)
	}
	return b.Bytes()[:n]
}

func TestRoundTripEveryAlgorithmAndSize(t *testing.T) {
	sizes := []struct {
		name        string
		payload     []byte
		compressing bool // whether a compressor should win
	}{
		{"an empty payload", []byte{}, false},
		{"a small payload", []byte("hello"), false},
		{"a 256 B text", text(256), true},
		{"a 4 KiB text", text(4 << 10), true},
		{"a 64 KiB text", text(64 << 10), true},
		{"1 MiB of random bytes", randomBytes(1 << 20), false},
	}
	for _, a := range allAlgs {
		for _, s := range sizes {
			t.Run(a.String()+" round-trips "+s.name, func(t *testing.T) {
				c, err := codec.New(codec.Options{Compression: a, MinSize: 1})
				require.NoError(t, err)
				frame, rawSize, err := c.Marshal(nil, s.payload)
				require.NoError(t, err)
				want, err := msgpack.Marshal(s.payload)
				require.NoError(t, err)
				require.Equal(t, len(want), rawSize, "rawSize is the serialized length")

				switch {
				case a == codec.None || !s.compressing:
					require.Equal(t, codec.None, frameAlg(t, frame))
				default:
					require.Equal(t, a, frameAlg(t, frame))
					require.Less(t, len(frame), rawSize)
				}

				var got []byte
				require.NoError(t, c.Unmarshal(frame, &got))
				require.True(t, bytes.Equal(s.payload, got), "payload differs after the round trip")
			})
		}
	}
}

func TestStructRoundTrip(t *testing.T) {
	type Order struct {
		ID    int64
		Lines []Item
		Notes map[string]any
		Paid  bool
	}
	in := Order{ID: 7, Lines: items(8 << 10), Notes: map[string]any{"gift": true, "note": "leave at door"}, Paid: true}
	for _, a := range allAlgs {
		t.Run(a.String()+" round-trips a nested struct", func(t *testing.T) {
			c := codec.Must(codec.Options{Compression: a})
			frame, _, err := c.Marshal(nil, in)
			require.NoError(t, err)
			var out Order
			require.NoError(t, c.Unmarshal(frame, &out))
			require.Equal(t, in, out)
		})
	}
	t.Run("the sample user is stored raw and round-trips", func(t *testing.T) {
		c := codec.Must(codec.Options{})
		frame, raw, err := c.Marshal(nil, sampleUser())
		require.NoError(t, err)
		require.Less(t, raw, codec.DefaultMinSize)
		require.Equal(t, codec.None, frameAlg(t, frame))
		var u User
		require.NoError(t, c.Unmarshal(frame, &u))
		require.Equal(t, sampleUser(), u)
	})
}

func TestRawKeptWhenCompressionDoesNotShrink(t *testing.T) {
	payload := randomBytes(4 << 10)
	for _, a := range allAlgs {
		t.Run(a.String()+" stores incompressible data raw", func(t *testing.T) {
			c := codec.Must(codec.Options{Compression: a})
			frame, raw, err := c.Marshal(nil, payload)
			require.NoError(t, err)
			require.Equal(t, codec.None, frameAlg(t, frame))
			require.Equal(t, 4+binary.PutUvarint(make([]byte, 10), uint64(raw))+raw+8, len(frame), "header, raw payload, checksum")
			var got []byte
			require.NoError(t, c.Unmarshal(frame, &got))
			require.Equal(t, payload, got)
		})
	}
}

func TestCompressionIsKeptOnlyWhenItSavesAnEighth(t *testing.T) {
	// Already-compressed bytes with a little redundancy (a gzip'd body in a
	// small wrapper) save a few percent at most: not worth decompressing on
	// every hit.
	barely := append(randomBytes(4<<10), make([]byte, 200)...)
	worth := append(randomBytes(2<<10), make([]byte, 2<<10)...)
	for _, a := range allAlgs {
		t.Run(a.String()+" stores a payload that barely compresses raw", func(t *testing.T) {
			frame, _, err := codec.Must(codec.Options{Compression: a}).Marshal(nil, barely)
			require.NoError(t, err)
			require.Equal(t, codec.None, frameAlg(t, frame))
		})
		if a == codec.None {
			continue
		}
		t.Run(a.String()+" compresses a payload it halves", func(t *testing.T) {
			frame, _, err := codec.Must(codec.Options{Compression: a}).Marshal(nil, worth)
			require.NoError(t, err)
			require.Equal(t, a, frameAlg(t, frame))
		})
	}
}

func TestMinSizeThreshold(t *testing.T) {
	// A string serializes to a 3-byte str16 header plus its bytes.
	justBelow := string(text(500 - 3 - 1))
	atSize := string(text(500 - 3))
	tests := []struct {
		name    string
		opts    codec.Options
		value   string
		wantAlg codec.Algorithm
	}{
		{"a payload one byte below MinSize is stored raw", codec.Options{MinSize: 500}, justBelow, codec.None},
		{"a payload exactly MinSize long is compressed", codec.Options{MinSize: 500}, atSize, codec.Zstd},
		{"the default MinSize keeps a 200-byte payload raw", codec.Options{}, string(text(200)), codec.None},
		{"the default MinSize compresses a 300-byte payload", codec.Options{}, string(text(300)), codec.Zstd},
		{"compression None never compresses", codec.Options{Compression: codec.None, MinSize: 1}, atSize, codec.None},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := codec.Must(tt.opts)
			frame, raw, err := c.Marshal(nil, tt.value)
			require.NoError(t, err)
			if tt.opts.MinSize == 500 {
				require.Equal(t, len(tt.value)+3, raw)
			}
			require.Equal(t, tt.wantAlg, frameAlg(t, frame))
			var got string
			require.NoError(t, c.Unmarshal(frame, &got))
			require.Equal(t, tt.value, got)
		})
	}
}

func TestEveryLevelRoundTrips(t *testing.T) {
	ranges := map[codec.Algorithm][2]int{codec.Zstd: {1, 22}, codec.S2: {1, 3}, codec.Gzip: {1, 9}}
	payload := text(8 << 10)
	for a, r := range ranges {
		for level := r[0]; level <= r[1]; level++ {
			t.Run(fmt.Sprintf("%s level %d compresses and round-trips", a, level), func(t *testing.T) {
				c, err := codec.New(codec.Options{Compression: a, Level: level})
				require.NoError(t, err)
				frame, _, err := c.Marshal(nil, payload)
				require.NoError(t, err)
				require.Equal(t, a, frameAlg(t, frame))
				var got []byte
				require.NoError(t, codec.Must(codec.Options{}).Unmarshal(frame, &got), "any codec decodes it")
				require.Equal(t, payload, got)
			})
		}
	}
}

func TestMarshalAppendsToDst(t *testing.T) {
	c := codec.Must(codec.Options{MinSize: 1})
	for _, v := range []any{"short", string(text(4096)), randomBytes(1024)} {
		prefix := []byte("prefix:")
		dst := append(make([]byte, 0, 8), prefix...)
		out, _, err := c.Marshal(dst, v)
		require.NoError(t, err)
		require.Equal(t, prefix, out[:len(prefix)])
		alone, _, err := c.Marshal(nil, v)
		require.NoError(t, err)
		require.Equal(t, alone, out[len(prefix):])
	}
}

var dictCache sync.Map // id -> []byte

// trainDict trains a zstd dictionary with the given ID on item lists; the
// result is cached per ID.
func trainDict(t testing.TB, id uint32, seed int) []byte {
	t.Helper()
	if d, ok := dictCache.Load(id); ok {
		return d.([]byte)
	}
	var samples [][]byte
	for i := range 48 {
		b, err := msgpack.Marshal(items(300 + (i*37+seed)%400))
		require.NoError(t, err)
		samples = append(samples, b)
	}
	d, err := dict.BuildZstdDict(samples, dict.Options{MaxDictSize: 4 << 10, HashBytes: 6, ZstdDictID: id})
	require.NoError(t, err)
	dictCache.Store(id, d)
	return d
}

func TestDictionary(t *testing.T) {
	d1 := trainDict(t, 40001, 0)
	d2 := trainDict(t, 40002, 11)
	withD1 := codec.Must(codec.Options{Dictionary: d1})
	withD1too := codec.Must(codec.Options{Dictionary: d1, Compression: codec.S2})
	withD2 := codec.Must(codec.Options{Dictionary: d2})
	plain := codec.Must(codec.Options{})
	value := items(600)

	frame, _, err := withD1.Marshal(nil, value)
	require.NoError(t, err)
	require.Equal(t, codec.Zstd, frameAlg(t, frame))
	require.Equal(t, byte(3), frame[3], "dictionary and bare flags")
	require.Equal(t, uint32(40001), binary.LittleEndian.Uint32(frame[4:8]), "dictionary ID")

	t.Run("a dictionary frame is smaller than a plain one", func(t *testing.T) {
		plainFrame, _, err := plain.Marshal(nil, value)
		require.NoError(t, err)
		require.Less(t, len(frame), len(plainFrame))
	})
	t.Run("a codec holding the dictionary decodes the frame", func(t *testing.T) {
		for _, c := range []*codec.Codec{withD1, withD1too} {
			var got []Item
			require.NoError(t, c.Unmarshal(frame, &got))
			require.Equal(t, value, got)
		}
	})
	t.Run("a codec without a dictionary fails with ErrUnknownDictionary", func(t *testing.T) {
		var got []Item
		require.ErrorIs(t, plain.Unmarshal(frame, &got), codec.ErrUnknownDictionary)
	})
	t.Run("a codec with a different dictionary fails with ErrUnknownDictionary", func(t *testing.T) {
		var got []Item
		require.ErrorIs(t, withD2.Unmarshal(frame, &got), codec.ErrUnknownDictionary)
	})
	t.Run("a dictionary codec decodes plain frames", func(t *testing.T) {
		plainFrame, _, err := plain.Marshal(nil, value)
		require.NoError(t, err)
		var got []Item
		require.NoError(t, withD1.Unmarshal(plainFrame, &got))
		require.Equal(t, value, got)
	})
	t.Run("a frame whose zstd payload names an unknown dictionary fails cleanly", func(t *testing.T) {
		// Clear the codec-level flags but keep the zstd frame's own dictionary ID.
		z := codec.StandardZstd(frame)
		_, rawSize, err := withD1.Marshal(nil, value)
		require.NoError(t, err)
		forged := binary.AppendUvarint([]byte{0xA5, 1, 0, 0}, uint64(rawSize)) // a version 1 frame: no checksum
		forged = append(forged, z...)
		var got []Item
		require.ErrorIs(t, plain.Unmarshal(forged, &got), codec.ErrUnknownDictionary)
	})
}

func TestUnmarshalRejectsBadFrames(t *testing.T) {
	c := codec.Must(codec.Options{MaxSize: 1 << 20})
	valid, _, err := codec.Must(codec.Options{Compression: codec.None}).Marshal(nil, "hello")
	require.NoError(t, err)
	tests := []struct {
		name  string
		frame []byte
		want  error
	}{
		{"nil input is a short frame", nil, codec.ErrShortFrame},
		{"three bytes are a short frame", []byte{0xA5, 1, 3}, codec.ErrShortFrame},
		{"a version 2 frame shorter than header and checksum is short", []byte{0xA5, 2, 3, 0, 0, 1, 2, 3, 4, 5, 6, 7}, codec.ErrShortFrame},
		{"a version 2 frame with a wrong checksum is corrupt", append(bytes.Clone(valid[:len(valid)-1]), valid[len(valid)-1]^1), codec.ErrChecksum},
		{"a version 2 frame cut short fails its checksum", valid[:len(valid)-1], codec.ErrCorrupt},
		{"a version 2 frame with a byte appended fails its checksum", append(bytes.Clone(valid), 0), codec.ErrChecksum},
		{"a wrong magic byte is rejected", append([]byte{0x00}, valid[1:]...), codec.ErrBadMagic},
		{"a JSON document is not a frame", []byte(`{"a":1}`), codec.ErrBadMagic},
		{"version 3 is unsupported", append([]byte{0xA5, 3}, valid[2:]...), codec.ErrVersion},
		{"version 0 is unsupported", append([]byte{0xA5, 0}, valid[2:]...), codec.ErrVersion},
		{"algorithm 4 is unknown", []byte{0xA5, 1, 4, 0, 0}, codec.ErrUnknownAlgorithm},
		{"algorithm 255 is unknown", []byte{0xA5, 1, 255, 0, 0}, codec.ErrUnknownAlgorithm},
		{"unknown flag bits are corrupt", []byte{0xA5, 1, 3, 0x80, 0}, codec.ErrCorrupt},
		{"a dictionary flag on an s2 frame is corrupt", []byte{0xA5, 1, 1, 1, 1, 0, 0, 0, 0}, codec.ErrCorrupt},
		{"a truncated dictionary ID is short", []byte{0xA5, 1, 0, 1, 1, 2}, codec.ErrShortFrame},
		{"a missing length is short", []byte{0xA5, 1, 3, 0}, codec.ErrShortFrame},
		{"a truncated length is short", []byte{0xA5, 1, 3, 0, 0x80}, codec.ErrShortFrame},
		{"an overflowing length is corrupt", []byte{0xA5, 1, 3, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, codec.ErrCorrupt},
		{"a length over MaxSize is too large", binary.AppendUvarint([]byte{0xA5, 1, 0, 0}, 1<<20+1), codec.ErrTooLarge},
		{"a raw payload shorter than claimed is corrupt", append([]byte{0xA5, 1, 3, 0, 9}, 0xa1, 'x'), codec.ErrCorrupt},
		{"a raw payload longer than claimed is corrupt", append([]byte{0xA5, 1, 3, 0, 1}, 0xa1, 'x'), codec.ErrCorrupt},
		{"a raw payload with trailing msgpack is corrupt", append([]byte{0xA5, 1, 3, 0, 3}, 0xa1, 'x', 0xc0), codec.ErrCorrupt},
		{"a raw msgpack array claiming 4 billion elements is corrupt", append([]byte{0xA5, 1, 3, 0, 5}, 0xdd, 0xff, 0xff, 0xff, 0xff), codec.ErrCorrupt},
		{"a gzip frame claiming more than DEFLATE can expand to is corrupt", binary.AppendUvarint([]byte{0xA5, 1, 2, 0}, 1<<20), codec.ErrCorrupt},
		{"a zstd frame claiming more than zstd can expand to is corrupt", append(binary.AppendUvarint([]byte{0xA5, 1, 0, 0}, 1<<20), "tiny"...), codec.ErrCorrupt},
		{"a zstd frame with a garbage payload is corrupt", append([]byte{0xA5, 1, 0, 0, 5}, "junk!"...), codec.ErrCorrupt},
		{"an s2 frame with a garbage payload is corrupt", append([]byte{0xA5, 1, 1, 0, 5}, 0xff, 0xff, 0xff, 0xff, 0xff), codec.ErrCorrupt},
		{"a gzip frame with a garbage payload is corrupt", append([]byte{0xA5, 1, 2, 0, 5}, "junk!"...), codec.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			err := c.Unmarshal(tt.frame, &v)
			require.ErrorIs(t, err, tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "aside: codec: "), err.Error())
		})
	}
}

// validFrames returns one compressed frame per algorithm (and a raw one) of
// a compressible value.
func validFrames(t testing.TB) map[string][]byte {
	t.Helper()
	frames := map[string][]byte{}
	for _, a := range allAlgs {
		f, _, err := codec.Must(codec.Options{Compression: a}).Marshal(nil, items(2<<10))
		require.NoError(t, err)
		frames[a.String()] = f
	}
	return frames
}

func TestTruncatedAndDamagedFramesFail(t *testing.T) {
	c := codec.Must(codec.Options{})
	for name, frame := range validFrames(t) {
		t.Run(name+" frame cut at every length fails", func(t *testing.T) {
			for n := range len(frame) {
				var v []Item
				require.Error(t, c.Unmarshal(frame[:n], &v), "prefix of %d bytes", n)
			}
		})
		t.Run(name+" frame with a flipped payload byte fails", func(t *testing.T) {
			for _, pos := range []int{len(frame) / 2, len(frame) - 1} {
				bad := bytes.Clone(frame)
				bad[pos] ^= 0x55
				var v []Item
				require.ErrorIs(t, c.Unmarshal(bad, &v), codec.ErrCorrupt, "byte %d flipped", pos)
			}
		})
	}
	t.Run("a compressed frame whose payload is longer than claimed fails", func(t *testing.T) {
		for _, a := range []codec.Algorithm{codec.Zstd, codec.S2, codec.Gzip} {
			raw := text(4096)
			body, err := codec.AppendCompressed(nil, raw, a, 0)
			require.NoError(t, err)
			for _, claim := range []int{len(raw) - 1, len(raw) + 1} {
				frame := append(binary.AppendUvarint([]byte{0xA5, 1, byte(a), 0}, uint64(claim)), body...)
				var v []byte
				require.ErrorIs(t, c.Unmarshal(frame, &v), codec.ErrCorrupt, "%s claiming %d of %d", a, claim, len(raw))
			}
		}
	})
}

func TestMaxSize(t *testing.T) {
	c := codec.Must(codec.Options{MaxSize: 1000})
	t.Run("Marshal refuses a value larger than MaxSize", func(t *testing.T) {
		dst := []byte("keep")
		out, raw, err := c.Marshal(dst, strings.Repeat("x", 1000))
		require.ErrorIs(t, err, codec.ErrTooLarge)
		require.Equal(t, 1003, raw)
		require.Equal(t, dst, out)
	})
	t.Run("Unmarshal refuses a frame claiming more than MaxSize", func(t *testing.T) {
		frame, _, err := codec.Must(codec.Options{}).Marshal(nil, strings.Repeat("x", 1000))
		require.NoError(t, err)
		var s string
		require.ErrorIs(t, c.Unmarshal(frame, &s), codec.ErrTooLarge)
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts codec.Options
		want error
	}{
		{"zstd level 23 is out of range", codec.Options{Level: 23}, codec.ErrBadOptions},
		{"a negative zstd level is out of range", codec.Options{Level: -1}, codec.ErrBadOptions},
		{"s2 level 4 is out of range", codec.Options{Compression: codec.S2, Level: 4}, codec.ErrBadOptions},
		{"gzip level 10 is out of range", codec.Options{Compression: codec.Gzip, Level: 10}, codec.ErrBadOptions},
		{"an unknown algorithm is rejected", codec.Options{Compression: 9}, codec.ErrUnknownAlgorithm},
		{"a negative MinSize is rejected", codec.Options{MinSize: -1}, codec.ErrBadOptions},
		{"a negative MaxSize is rejected", codec.Options{MaxSize: -1}, codec.ErrBadOptions},
		{"a MaxSize over 1 GiB is rejected", codec.Options{MaxSize: 1<<30 + 1}, codec.ErrBadOptions},
		{"a dictionary that is not a zstd dictionary is rejected", codec.Options{Dictionary: []byte("not a dictionary")}, codec.ErrBadOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := codec.New(tt.opts)
			require.ErrorIs(t, err, tt.want)
			require.Nil(t, c)
			require.Panics(t, func() { codec.Must(tt.opts) })
		})
	}
	t.Run("the zero Options are valid", func(t *testing.T) {
		_, err := codec.New(codec.Options{})
		require.NoError(t, err)
	})
	t.Run("None ignores Level", func(t *testing.T) {
		_, err := codec.New(codec.Options{Compression: codec.None, Level: 99})
		require.NoError(t, err)
	})
}

func TestParseAlgorithm(t *testing.T) {
	tests := []struct {
		in   string
		want codec.Algorithm
		err  bool
	}{
		{"zstd", codec.Zstd, false},
		{" ZSTD\n", codec.Zstd, false},
		{"s2", codec.S2, false},
		{"S2", codec.S2, false},
		{"Gzip", codec.Gzip, false},
		{"none", codec.None, false},
		{"", 0, true},
		{"snappy", 0, true},
		{"gz", 0, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q parses as %v (error %v)", tt.in, tt.want, tt.err), func(t *testing.T) {
			got, err := codec.ParseAlgorithm(tt.in)
			if tt.err {
				require.ErrorIs(t, err, codec.ErrUnknownAlgorithm)
				require.Contains(t, err.Error(), "zstd, s2, gzip, none")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, strings.ToLower(strings.TrimSpace(tt.in)), got.String())
		})
	}
	t.Run("an undefined value prints its number", func(t *testing.T) {
		require.Equal(t, "Algorithm(7)", codec.Algorithm(7).String())
	})
}

func TestConcurrentMarshalUnmarshal(t *testing.T) {
	d := trainDict(t, 40003, 3)
	codecs := []*codec.Codec{
		codec.Must(codec.Options{MinSize: 1}),
		codec.Must(codec.Options{Compression: codec.S2, MinSize: 1}),
		codec.Must(codec.Options{Compression: codec.Gzip, MinSize: 1}),
		codec.Must(codec.Options{Compression: codec.None}),
		codec.Must(codec.Options{Dictionary: d, MinSize: 1}),
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 40 {
				c := codecs[(g+i)%len(codecs)]
				want := items(64 + (g*131+i*17)%6000)
				frame, _, err := c.Marshal(nil, want)
				if err != nil {
					errs <- err
					return
				}
				var got []Item
				if err := c.Unmarshal(frame, &got); err != nil {
					errs <- err
					return
				}
				if len(got) != len(want) || got[len(got)-1].SKU != want[len(want)-1].SKU {
					errs <- errors.New("value differs after a concurrent round trip")
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// jsonSerializer is a plug-in Serializer without the AppendMarshal ability.
type jsonSerializer struct{ calls *int }

func (s jsonSerializer) Marshal(v any) ([]byte, error) {
	*s.calls++
	return json.Marshal(v)
}

func (s jsonSerializer) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func TestSerializerPlugin(t *testing.T) {
	calls := 0
	c := codec.Must(codec.Options{Serializer: jsonSerializer{&calls}, MinSize: 1})
	in := items(4 << 10)
	frame, raw, err := c.Marshal(nil, in)
	require.NoError(t, err)
	require.Equal(t, 1, calls)
	want, err := json.Marshal(in)
	require.NoError(t, err)
	require.Equal(t, len(want), raw, "rawSize is the JSON length")
	require.Equal(t, codec.Zstd, frameAlg(t, frame))

	var out []Item
	require.NoError(t, c.Unmarshal(frame, &out))
	require.Equal(t, in, out)

	t.Run("a serializer error is returned as is", func(t *testing.T) {
		_, _, err := c.Marshal(nil, make(chan int))
		var ute *json.UnsupportedTypeError
		require.ErrorAs(t, err, &ute)
	})
	t.Run("a msgpack codec cannot read the JSON frame", func(t *testing.T) {
		var out []Item
		require.Error(t, codec.Must(codec.Options{}).Unmarshal(frame, &out))
	})
}

func TestMsgpackSerializer(t *testing.T) {
	s := codec.Msgpack()
	t.Run("Marshal matches msgpack.Marshal", func(t *testing.T) {
		got, err := s.Marshal(sampleUser())
		require.NoError(t, err)
		want, err := msgpack.Marshal(sampleUser())
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
	t.Run("AppendMarshal appends", func(t *testing.T) {
		got, err := s.(codec.AppendMarshaler).AppendMarshal([]byte("x"), 1)
		require.NoError(t, err)
		require.Equal(t, []byte{'x', 0x01}, got)
	})
	t.Run("a struct decodes after a field was added", func(t *testing.T) {
		type V1 struct{ A, B string }
		type V2 struct {
			A, B string
			C    int
		}
		b, err := s.Marshal(V2{"a", "b", 3})
		require.NoError(t, err)
		var v V1
		require.NoError(t, s.Unmarshal(b, &v))
		require.Equal(t, V1{"a", "b"}, v)
	})
	t.Run("encoding errors carry the prefix", func(t *testing.T) {
		_, err := s.Marshal(make(chan int))
		require.ErrorContains(t, err, "aside: codec: msgpack")
	})
	t.Run("decoding into a non-pointer fails", func(t *testing.T) {
		b, _ := s.Marshal(1)
		var n int
		require.Error(t, s.Unmarshal(b, n))
	})
}

// TestUnmarshalAllocationIsBounded: the 930-byte zstd frame holds
// 8 MiB of nils in one array; read into a []User, msgpack would make two
// slices of 8 Mi Users (~1.3 GiB). Unmarshal refuses it having allocated
// only the decompression buffer, and whatever it decodes stays within
// 21 bytes per serialized byte plus 128 KiB.
func TestUnmarshalAllocationIsBounded(t *testing.T) {
	if codec.RaceEnabled {
		t.Skip("the race detector changes what is allocated (sync.Pool drops items)")
	}
	c := codec.Must(codec.Options{})
	nils := func(n int) (frame []byte, payloadLen int) {
		payload := append(binary.BigEndian.AppendUint32([]byte{0xdd}, uint32(n)), bytes.Repeat([]byte{0xc0}, n)...)
		body, err := codec.AppendCompressed(nil, payload, codec.Zstd, 0)
		require.NoError(t, err)
		frame = binary.AppendUvarint([]byte{0xA5, 2, byte(codec.Zstd), 0}, uint64(len(payload)))
		frame = append(frame, body...)
		return binary.LittleEndian.AppendUint64(frame, xxhash.Sum64(frame)), len(payload)
	}
	// The least of three runs: the first may create zstd's block decoders
	// and msgpack's caches for the type, once per process.
	measure := func(frame []byte, v any) (err error, allocated uint64) {
		allocated = ^uint64(0)
		for range 3 {
			fresh := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			err = c.Unmarshal(frame, fresh)
			runtime.ReadMemStats(&after)
			allocated = min(allocated, after.TotalAlloc-before.TotalAlloc)
		}
		return err, allocated
	}

	frame, n := nils(8 << 20)
	require.Less(t, len(frame), 1000)
	err, allocated := measure(frame, new([]User))
	require.ErrorIs(t, err, codec.ErrTooLarge)
	require.LessOrEqual(t, allocated, uint64(n)+64<<10, "refusing costs the decompression buffer")
	t.Logf("%d-byte frame, %d bytes of msgpack, into []User: refused, %d bytes allocated", len(frame), n, allocated)

	frame, n = nils(1 << 20)
	for _, v := range []any{new([]bool), new([]*User), new([]any), new(any), new([]User)} {
		err, allocated := measure(frame, v)
		require.LessOrEqual(t, allocated, 21*uint64(n)+128<<10, "%T: %v", v, err)
		t.Logf("%d bytes into %T: error %v, %d bytes allocated (%.1f per serialized byte)", n, v, err != nil, allocated, float64(allocated)/float64(n))
	}
}

// TestCraftedRecursiveEntryIsAnError is the crafted entry: a
// frame with a valid checksum (anyone can compute one) whose payload hides
// deep nesting behind an ext header, read into a type that is a map of
// itself. It killed the process with a stack overflow; now it is an error.
func TestCraftedRecursiveEntryIsAnError(t *testing.T) {
	type T struct{ M map[string]T }
	c := codec.Must(codec.Options{})
	frameOf := func(payload []byte) []byte {
		f := binary.AppendUvarint([]byte{0xA5, 2, byte(codec.None), 0}, uint64(len(payload)))
		f = append(f, payload...)
		return binary.LittleEndian.AppendUint64(f, xxhash.Sum64(f))
	}
	for _, levels := range []int{320, 2000} {
		// {M: ext{ {"": {M: {"": ... {}}}} }}: msgpack reads the ext
		// header in front of a map as part of the map.
		inner := append(bytes.Repeat([]byte{0x81, 0xa0, 0x81, 0xa1, 'M'}, levels), 0x80)
		payload := binary.BigEndian.AppendUint32([]byte{0x81, 0xa1, 'M', 0xc9}, uint32(len(inner)))
		payload = append(append(payload, 0x01), inner...)
		var v T
		err := c.Unmarshal(frameOf(payload), &v)
		require.Error(t, err, "%d levels, %d bytes", levels, len(payload))
		t.Logf("%d levels in %d bytes: %v", levels, len(payload), err)
	}
}
