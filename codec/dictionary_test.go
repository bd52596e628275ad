package codec_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/aside-go/aside/codec"
)

// oldFrame builds a version 2 zstd frame as releases before bare frames
// wrote it: a standard zstd frame, with its magic, dictionary ID and
// content checksum, inside the codec frame.
func oldFrame(t *testing.T, v any, dictionary []byte) []byte {
	t.Helper()
	raw, err := codec.Msgpack().Marshal(v)
	require.NoError(t, err)
	opts := []zstd.EOption{zstd.WithEncoderLevel(zstd.SpeedDefault)}
	flags := byte(0)
	var id uint32
	if dictionary != nil {
		opts = append(opts, zstd.WithEncoderDict(dictionary))
		id, err = codec.DictionaryID(dictionary)
		require.NoError(t, err)
		flags = 1
	}
	enc, err := zstd.NewWriter(nil, opts...)
	require.NoError(t, err)
	f := []byte{0xA5, 2, 0, flags}
	if id != 0 {
		f = binary.LittleEndian.AppendUint32(f, id)
	}
	f = binary.AppendUvarint(f, uint64(len(raw)))
	f = enc.EncodeAll(raw, f)
	return binary.LittleEndian.AppendUint64(f, xxhash.Sum64(f))
}

func TestFramesWrittenBeforeBareZstdStillDecode(t *testing.T) {
	d := trainDict(t, 40301, 3)
	v := items(1500)
	for _, tc := range []struct {
		name string
		dict []byte
	}{{"without a dictionary", nil}, {"with a dictionary", d}} {
		t.Run(tc.name, func(t *testing.T) {
			old := oldFrame(t, v, tc.dict)
			var got []Item
			require.NoError(t, codec.Must(codec.Options{Dictionary: d}).Unmarshal(old, &got))
			require.Equal(t, v, got)

			fresh, _, err := codec.Must(codec.Options{Dictionary: tc.dict}).Marshal(nil, v)
			require.NoError(t, err)
			require.Less(t, len(fresh), len(old), "a bare frame drops the zstd magic, checksum and dictionary ID")
		})
	}
}

func TestBareFlagOnlyOnZstd(t *testing.T) {
	c := codec.Must(codec.Options{})
	for _, alg := range []codec.Algorithm{codec.S2, codec.Gzip, codec.None} {
		f, _, err := codec.Must(codec.Options{Compression: alg}).Marshal(nil, items(800))
		require.NoError(t, err)
		require.Equal(t, byte(0), f[3]&2, "%s frames are not bare", alg)
		f[3] |= 2
		end := len(f) - 8
		binary.LittleEndian.PutUint64(f[end:], xxhash.Sum64(f[:end]))
		var got []Item
		require.ErrorIs(t, c.Unmarshal(f, &got), codec.ErrCorrupt, "%s", alg)
	}
}

func TestSeveralDictionaries(t *testing.T) {
	d1, d2, d3 := trainDict(t, 40311, 1), trainDict(t, 40312, 2), trainDict(t, 40313, 3)
	v := items(700)
	frame := func(d []byte) []byte {
		f, _, err := codec.Must(codec.Options{Dictionary: d}).Marshal(nil, v)
		require.NoError(t, err)
		return f
	}
	f1, f2, f3 := frame(d1), frame(d2), frame(d3)
	c := codec.Must(codec.Options{Dictionary: d3, Dictionaries: [][]byte{d1, d2}})

	t.Run("a codec decodes frames of every dictionary it holds", func(t *testing.T) {
		for _, f := range [][]byte{f1, f2, f3} {
			var got []Item
			require.NoError(t, c.Unmarshal(f, &got))
			require.Equal(t, v, got)
		}
	})
	t.Run("it compresses with Dictionary only", func(t *testing.T) {
		f, _, err := c.Marshal(nil, v)
		require.NoError(t, err)
		id, ok := codec.FrameDictionaryID(f)
		require.True(t, ok)
		require.Equal(t, uint32(40313), id)
	})
	t.Run("decode-only dictionaries work without Dictionary", func(t *testing.T) {
		old := codec.Must(codec.Options{Dictionaries: [][]byte{d1}})
		var got []Item
		require.NoError(t, old.Unmarshal(f1, &got))
		f, _, err := old.Marshal(nil, v)
		require.NoError(t, err)
		_, ok := codec.FrameDictionaryID(f)
		require.False(t, ok, "no dictionary to compress with")
		require.ErrorIs(t, old.Unmarshal(f2, &got), codec.ErrUnknownDictionary)
	})
	t.Run("two dictionaries with one ID are refused", func(t *testing.T) {
		_, err := codec.New(codec.Options{Dictionary: d1, Dictionaries: [][]byte{d2, d1}})
		require.ErrorIs(t, err, codec.ErrBadOptions)
		require.ErrorContains(t, err, "Dictionaries[1]")
	})
	t.Run("a garbled dictionary is refused", func(t *testing.T) {
		bad := bytes.Clone(d2)
		bad = bad[:len(bad)/3]
		_, err := codec.New(codec.Options{Dictionaries: [][]byte{bad}})
		require.ErrorIs(t, err, codec.ErrBadOptions)
	})
}

func TestFrameDictionaryID(t *testing.T) {
	d := trainDict(t, 40321, 4)
	f, _, err := codec.Must(codec.Options{Dictionary: d}).Marshal(nil, items(900))
	require.NoError(t, err)
	id, ok := codec.FrameDictionaryID(f)
	require.True(t, ok)
	require.Equal(t, uint32(40321), id)

	plain, _, err := codec.Must(codec.Options{}).Marshal(nil, items(900))
	require.NoError(t, err)
	_, ok = codec.FrameDictionaryID(plain)
	require.False(t, ok, "no dictionary")

	f[len(f)/2] ^= 1
	_, ok = codec.FrameDictionaryID(f)
	require.False(t, ok, "a damaged frame names nothing")
	_, ok = codec.FrameDictionaryID(nil)
	require.False(t, ok)
}

// trainingSamples serializes n item lists of varying length.
func trainingSamples(t testing.TB, n, seed int) [][]byte {
	var out [][]byte
	for i := range n {
		b, err := msgpack.Marshal(items(200 + (i*53+seed)%500))
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

func TestTrain(t *testing.T) {
	samples := trainingSamples(t, 64, 0)
	t.Run("it trains a dictionary a codec uses", func(t *testing.T) {
		d, err := codec.Train(samples, codec.TrainOptions{MaxSize: 8 << 10, ID: 50001})
		require.NoError(t, err)
		require.LessOrEqual(t, len(d), 8<<10+1<<10, "the size asked for, plus tables")
		id, err := codec.DictionaryID(d)
		require.NoError(t, err)
		require.Equal(t, uint32(50001), id)

		c := codec.Must(codec.Options{Dictionary: d, MinSize: 1})
		plain := codec.Must(codec.Options{MinSize: 1})
		v := items(230) // not among the samples
		withDict, _, err := c.Marshal(nil, v)
		require.NoError(t, err)
		without, _, err := plain.Marshal(nil, v)
		require.NoError(t, err)
		require.Less(t, len(withDict), len(without))
		var got []Item
		require.NoError(t, c.Unmarshal(withDict, &got))
		require.Equal(t, v, got)
	})
	t.Run("a zero ID is a random private one", func(t *testing.T) {
		d, err := codec.Train(samples, codec.TrainOptions{MaxSize: 4 << 10})
		require.NoError(t, err)
		id, err := codec.DictionaryID(d)
		require.NoError(t, err)
		require.GreaterOrEqual(t, id, uint32(32768))
		require.Less(t, id, uint32(1<<31))
	})
	for _, tc := range []struct {
		name    string
		samples [][]byte
		o       codec.TrainOptions
		want    error
	}{
		{"too few samples are refused", samples[:3], codec.TrainOptions{}, codec.ErrBadOptions},
		{"a negative size is refused", samples, codec.TrainOptions{MaxSize: -1}, codec.ErrBadOptions},
		{"a size over 1 MiB is refused", samples, codec.TrainOptions{MaxSize: 2 << 20}, codec.ErrBadOptions},
		{"a reserved ID is refused", samples, codec.TrainOptions{ID: 7}, codec.ErrBadOptions},
		{"a level out of range is refused", samples, codec.TrainOptions{Level: 30}, codec.ErrBadOptions},
		{"identical tiny samples cannot train", bytes.Fields(bytes.Repeat([]byte("ab "), 50)), codec.TrainOptions{}, codec.ErrTraining},
		{"empty samples cannot train", make([][]byte, 20), codec.TrainOptions{}, codec.ErrTraining},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := codec.Train(tc.samples, tc.o)
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestAppendFrameAndPayload(t *testing.T) {
	d := trainDict(t, 40331, 6)
	for _, o := range []codec.Options{{}, {Compression: codec.S2}, {Compression: codec.Gzip}, {Compression: codec.None}, {Dictionary: d}} {
		c := codec.Must(o)
		for _, v := range []any{sampleUser(), items(3000)} {
			name := fmt.Sprintf("%s dict=%v %T", o.Compression, o.Dictionary != nil, v)
			want, _, err := c.Marshal(nil, v)
			require.NoError(t, err)
			payload, err := c.AppendPayload([]byte("prefix"), want)
			require.NoError(t, err)
			require.Equal(t, "prefix", string(payload[:6]), name)
			raw, err := codec.Msgpack().Marshal(v)
			require.NoError(t, err)
			require.Equal(t, raw, payload[6:], "%s: the payload is the serialized value", name)
			got, err := c.AppendFrame([]byte("x"), raw)
			require.NoError(t, err)
			require.Equal(t, want, got[1:], "%s: framing the payload is what Marshal writes", name)
		}
	}
	_, err := codec.Must(codec.Options{}).AppendPayload(nil, []byte{0xA5, 2, 0})
	require.ErrorIs(t, err, codec.ErrShortFrame)
}

func TestMsgpackSortsStringMaps(t *testing.T) {
	m := map[string]string{}
	a := map[string]any{}
	for i := range 200 {
		m[fmt.Sprintf("key-%03d", i)] = fmt.Sprint(i)
		a[fmt.Sprintf("k%03d", i)] = i
	}
	type doc struct {
		M map[string]string
		A map[string]any
	}
	first, err := codec.Msgpack().Marshal(doc{m, a})
	require.NoError(t, err)
	for range 20 {
		again, err := codec.Msgpack().Marshal(doc{m, a})
		require.NoError(t, err)
		require.Equal(t, first, again, "equal values serialize to equal bytes")
	}
	require.Less(t, bytes.Index(first, []byte("key-000")), bytes.Index(first, []byte("key-001")))
}
