package codec

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

func TestCheckMsgpackAcceptsEveryEncoding(t *testing.T) {
	type inner struct {
		A []any
		M map[string]any
	}
	values := []any{
		nil, true, false, 0, 1, -1, 127, 128, -33, 255, 256, 65535, 65536, -129, -32769,
		int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64), float32(1.5), 3.25,
		"", "short", strings.Repeat("s", 31), strings.Repeat("m", 200), strings.Repeat("l", 70000),
		[]byte{}, []byte("bin"), bytes.Repeat([]byte{1}, 300), bytes.Repeat([]byte{2}, 70000),
		[]int{}, []int{1, 2, 3}, make([]int, 20), make([]int, 70000),
		map[string]int{}, map[string]int{"a": 1}, func() map[int]int {
			m := map[int]int{}
			for i := range 70000 {
				m[i] = i
			}
			return m
		}(),
		time.Unix(1, 0), time.Unix(1<<35, 5), time.Unix(1<<40, 7).UTC(),
		inner{A: []any{1, "x", []any{nil}}, M: map[string]any{"k": map[string]any{"n": 1.5}}},
	}
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		require.NoError(t, err)
		widen, err := checkMsgpack(b)
		require.NoError(t, err, "%T %x", v, b[:min(len(b), 16)])
		require.Nil(t, widen)
	}
	// Extension types of every size class.
	for _, n := range []int{1, 2, 4, 8, 16, 3, 300, 70000} {
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		require.NoError(t, enc.EncodeExtHeader(5, n))
		buf.Write(make([]byte, n))
		_, err := checkMsgpack(buf.Bytes())
		require.NoError(t, err, "ext of %d bytes", n)
	}
}

func TestCheckMsgpackRejectsMalformedInput(t *testing.T) {
	deep := func(n int) []byte { return append(bytes.Repeat([]byte{0x91}, n), 0xc0) }
	tests := []struct {
		name string
		in   []byte
	}{
		{"an empty input holds no value", nil},
		{"0xc1 is never used", []byte{0xc1}},
		{"two top-level values are one too many", []byte{0x01, 0x02}},
		{"a fixarray missing an element", []byte{0x92, 0x01}},
		{"a fixmap missing a value", []byte{0x81, 0xa1, 'k'}},
		{"a fixstr longer than the input", []byte{0xa5, 'a'}},
		{"a str8 without its length", []byte{0xd9}},
		{"a str32 claiming 4 GiB", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'x'}},
		{"a bin16 longer than the input", []byte{0xc5, 0x01, 0x00, 0x00}},
		{"an array32 claiming 4 billion elements", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0}},
		{"a map32 claiming 4 billion entries", []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0}},
		{"an array16 claiming more elements than bytes", []byte{0xdc, 0x00, 0x03, 0xc0, 0xc0}},
		{"a truncated float64", []byte{0xcb, 0, 0, 0}},
		{"a truncated int32", []byte{0xd2, 0}},
		{"a fixext8 missing bytes", []byte{0xd7, 0x01, 0, 0}},
		{"an ext8 missing its type byte", []byte{0xc7, 0x00}},
		{"an ext32 longer than the input", []byte{0xc9, 0, 0, 1, 0, 5}},
		{"nesting deeper than the limit", deep(maxMsgpackDepth + 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkMsgpack(tt.in)
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
	t.Run("nesting up to the limit is accepted", func(t *testing.T) {
		_, err := checkMsgpack(deep(maxMsgpackDepth))
		require.NoError(t, err)
	})
}

func TestMsgpackUnmarshalRefusesHugeDeclaredSlices(t *testing.T) {
	type elem struct{ A, B, C, D int64 }
	in := []byte{0xdd, 0x7f, 0xff, 0xff, 0xff} // array32 of 2^31-1 elements, none present
	var v []elem
	err := Msgpack().Unmarshal(in, &v)
	require.ErrorIs(t, err, ErrCorrupt)
	require.Nil(t, v)
}

func TestCheckMsgpackAllocatesNothing(t *testing.T) {
	b, err := msgpack.Marshal(map[string]any{"a": []any{1, "two", 3.0, []byte("four"), map[string]any{"five": nil}}})
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := checkMsgpack(b); err != nil {
			panic(err)
		}
	})
	require.Zero(t, allocs)
}

func TestRawUnmarshalAllocatesOnlyWhatMsgpackNeeds(t *testing.T) {
	type small struct {
		N  int64
		OK bool
		F  float64
	}
	c := Must(Options{})
	frame, _, err := c.Marshal(nil, small{1, true, 2.5})
	require.NoError(t, err)
	var v small
	allocs := testing.AllocsPerRun(200, func() {
		if err := c.Unmarshal(frame, &v); err != nil {
			panic(err)
		}
	})
	if raceEnabled {
		// The decoder comes from msgpack's sync.Pool, which the race
		// detector makes drop a quarter of what it is given; rebuilding it
		// then averages about one allocation per call (CI saw 1 once).
		require.LessOrEqual(t, allocs, 1.0, "a raw frame of a struct without strings or slices decodes without allocating (but for the pool's drops under -race)")
	} else {
		require.Zero(t, allocs, "a raw frame of a struct without strings or slices decodes with no allocation")
	}
	require.Equal(t, small{1, true, 2.5}, v)
}
