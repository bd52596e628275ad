package codec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// allocatedBy returns the bytes f allocated, the least of a few runs (so a
// stray allocation elsewhere, or msgpack's one-time caches for a type, do
// not count). setup runs before each run, outside the measurement.
func allocatedBy(setup func(), f func()) uint64 {
	least := ^uint64(0)
	var before, after runtime.MemStats
	for range 3 {
		setup()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// checkBudget decodes data into a fresh value of pt's element type with
// vmihailenco/msgpack, measures what it allocates, and fails unless
// decodeCost (the walk, forced even where the rate alone would admit the
// input) and the rate-based shortcut both bound it. It returns the
// estimate, or ok false where Unmarshal refuses data before estimating.
func checkBudget(t *testing.T, data []byte, pt reflect.Type) (estimate uint64, ok bool) {
	t.Helper()
	widen, err := checkMsgpack(data)
	if err != nil {
		return 0, false
	}
	if widen != nil {
		data = widenTimes(nil, data, widen)
		again, err := checkMsgpack(data)
		require.NoError(t, err, "a widened input passes the check")
		require.Nil(t, again, "a widened input has nothing left to widen")
	}
	p, err := planFor(pt.Elem())
	require.NoError(t, err)
	estimate = decodeCost(data, p)
	require.LessOrEqual(t, estimate, p.rate*uint64(len(data))+6*uint64(len(data))+decodeBase,
		"the rate bounds the walk for %s on %x", pt.Elem(), data[:min(len(data), 64)])
	var v reflect.Value
	got := allocatedBy(func() { v = reflect.New(pt.Elem()) }, func() { _ = decodeMsgpack(data, v.Interface()) })
	require.LessOrEqual(t, got, estimate, "msgpack allocated more than estimated decoding %d bytes into %s: %x",
		len(data), pt.Elem(), data[:min(len(data), 64)])
	return estimate, true
}

// marshal encodes v with msgpack, which fails or panics for some corpus
// types (a chan, a uintptr): those are only decoded into.
func marshal(v any) (data []byte, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	data, err := msgpack.Marshal(v)
	return data, err == nil
}

func TestBudgetCoversWhatMsgpackAllocates(t *testing.T) {
	rounds := 12
	if testing.Short() || raceEnabled {
		rounds = 2
	}
	g := gen{rand.New(rand.NewPCG(3, 4))}
	t.Run("values of every corpus type, read as themselves and as every other type", func(t *testing.T) {
		for _, from := range corpus {
			for range rounds {
				data, ok := marshal(g.random(from))
				if !ok {
					continue
				}
				for _, to := range corpus {
					checkBudget(t, data, to)
				}
			}
		}
	})
	t.Run("hostile inputs, read as every type", func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for range 20 * rounds {
			data := hostileMsgpack(r, 1+r.IntN(3000))
			for _, to := range corpus {
				checkBudget(t, data, to)
			}
		}
	})
	t.Run("the cheapest encodings of the most expensive values", func(t *testing.T) {
		tiny := [][]byte{{0xc0}, {0x80}, {0x90}, {0x81, 0xa0, 0xc0}, {0x81, 0xa0, 0x80}, {0xa0}, {0xc4, 0x00}, {0x00}}
		for _, c := range tiny {
			for _, n := range []int{1, 8, 9, 100, 1000, 5000} {
				data := enc(t, arrHdr(n), raw(bytes.Repeat(c, n)))
				for _, to := range corpus {
					checkBudget(t, data, to)
				}
				m := enc(t, mapHdr(n))
				for k := range n {
					m = append(m, enc(t, string(rune('a'+k%26))+string(rune(k)))...)
					m = append(m, c...)
				}
				for _, to := range corpus {
					checkBudget(t, m, to)
				}
			}
		}
	})
}

// TestBudgetAdmitsHonestValues: what the Codec writes for realistic
// values must decode within the bound, or caching them would fail.
func TestBudgetAdmitsHonestValues(t *testing.T) {
	type item struct {
		ID          int64             `msgpack:"id"`
		SKU         string            `msgpack:"sku"`
		Title       string            `msgpack:"title"`
		Description string            `msgpack:"description"`
		Price       float64           `msgpack:"price"`
		Tags        []string          `msgpack:"tags"`
		Attrs       map[string]string `msgpack:"attrs"`
		InStock     bool              `msgpack:"in_stock"`
		Updated     time.Time         `msgpack:"updated"`
	}
	var items []item
	var rows []map[string]any
	for i := range 2000 {
		items = append(items, item{ID: int64(i), SKU: "SKU-000123", Title: "quick brown fox", Description: "the quick brown fox jumps over the lazy dog",
			Price: 12.5, Tags: []string{"cache", "aside"}, Attrs: map[string]string{"color": "red", "size": "M"}, InStock: true,
			Updated: time.Unix(1700000000+int64(i), int64(i)*7919)})
		rows = append(rows, map[string]any{"id": i, "name": "user", "email": "u@example.com", "active": true, "score": 9.5})
	}
	values := []any{&items, &rows, &[]tcUser{{ID: 1, Name: "Ada", Roles: []string{"admin"}}}, &map[string]any{"a": rows[:10], "b": items[:3]}}
	for _, v := range values {
		data, err := msgpack.Marshal(v)
		require.NoError(t, err)
		for _, pt := range []reflect.Type{reflect.TypeOf(v), reflect.TypeFor[*any]()} {
			estimate, ok := checkBudget(t, data, pt)
			require.True(t, ok)
			require.LessOrEqual(t, estimate, decodeLimit(len(data)), "%s: %d bytes", pt, len(data))
			t.Logf("%d bytes into %s: estimate %.1f bytes per byte", len(data), pt.Elem(), float64(estimate)/float64(len(data)))
		}
	}
}

func TestUnmarshalRefusesWhatWouldAllocateTooMuch(t *testing.T) {
	// The case: an array of nils read into []User, each nil a whole
	// User (twice: msgpack makes the slice, then appends it to a nil one).
	n := 1 << 20
	data := append(enc(t, arrHdr(n)), bytes.Repeat([]byte{0xc0}, n)...)
	var users []tcUser
	err := Msgpack().Unmarshal(data, &users)
	require.ErrorIs(t, err, ErrTooLarge)
	require.Nil(t, users)
	got := allocatedBy(func() { users = nil }, func() { _ = Msgpack().Unmarshal(data, &users) })
	require.Less(t, got, uint64(4<<10), "refusing allocates nothing")

	t.Run("the same input into a type it is cheap for decodes", func(t *testing.T) {
		var v []bool
		require.NoError(t, Msgpack().Unmarshal(data, &v))
		require.Len(t, v, n)
	})
}

func TestUnmarshalNestingIsRefusedNotFatal(t *testing.T) {
	levels := func(n int, level []byte, leaf ...byte) []byte {
		return append(bytes.Repeat(level, n), leaf...)
	}
	// ext8 wrappers, each around a map (the payload msgpack reads where a
	// map is expected) whose one value is the next wrapper.
	wrapped := func(n int) []byte {
		b := []byte{0xc0}
		for range n {
			inner := append([]byte{0x81, 0xa1, 'M'}, b...)
			b = []byte(ext(0x01, inner))
			if len(b) > 1<<16 {
				break
			}
		}
		return append([]byte{0x81, 0xa1, 'M'}, b...)
	}
	type target = func() any
	targets := []target{
		func() any { return new(tcRec) },
		func() any { return new(any) },
		func() any { return new(map[string]any) },
		func() any { return new([]any) },
		func() any { return new(tcNode) },
	}
	for _, tt := range []struct {
		name  string
		deep  []byte
		depth int
	}{
		{"arrays", levels(maxMsgpackDepth+1, []byte{0x91}, 0xc0), maxMsgpackDepth + 1},
		{"maps", levels(maxMsgpackDepth+1, []byte{0x81, 0xa1, 'M'}, 0xc0), maxMsgpackDepth + 1},
		{"the recursive struct and its map", levels(maxMsgpackDepth/2+1, []byte{0x81, 0xa1, 'M', 0x81, 0xa0}, 0x80), maxMsgpackDepth + 2},
		{"ext wrappers msgpack reads as maps", wrapped(maxMsgpackDepth/2 + 1), maxMsgpackDepth + 2},
		{"a chain a million levels deep", levels(1<<20, []byte{0x91}, 0xc0), 1 << 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, into := range targets {
				require.ErrorIs(t, Msgpack().Unmarshal(tt.deep, into()), ErrCorrupt)
			}
		})
	}
	t.Run("the issue's recursive type at the depth limit passes the check and decodes", func(t *testing.T) {
		data := levels(maxMsgpackDepth/2, []byte{0x81, 0xa1, 'M', 0x81, 0xa0}, 0x80)
		_, err := checkMsgpack(data)
		require.NoError(t, err)
		// A chain of one-entry maps costs ~60 bytes per byte, over the
		// allocation bound: decode it with msgpack directly, to show that
		// the depth limit leaves its stack in bounds.
		var v tcRec
		require.NoError(t, decodeMsgpack(data, &v))
		depth := 0
		for r := v; r.M != nil; r = r.M[""] {
			depth++
		}
		require.Equal(t, maxMsgpackDepth/2, depth)
	})
}

func TestExtReadAsAMap(t *testing.T) {
	// msgpack's DecodeMapLen steps over an ext header and reads the payload
	// as a map: the pre-check must agree with it on where every value ends.
	into := func() []any {
		return []any{new(map[string]string), new(map[string]any), new(map[string][]int64), new(any), new(tcRec), new(tcTimes), new(tcAny)}
	}
	t.Run("an ext holding exactly a map is checked like one and decodes as msgpack does", func(t *testing.T) {
		for _, data := range [][]byte{
			enc(t, ext(0x01, enc(t, map[string]string{"k": "v"}))),
			enc(t, mapHdr(1), "M", ext(0x01, enc(t, mapHdr(1), "", mapHdr(0)))),
			enc(t, ext(0x05, []byte{0xc0})),
		} {
			_, err := checkMsgpack(data)
			require.NoError(t, err)
			for _, v := range into() {
				want := reflect.New(reflect.TypeOf(v).Elem()).Interface()
				errWant := func() (err error) {
					defer func() {
						if recover() != nil {
							err = errors.New("panic")
						}
					}()
					return msgpack.Unmarshal(data, want)
				}()
				errGot := Msgpack().Unmarshal(data, v)
				require.Equal(t, errWant == nil, errGot == nil, "%x into %T: %v / %v", data, v, errWant, errGot)
				if errGot == nil {
					require.Equal(t, want, v)
				}
			}
		}
	})
	t.Run("an ext whose map runs past its payload is refused", func(t *testing.T) {
		for _, data := range [][]byte{
			// The map claims an array of 2^32-1 elements msgpack would
			// allocate before finding it missing.
			enc(t, ext(0x01, []byte{0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff})),
			// The map ends inside the payload: the rest would be read as
			// the ext's siblings.
			enc(t, arrHdr(2), ext(0x01, []byte{0x80, 0x91, 0x91}), 1),
			// A nil map with payload after it.
			enc(t, ext(0x01, []byte{0xc0, 0x01})),
			// An empty ext in front of a map.
			enc(t, arrHdr(2), raw{0xc7, 0x00, 0x01}, map[string]int{"a": 1}),
			// A timestamp inside an ext payload, whose own payload reads as
			// a map, cannot be widened there.
			enc(t, ext(0x01, enc(t, mapHdr(1), "t", ext(0xff, be64(0x85<<56))))),
		} {
			_, err := checkMsgpack(data)
			require.ErrorIs(t, err, ErrCorrupt, "%x", data)
			for _, v := range into() {
				require.Error(t, Msgpack().Unmarshal(data, v))
			}
		}
	})
	t.Run("timestamps whose payload reads as a map are widened and decode to the same time", func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		widened := 0
		for range 2000 {
			tm := time.Unix(r.Int64N(1<<34), r.Int64N(1e9))
			if r.IntN(4) == 0 {
				tm = time.Unix(int64(0x80+r.IntN(16))<<24|r.Int64N(1<<24), 0)
			}
			v := tcTimes{T: tm, TS: []time.Time{tm}, TM: map[string]time.Time{"k": tm}, TA: [2]time.Time{tm, tm}}
			data, err := msgpack.Marshal(v)
			require.NoError(t, err)
			w, err := checkMsgpack(data)
			require.NoError(t, err)
			if w != nil {
				widened++
			}
			var got tcTimes
			require.NoError(t, Msgpack().Unmarshal(data, &got))
			var want tcTimes
			require.NoError(t, msgpack.Unmarshal(data, &want))
			require.Equal(t, want, got)
			var gotAny, wantAny any
			require.NoError(t, Msgpack().Unmarshal(data, &gotAny))
			require.NoError(t, msgpack.Unmarshal(data, &wantAny))
			require.Equal(t, wantAny, gotAny)
		}
		require.Greater(t, widened, 100, "the test meets such timestamps")
	})
	t.Run("a widened timestamp read where a map is expected fails", func(t *testing.T) {
		data := enc(t, ext(0xff, be64(0x81a0c0<<40)))
		var m map[string]any
		require.Error(t, Msgpack().Unmarshal(data, &m))
	})
}

func TestMsgpackPanicsBecomeErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		data []byte
		into any
	}{
		{"an int into an error interface", enc(t, mapHdr(1), "E", 5), new(tcOdd)},
		{"a key repeated over an interface msgpack filled", enc(t, mapHdr(2), "A", 5, "A", 6), new(tcAny)},
		{"a key repeated over a []any msgpack filled", enc(t, mapHdr(2), "A", []int{1}, "A", []int{1, 2, 3}), new(tcAny)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorContains(t, Msgpack().Unmarshal(tt.data, tt.into), "msgpack panicked")
		})
	}
	// The pooled decoders still work afterwards.
	var u tcUser
	require.NoError(t, Msgpack().Unmarshal(enc(t, map[string]any{"Name": "n"}), &u))
	require.Equal(t, "n", u.Name)
}

// Types msgpack cannot build a decoder for: it recurses for ever (and the
// process dies) when asked to. Unmarshal refuses them without calling it.
type (
	selfPtr   *selfPtr
	selfEmbed struct {
		*selfEmbed
		N int
	}
)

func TestTypesMsgpackCannotDecodeAreRefused(t *testing.T) {
	for _, v := range []any{new(selfPtr), new(selfEmbed), new([]selfEmbed)} {
		err := Msgpack().Unmarshal([]byte{0xc0}, v)
		require.Error(t, err, "%T", v)
		require.ErrorContains(t, err, "aside: codec:")
	}
}

func TestMapCostMatchesTheRuntime(t *testing.T) {
	// mapCost models internal/runtime/maps; check it against what the
	// runtime allocates for make plus one insert.
	for _, n := range []int{0, 1, 8, 9, 16, 100, 1000, 5000, 70000} {
		var m map[string]any
		got := allocatedBy(func() {}, func() {
			m = make(map[string]any, n)
			if n > 0 {
				m[""] = nil
			}
		})
		require.LessOrEqual(t, got, mapCost(uint64(n), 32), "n=%d", n)
		require.GreaterOrEqual(t, got*2, mapCost(uint64(n), 32), "n=%d: the model is not far above the runtime", n)
		_ = m
	}
}

// fill sets every exported field, element and pointer reachable from v to
// something non-zero, so that msgpack's encoder writes every field.
func fill(v reflect.Value, depth int) {
	if !v.CanSet() || depth > 3 {
		return
	}
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(time.Unix(1, 2)))
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.String:
		v.SetString("x")
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), depth+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0), depth+1)
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, depth+1)
		fill(e, depth+1)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), depth+1)
		}
	}
}

// TestPlanNamesFieldsAsMsgpackDoes compares the fields a plan lists with
// the keys msgpack's encoder writes for a value with every field set: both
// come from msgpack's getFields (names, tags, inlining, shadowing, order).
func TestPlanNamesFieldsAsMsgpackDoes(t *testing.T) {
	for _, pt := range []reflect.Type{
		reflect.TypeFor[*tcUser](), reflect.TypeFor[*tcTagged](), reflect.TypeFor[*tcEmbedded](),
		reflect.TypeFor[*tcEmbedShadow](), reflect.TypeFor[*tcEmbedLater](), reflect.TypeFor[*tcEmbedInline](),
		reflect.TypeFor[*tcEmbedNoinline](), reflect.TypeFor[*tcEmbedTagged](), reflect.TypeFor[*tcEmbedPtr](),
		reflect.TypeFor[*tcDeep](), reflect.TypeFor[*tcNested](), reflect.TypeFor[*tcAny](), reflect.TypeFor[*tcTimes](),
	} {
		t.Run(pt.Elem().Name(), func(t *testing.T) {
			v := reflect.New(pt.Elem())
			fill(v.Elem(), 0)
			data, err := msgpack.Marshal(v.Interface())
			require.NoError(t, err)
			var keys []string
			d := msgpack.NewDecoder(bytes.NewReader(data))
			n, err := d.DecodeMapLen()
			require.NoError(t, err)
			for range n {
				k, err := d.DecodeString()
				require.NoError(t, err)
				keys = append(keys, k)
				require.NoError(t, d.Skip())
			}
			p, err := planFor(pt.Elem())
			require.NoError(t, err)
			var names []string
			for _, f := range p.list {
				names = append(names, f.name)
				require.Same(t, f.plan, p.fields[f.name].plan, "%s is in the map under its name", f.name)
			}
			require.Equal(t, keys, names)
		})
	}
}
