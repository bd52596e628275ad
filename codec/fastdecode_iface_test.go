package codec

import (
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// Corpus types for time.Time and interfaces (fastdecode_iface.go).

type fdTimes struct {
	T  time.Time
	PT *time.Time
	TS []time.Time
	TM map[string]time.Time
	TA [2]time.Time
	PP **time.Time
}

type anyish interface{}

type anyMap map[string]any

type fdAny struct {
	A  any
	AS []any
	AM map[string]any
	AP *any
	AA [2]any
	N  anyish
	NM map[string]anyish
	KM map[myKey]any
	T  time.Time
	L  []int64
}

// ext writes an ext value with the given type and payload, in the
// shortest form.
func ext(typ byte, payload []byte) raw {
	var out []byte
	switch len(payload) {
	case 1, 2, 4, 8, 16:
		out = []byte{0xd4 + byte(bitsLen(len(payload))), typ}
	default:
		out = []byte{0xc7, byte(len(payload)), typ}
	}
	return append(out, payload...)
}

func bitsLen(n int) int {
	k := 0
	for n > 1 {
		n >>= 1
		k++
	}
	return k
}

func be32(u uint32) []byte { return binary.BigEndian.AppendUint32(nil, u) }
func be64(u uint64) []byte { return binary.BigEndian.AppendUint64(nil, u) }

func time12(sec int64, nsec uint32) []byte {
	return append(be32(nsec), be64(uint64(sec))...)
}

func TestFastDecodeMatchesMsgpackOnTimes(t *testing.T) {
	type target = func() any
	times := func() any { return new(fdTimes) }
	filled := func() any {
		tm := time.Unix(5, 6)
		p := &tm
		return &fdTimes{T: time.Unix(1, 2), PT: &tm, TS: make([]time.Time, 1, 4), TM: map[string]time.Time{"a": {}}, PP: &p}
	}
	top := func() any { return new(time.Time) }
	topPtr := func() any { return new(*time.Time) }
	inAny := func() any { return new(any) }
	inMap := func() any { return new(map[string]any) }
	all := []target{times, filled}
	everywhere := func(v raw) [][]byte {
		return [][]byte{
			enc(t, v),
			enc(t, mapHdr(6), "T", v, "PT", v, "TS", arrHdr(2), v, v, "TM", mapHdr(1), "k", v, "TA", arrHdr(1), v, "PP", v),
			enc(t, mapHdr(1), "k", v),
		}
	}
	tests := []struct {
		name string
		v    raw
	}{
		{"the 4-byte form", ext(0xff, be32(1700000000))},
		{"the 4-byte form at its limit", ext(0xff, be32(0xffffffff))},
		{"the 8-byte form", ext(0xff, be64(123456789<<34|1700000000))},
		{"the 8-byte form with nanoseconds past a second", ext(0xff, be64((1<<30-1)<<34|5))},
		{"the 12-byte form", ext(0xff, time12(-62135596800, 0))},
		{"the 12-byte form of a far date", ext(0xff, time12(253402300799, 999999999))},
		{"the 12-byte form with nanoseconds past a second", ext(0xff, time12(-5, 4_000_000_000))},
		{"the 12-byte form of the zero time, which becomes UTC", ext(0xff, time12(-62135596800, 0))},
		{"the Unix epoch, which stays Local", ext(0xff, be32(0))},
		{"ext type 13, which only DecodeTime accepts", ext(13, be32(7))},
		{"another ext type", ext(5, be32(7))},
		{"a 5-byte time ext", ext(0xff, []byte{1, 2, 3, 4, 5})},
		{"a 16-byte time ext", ext(0xff, make([]byte, 16))},
		{"a 1-byte time ext", ext(0xff, []byte{1})},
		{"a time ext claiming more than there is", raw{0xd7, 0xff, 1, 2, 3}},
		{"an ext8 header with no type", raw{0xc7, 0x04}},
		{"nil, on which msgpack panics for a time.Time", raw{0xc0}},
		{"a legacy [sec, nsec] array", raw(enc(t, arrHdr(2), int64(1700000000), 5))},
		{"a legacy array of nils", raw(enc(t, arrHdr(2), nil, nil))},
		{"a legacy array of strings", raw(enc(t, arrHdr(2), "a", "b"))},
		{"an RFC 3339 string in UTC", raw(enc(t, "2024-05-06T07:08:09.123456789Z"))},
		{"an RFC 3339 string with an offset", raw(enc(t, "2024-05-06T07:08:09+02:00"))},
		{"a long RFC 3339 string", raw(enc(t, "2024-05-06T07:08:09.000000000000000000000000000000001Z"))},
		{"a string that is not a time", raw(enc(t, "yesterday"))},
		{"an empty string", raw(enc(t, ""))},
		{"an int", raw(enc(t, 5))},
		{"a map", raw(enc(t, map[string]int{"a": 1}))},
		{"bin", raw(enc(t, []byte("2024-05-06T07:08:09Z")))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, data := range everywhere(tt.v) {
				for _, into := range append(all, top, topPtr, inAny, inMap) {
					decodeBoth(t, data, into(), into())
				}
			}
		})
	}
}

func TestFastDecodeMatchesMsgpackOnInterfaces(t *testing.T) {
	type target = func() any
	anys := func() any { return new(fdAny) }
	inAny := func() any { return new(any) }
	inMap := func() any { return new(map[string]any) }
	inNamedMap := func() any { return new(anyMap) }
	inSlice := func() any { return new([]any) }
	oldMap := func() any { return &map[string]any{"old": 1} }
	values := []struct {
		name string
		v    raw
	}{
		{"a positive fixint", raw{0x05}},
		{"a negative fixint", raw{0xe0}},
		{"uint8", raw{0xcc, 0xff}},
		{"uint16", raw{0xcd, 0xff, 0xfe}},
		{"uint32", raw{0xce, 0xff, 0, 0, 1}},
		{"uint64", raw{0xcf, 0xff, 0, 0, 0, 0, 0, 0, 1}},
		{"int8", raw{0xd0, 0x80}},
		{"int16", raw{0xd1, 0x80, 0}},
		{"int32", raw{0xd2, 0x80, 0, 0, 0}},
		{"int64", raw{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}},
		{"float32", raw{0xca, 0x3f, 0xc0, 0, 0}},
		{"float64", raw{0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}},
		{"true", raw{0xc3}},
		{"false", raw{0xc2}},
		{"nil", raw{0xc0}},
		{"a string", raw(enc(t, "héllo"))},
		{"an empty string", raw{0xa0}},
		{"a str8", raw(enc(t, string(make([]byte, 40))))},
		{"bin", raw{0xc4, 2, 'a', 'b'}},
		{"empty bin", raw{0xc4, 0}},
		{"an empty array", raw{0x90}},
		{"an array16", raw{0xdc, 0, 2, 1, 0xa1, 'x'}},
		{"an empty map", raw{0x80}},
		{"a map16", raw{0xde, 0, 1, 0xa1, 'k', 0xc0}},
		{"nested containers", raw(enc(t, map[string]any{"a": []any{1, map[string]any{"b": nil, "c": []byte{1}}, 1.5}, "d": true}))},
		{"a map with an int key", raw{0x81, 0x01, 0x02}},
		{"a map with bin and nil keys", raw{0x82, 0xc4, 1, 'k', 1, 0xc0, 2}},
		{"the unused code", raw{0xc1}},
		{"a time ext", ext(0xff, be32(99))},
		{"a zero time", ext(0xff, time12(-62135596800, 0))},
		{"a time ext of a bad length", ext(0xff, []byte{1, 2, 3})},
		{"an unregistered ext type", ext(7, []byte{1, 2})},
		{"an ext header around a map", ext(1, []byte{0x81, 0xa1, 'k', 0x01})},
		{"a truncated array", raw{0x92, 0x01}},
		{"an array claiming more than there is", raw{0xdd, 0, 0, 0, 9, 1}},
		{"a map claiming more than there is", raw{0xdf, 0, 0, 0, 9, 0xa1, 'k', 1}},
	}
	for _, tt := range values {
		t.Run(tt.name, func(t *testing.T) {
			inputs := [][]byte{
				enc(t, tt.v),
				enc(t, mapHdr(7), "A", tt.v, "AS", arrHdr(2), tt.v, tt.v, "AM", mapHdr(1), "k", tt.v, "AP", tt.v, "AA", arrHdr(1), tt.v, "N", tt.v, "NM", mapHdr(1), "k", tt.v),
				enc(t, mapHdr(1), "KM", mapHdr(1), "k", tt.v),
				enc(t, arrHdr(1), tt.v),
				enc(t, mapHdr(1), "k", tt.v),
			}
			for _, data := range inputs {
				for _, into := range []target{anys, inAny, inMap, inNamedMap, inSlice, oldMap} {
					decodeBoth(t, data, into(), into())
				}
			}
		})
	}
}

type notSupported struct{ D customDec }

func TestFastDecodeMatchesMsgpackIntoFilledInterfaces(t *testing.T) {
	type target = func() any
	n := func(v int) *int { return &v }
	tests := []struct {
		name string
		data []byte
		into []target
	}{
		{"a repeated key over an interface msgpack filled", enc(t, mapHdr(2), "A", 5, "A", 6), []target{func() any { return new(fdAny) }}},
		{"a repeated key over a []any, claiming a huge array", enc(t, mapHdr(2), "A", arrHdr(1), 1, "A", raw{0xdd, 0, 0, 0, 1, 1}), []target{func() any { return new(fdAny) }}},
		{"a repeated key over a map[string]any", enc(t, mapHdr(2), "A", map[string]any{"a": 1}, "A", map[string]any{"b": 2}), []target{func() any { return new(fdAny) }}},
		{"a repeated key over a time", enc(t, mapHdr(2), "A", time.Unix(1, 0), "A", time.Unix(2, 0)), []target{func() any { return new(fdAny) }}},
		{"a repeated key with nil over a string", enc(t, mapHdr(2), "A", "s", "A", nil), []target{func() any { return new(fdAny) }}},
		{"a value into an interface holding an int", enc(t, mapHdr(1), "A", 5), []target{func() any { return &fdAny{A: 3} }, func() any { return &fdAny{A: int8(3)} }, func() any { return &fdAny{A: myInt(3)} }}},
		{"a value through a pointer an interface holds", enc(t, mapHdr(1), "A", 5), []target{func() any { return &fdAny{A: n(3)} }}},
		{"a struct through a pointer an interface holds", enc(t, mapHdr(1), "A", map[string]any{"Name": "n", "Roles": []string{"r"}}), []target{func() any { return &fdAny{A: &fdUser{ID: 1}} }}},
		{"a time through a pointer an interface holds", enc(t, mapHdr(1), "A", time.Unix(9, 9)), []target{func() any { tm := time.Unix(1, 0); return &fdAny{A: &tm} }}},
		{"a value through a *any an interface holds", enc(t, mapHdr(1), "A", []int{1}), []target{func() any { var x any; return &fdAny{A: &x} }, func() any { var x any = n(1); return &fdAny{A: &x} }}},
		{"nil through a pointer an interface holds", enc(t, mapHdr(1), "A", nil), []target{func() any { return &fdAny{A: n(3)} }}},
		{"nil into a typed nil pointer an interface holds", enc(t, mapHdr(1), "A", nil), []target{func() any { return &fdAny{A: (*int)(nil)} }}},
		{"a value into a typed nil pointer an interface holds", enc(t, mapHdr(1), "A", 1), []target{func() any { return &fdAny{A: (*int)(nil)} }}},
		{"a map into a map an interface holds merges", enc(t, mapHdr(1), "A", map[string]int{"b": 2}), []target{func() any { return &fdAny{A: map[string]int{"a": 1}} }}},
		{"an empty map into a struct an interface holds", enc(t, mapHdr(1), "A", map[string]any{}), []target{func() any { return &fdAny{A: fdUser{ID: 1}} }}},
		{"a value through a pointer to an unsupported type", enc(t, mapHdr(1), "A", map[string]any{"D": 4}), []target{func() any { return &fdAny{A: &notSupported{}} }}},
		{"a slice reusing elements that hold pointers", enc(t, arrHdr(2), 7, 8), []target{func() any { s := []any{n(1), n(2)}; return &s }}},
		{"a slice reusing elements that hold values", enc(t, arrHdr(2), 7, 8), []target{func() any { s := []any{1, nil}; return &s }}},
		{"a slice reusing nil elements", enc(t, arrHdr(2), 7, 8), []target{func() any { s := make([]any, 0, 4); return &s }}},
		{"a map[string]any is replaced, not merged", enc(t, mapHdr(1), "AM", map[string]any{"b": 2}), []target{func() any { return &fdAny{AM: map[string]any{"a": 1}} }}},
		{"nil clears a map[string]any", enc(t, mapHdr(1), "AM", nil), []target{func() any { return &fdAny{AM: map[string]any{"a": 1}} }}},
		{"a named map of interfaces merges", enc(t, mapHdr(1), "NM", map[string]any{"b": 2}), []target{func() any { return &fdAny{NM: map[string]anyish{"a": 1}} }}},
		{"a top-level interface holding a pointer", enc(t, map[string]any{"Name": "n"}), []target{func() any { var x any = &fdUser{ID: 1}; return &x }}},
		{"a top-level interface holding a *time.Time", enc(t, time.Unix(3, 0)), []target{func() any { tm := time.Unix(1, 0); var x any = &tm; return &x }}},
		{"a top-level interface holding a value", enc(t, 5), []target{func() any { var x any = 1; return &x }, func() any { var x any = fdUser{}; return &x }}},
		{"nil into a top-level interface holding a pointer", enc(t, nil), []target{func() any { var x any = n(1); return &x }, func() any { var x any = (*int)(nil); return &x }}},
		{"a top-level interface holding a pointer to an unsupported type", enc(t, map[string]any{"D": 4}), []target{func() any { var x any = &notSupported{}; return &x }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, into := range tt.into {
				decodeBoth(t, tt.data, into(), into())
			}
		})
	}
}

// holeStruct used to go to vmihailenco/msgpack because of its time.Time.
type holeStruct struct {
	T time.Time
	L []int64
	M map[string][]int64
	A map[string]any
}

// TestFastDecodeClosesTheExtHole: msgpack's DecodeMapLen reads an ext header
// in front of a map as part of the map, so the ext's payload, which
// checkMsgpack skips as opaque bytes, is decoded as a map whose claims
// nobody checked, and msgpack allocates what they claim (decodeSlice makes
// a []any of the claimed length; decodeSliceValue ignores its own limit).
// The fast decoder must fail without allocating.
func TestFastDecodeClosesTheExtHole(t *testing.T) {
	wrap := func(inner ...byte) raw { return raw(append([]byte{0xc7, byte(len(inner)), 0x01}, inner...)) }
	huge := wrap(0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff) // {"k": array of 4294967295}
	nested := wrap(0x81, 0xa1, 'k', 0x91, 0x91, 0x91, 0xdd, 0xff, 0xff, 0xff, 0xff)
	hugeMap := wrap(0x81, 0xa1, 'k', 0x81, 0xa1, 'j', 0xdf, 0xff, 0xff, 0xff, 0xff)
	hugeBin := wrap(0x81, 0xa1, 'k', 0xc6, 0xff, 0xff, 0xff, 0xff)
	tm := raw(enc(t, time.Unix(1, 2)))
	tests := []struct {
		name string
		data []byte
		into func() any
	}{
		{"an array claim into map[string]any", enc(t, huge), func() any { return new(map[string]any) }},
		{"a nested array claim into map[string]any", enc(t, nested), func() any { return new(map[string]any) }},
		{"a map claim into map[string]any", enc(t, hugeMap), func() any { return new(map[string]any) }},
		{"a bin claim into map[string]any", enc(t, hugeBin), func() any { return new(map[string]any) }},
		{"an array claim into a struct's map[string][]int64", enc(t, mapHdr(3), "T", tm, "L", []int64{1, 2}, "M", huge), func() any { return new(holeStruct) }},
		{"an array claim into a struct's map[string]any", enc(t, mapHdr(3), "T", tm, "L", []int64{1, 2}, "A", huge), func() any { return new(holeStruct) }},
		{"an array claim into a struct's map[string]any, nested", enc(t, mapHdr(2), "T", tm, "A", nested), func() any { return new(holeStruct) }},
		{"an array claim into an interface's map", enc(t, mapHdr(1), "AM", huge), func() any { return new(fdAny) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, checkMsgpack(tt.data), "the input must pass the well-formedness check")
			pl, _ := planFor(tt.into())
			require.NotNil(t, pl, "the type must take the fast path")
			var err error
			allocated := allocatedBy(func() { err = Msgpack().Unmarshal(tt.data, tt.into()) })
			require.Error(t, err)
			require.Less(t, allocated, uint64(4<<10), "bytes allocated")
		})
	}

	t.Run("the same shape with claims the payload holds decodes as msgpack does", func(t *testing.T) {
		fits := wrap(0x81, 0xa1, 'k', 0x93, 1, 2, 3)
		for _, data := range [][]byte{enc(t, fits), enc(t, mapHdr(3), "T", tm, "L", []int64{1, 2}, "M", fits), enc(t, mapHdr(1), "A", fits)} {
			require.NoError(t, checkMsgpack(data))
			for _, into := range []func() any{func() any { return new(map[string]any) }, func() any { return new(holeStruct) }} {
				decodeBoth(t, data, into(), into())
			}
		}
	})

	t.Run("vmihailenco/msgpack, still the fallback for other types, allocates the claim", func(t *testing.T) {
		// A claim of 2^20 elements instead of 2^32: msgpack makes a
		// []any of that capacity (16 MiB) before failing.
		data := enc(t, wrap(0x81, 0xa1, 'k', 0xdd, 0x00, 0x10, 0x00, 0x00))
		require.NoError(t, checkMsgpack(data))
		var err error
		allocated := allocatedBy(func() { err = decodeMsgpack(data, new(map[string]any)) })
		require.Error(t, err)
		require.Greater(t, allocated, uint64(16<<20))
	})
}

// allocatedBy returns the bytes f allocated, the least of a few runs (so a
// stray allocation elsewhere does not count).
func allocatedBy(f func()) uint64 {
	least := ^uint64(0)
	for range 5 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

func TestFastDecodeSupportsTimesAndInterfaces(t *testing.T) {
	for _, v := range []any{new(fdTimes), new(fdAny), new(any), new(anyish), new(map[string]any), new(anyMap), new([]any), new(time.Time), new(*time.Time), new(map[string]time.Time), new(holeStruct)} {
		pl, _ := planFor(v)
		require.NotNil(t, pl, "%T", v)
	}
}

func TestFallbackPanicsBecomeErrors(t *testing.T) {
	// msgpack panics here (a key repeated over an interface it filled);
	// notSupported keeps the type on the fallback path.
	type fallback struct {
		N notSupported
		A any
	}
	pl, _ := planFor(new(fallback))
	require.Nil(t, pl)
	data := enc(t, mapHdr(2), "A", 5, "A", 6)
	require.Error(t, slowDecode(data, new(fallback)))
	require.Error(t, Msgpack().Unmarshal(data, new(fallback)))
	// The pooled decoders still work afterwards.
	var u fdUser
	require.NoError(t, decodeMsgpack(enc(t, map[string]any{"Name": "n"}), &u))
	require.Equal(t, "n", u.Name)
}

type benchEvent struct {
	ID        int64
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Tags      []string
}

// BenchmarkUnmarshalTimeAndAny compares the fast decoder with
// vmihailenco/msgpack (which decoded these types before) on a struct with
// time.Time fields and on a map[string]any.
func BenchmarkUnmarshalTimeAndAny(b *testing.B) {
	ev := benchEvent{ID: 42, Name: "signup", CreatedAt: time.Unix(1700000000, 123456789), UpdatedAt: time.Unix(1700003600, 0), Tags: []string{"a", "b"}}
	m := map[string]any{"id": 42, "name": "signup", "score": 9.5, "ok": true, "tags": []any{"a", "b", "c"},
		"at": time.Unix(1700000000, 0), "meta": map[string]any{"ip": "10.0.0.1", "n": -3}}
	for _, c := range []struct {
		name string
		v    any
		into func() any
	}{
		{"struct with time", ev, func() any { return new(benchEvent) }},
		{"map[string]any", m, func() any { return new(map[string]any) }},
	} {
		data, err := msgpack.Marshal(c.v)
		require.NoError(b, err)
		b.Run(c.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := Msgpack().Unmarshal(data, c.into()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/msgpack", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if err := checkMsgpack(data); err != nil {
					b.Fatal(err)
				}
				if err := decodeMsgpack(data, c.into()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
