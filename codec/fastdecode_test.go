package codec

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// The corpus the fast decoder is checked against vmihailenco/msgpack on.

type fdUser struct {
	ID    int64
	Name  string
	Email string
	Roles []string
	Bio   string
}

type fdInts struct {
	I   int
	I8  int8
	I16 int16
	I32 int32
	I64 int64
	U   uint
	U8  uint8
	U16 uint16
	U32 uint32
	U64 uint64
}

type fdFloats struct {
	F32 float32
	F64 float64
	B   bool
	BP  *bool
}

type fdTagged struct {
	A      string `msgpack:"a"`
	B      int    `msgpack:"b,omitempty"`
	Skip   string `msgpack:"-"`
	Dash   int    `msgpack:"-,"`
	C      []byte `msgpack:"c"`
	hidden int
	Alias  string  `msgpack:"al,alias:other"`
	Spaced float64 `msgpack:" sp , omitempty"`
	Quoted string  `msgpack:"'q,x'"`
	Empty  int     `msgpack:",omitempty"`
}

type Base struct {
	ID   int
	Name string
}

type Mid struct {
	Base
	M int
}

type fdEmbedded struct {
	Base
	Extra string
}

type fdEmbedShadow struct { // Base is inlined, then Name overrides its Name
	Base
	Name string
}

type fdEmbedLater struct { // Name is already taken, so Base is not inlined
	Name string
	Base
}

type fdEmbedInline struct {
	Name string
	Base `msgpack:",inline"`
}

type fdEmbedNoinline struct {
	Base `msgpack:",noinline"`
	X    int
}

type fdEmbedTagged struct {
	Base `msgpack:"base"`
	Y    string
}

type fdDeep struct {
	Mid
	X int
}

type myString string
type myInt int16
type myFloat float32
type myBytes []byte
type myKey string
type myStrings []string

type fdNamed struct {
	S  myString
	I  myInt
	L  []myString
	F  myFloat
	B  myBytes
	SS myStrings
}

type fdNested struct {
	U  fdUser
	P  *fdUser
	S  []fdUser
	SP []*fdUser
	M  map[string]fdUser
	MP map[string]*fdInts
}

type fdArrays struct {
	A [3]int
	B [4]byte
	S [2]string
	N [2][2]int16
	P [2]*int
}

type fdBytes struct {
	B  []byte
	BB [][]byte
	BP *[]byte
}

type fdMaps struct {
	SS map[string]string
	SI map[string]int
	KS map[myKey]string
	MS map[string][]string
	MM map[string]map[string]float64
}

type fdPtrs struct {
	PI    *int
	PS    *string
	PPI   **int
	PSl   *[]string
	PM    *map[string]int
	PA    *[2]uint8
	PNest *fdPtrs
}

type fdNode struct {
	Val  int
	Kids []fdNode
	Next *fdNode
	M    map[string]*fdNode
}

type fdArrayEnc struct {
	_msgpack struct{} `msgpack:",as_array"`
	A        int
	B        string
	C        []int
}

// fdCorpus lists destination types, as pointer types, that the fast decoder
// must support.
var fdCorpus = []reflect.Type{
	reflect.TypeFor[*fdUser](),
	reflect.TypeFor[*fdInts](),
	reflect.TypeFor[*fdFloats](),
	reflect.TypeFor[*fdTagged](),
	reflect.TypeFor[*fdEmbedded](),
	reflect.TypeFor[*fdEmbedShadow](),
	reflect.TypeFor[*fdEmbedLater](),
	reflect.TypeFor[*fdEmbedInline](),
	reflect.TypeFor[*fdEmbedNoinline](),
	reflect.TypeFor[*fdEmbedTagged](),
	reflect.TypeFor[*fdDeep](),
	reflect.TypeFor[*fdNamed](),
	reflect.TypeFor[*fdNested](),
	reflect.TypeFor[*fdArrays](),
	reflect.TypeFor[*fdBytes](),
	reflect.TypeFor[*fdMaps](),
	reflect.TypeFor[*fdPtrs](),
	reflect.TypeFor[*fdNode](),
	reflect.TypeFor[*fdArrayEnc](),
	reflect.TypeFor[*[]string](),
	reflect.TypeFor[*map[string]string](),
	reflect.TypeFor[*[]int64](),
	reflect.TypeFor[*[5]uint8](),
	reflect.TypeFor[**fdUser](),
	reflect.TypeFor[*string](),
	reflect.TypeFor[*float32](),
	reflect.TypeFor[*uint16](),
	reflect.TypeFor[*bool](),
	reflect.TypeFor[*[]byte](),
	reflect.TypeFor[*map[string][]fdInts](),
	reflect.TypeFor[*time.Duration](),
	reflect.TypeFor[*fdTimes](),
	reflect.TypeFor[*fdAny](),
	reflect.TypeFor[*any](),
	reflect.TypeFor[*anyish](),
	reflect.TypeFor[*map[string]any](),
	reflect.TypeFor[*anyMap](),
	reflect.TypeFor[*[]any](),
	reflect.TypeFor[*[]map[string]any](),
	reflect.TypeFor[*time.Time](),
	reflect.TypeFor[**time.Time](),
	reflect.TypeFor[*[]time.Time](),
	reflect.TypeFor[*map[string]time.Time](),
}

// gen makes random values biased towards the edges: boundary integers,
// NaN and infinities, unicode and long strings, nil versus empty.
type gen struct{ r *rand.Rand }

var edgeInts = []int64{0, 1, -1, 31, 32, -32, -33, 127, 128, -128, -129, 255, 256,
	32767, 32768, -32768, -32769, 65535, 65536, math.MaxInt32, math.MinInt32,
	math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64, math.MinInt64}

var edgeStrings = []string{"", "a", "ID", "Name", "héllo wörld", "日本語のテキスト", "🎉🚀", "\x00\xff",
	strings.Repeat("x", 31), strings.Repeat("y", 32), strings.Repeat("z", 255), strings.Repeat("é", 200)}

func (g gen) int() int64 {
	switch g.r.IntN(3) {
	case 0:
		return edgeInts[g.r.IntN(len(edgeInts))]
	case 1:
		return g.r.Int64N(300) - 150
	default:
		return int64(g.r.Uint64()) >> g.r.IntN(64)
	}
}

func (g gen) string() string {
	switch g.r.IntN(4) {
	case 0:
		return edgeStrings[g.r.IntN(len(edgeStrings))]
	case 1:
		if g.r.IntN(50) == 0 {
			return strings.Repeat("long ", 13200) // str32
		}
		fallthrough
	default:
		runes := []rune("abcXYZ09 _-éß日本🎉")
		var b strings.Builder
		for range g.r.IntN(40) {
			b.WriteRune(runes[g.r.IntN(len(runes))])
		}
		return b.String()
	}
}

func (g gen) float() float64 {
	switch g.r.IntN(6) {
	case 0:
		return []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64,
			math.SmallestNonzeroFloat64, math.MaxFloat32, 1.5, -2}[g.r.IntN(10)]
	case 1:
		return float64(g.int())
	default:
		return g.r.NormFloat64() * math.Pow(10, float64(g.r.IntN(20)-10))
	}
}

// time returns times in each of msgpack's three ext forms (4, 8 and 12
// bytes), the zero time, and far dates, in assorted locations (which the
// encoding drops).
func (g gen) time() time.Time {
	var t time.Time
	switch g.r.IntN(7) {
	case 0:
		return time.Time{}
	case 1:
		t = time.Unix(g.r.Int64N(1<<32), 0)
	case 2:
		t = time.Unix(g.r.Int64N(1<<34), g.r.Int64N(1e9))
	case 3:
		t = time.Unix(g.r.Int64N(1<<40)-1<<39, g.r.Int64N(1e9))
	case 4:
		t = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	case 5:
		t = time.Unix([]int64{0, -1, 1<<32 - 1, 1 << 32, 1<<34 - 1, 1 << 34, -62135596800}[g.r.IntN(7)], 0)
	default:
		t = time.Now()
	}
	return t.In([]*time.Location{time.UTC, time.Local, time.FixedZone("X", 3600)}[g.r.IntN(3)])
}

// anyValue returns what an interface may hold after a msgpack round trip
// and before it (any integer type, times).
func (g gen) anyValue(depth int) any {
	n := 14
	if depth > 3 {
		n = 11
	}
	switch g.r.IntN(n) {
	case 0:
		return nil
	case 1:
		return g.r.IntN(2) == 0
	case 2:
		return g.int()
	case 3:
		return uint64(g.int())
	case 4:
		return float32(g.float())
	case 5:
		return g.float()
	case 6:
		return g.string()
	case 7:
		b := make([]byte, g.r.IntN(4))
		for k := range b {
			b[k] = byte(g.r.IntN(256))
		}
		return b
	case 8:
		return g.time()
	case 9:
		return int8(g.int())
	case 10:
		return int(g.int())
	case 11:
		s := make([]any, g.r.IntN(4))
		for k := range s {
			s[k] = g.anyValue(depth + 1)
		}
		return s
	default:
		m := map[string]any{}
		for range g.r.IntN(4) {
			m[g.string()] = g.anyValue(depth + 1)
		}
		return m
	}
}

func (g gen) value(v reflect.Value, depth int) {
	if v.Type() == timeType {
		v.Set(reflect.ValueOf(g.time()))
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if x := g.anyValue(depth); x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.Bool:
		v.SetBool(g.r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(g.int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(g.int()))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(g.float())
	case reflect.String:
		v.SetString(g.string())
	case reflect.Pointer:
		if g.r.IntN(3) == 0 || depth > 4 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		g.value(v.Elem(), depth+1)
	case reflect.Slice:
		switch g.r.IntN(6) {
		case 0:
			return
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return
		}
		n := g.r.IntN(5)
		if depth > 3 {
			n = 0
		}
		if g.r.IntN(40) == 0 && depth < 2 {
			n = 20
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for k := range n {
			g.value(v.Index(k), depth+1)
		}
	case reflect.Array:
		for k := range v.Len() {
			g.value(v.Index(k), depth+1)
		}
	case reflect.Map:
		switch g.r.IntN(6) {
		case 0:
			return
		case 1:
			v.Set(reflect.MakeMap(v.Type()))
			return
		}
		v.Set(reflect.MakeMap(v.Type()))
		if depth > 3 {
			return
		}
		for range g.r.IntN(4) + 1 {
			k := reflect.New(v.Type().Key()).Elem()
			g.value(k, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			g.value(e, depth+1)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for k := range v.NumField() {
			if v.Type().Field(k).IsExported() {
				g.value(v.Field(k), depth+1)
			}
		}
	default:
		panic("gen: unexpected kind " + v.Kind().String())
	}
}

// random returns a new random value of the pointed-to type of pt, as a
// pointer.
func (g gen) random(pt reflect.Type) any {
	p := reflect.New(pt.Elem())
	g.value(p.Elem(), 0)
	return p.Interface()
}

// same is reflect.DeepEqual except that floats compare by bits, so NaN
// equals NaN and 0 differs from -0.
func same(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == timeType {
		return sameTime(a, b)
	}
	switch a.Kind() {
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return same(a.Elem(), b.Elem())
	case reflect.Float32:
		return math.Float32bits(float32(a.Float())) == math.Float32bits(float32(b.Float()))
	case reflect.Float64:
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return same(a.Elem(), b.Elem())
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for k := range a.Len() {
			if !same(a.Index(k), b.Index(k)) {
				return false
			}
		}
		return true
	case reflect.Array:
		for k := range a.Len() {
			if !same(a.Index(k), b.Index(k)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for it := a.MapRange(); it.Next(); {
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() || !same(it.Value(), bv) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for k := range a.NumField() {
			if !same(a.Field(k), b.Field(k)) {
				return false
			}
		}
		return true
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() == b.Uint()
	case reflect.String:
		return a.String() == b.String()
	}
	panic("same: unexpected kind " + a.Kind().String())
}

// sameTime compares times bit for bit (wall clock, seconds, location);
// locations made by time.Parse for an offset are equal by name and offset.
func sameTime(a, b reflect.Value) bool {
	if a.Field(0).Uint() != b.Field(0).Uint() || a.Field(1).Int() != b.Field(1).Int() {
		return false
	}
	if a.Field(2).Pointer() == b.Field(2).Pointer() {
		return true
	}
	ta, tb := a.Interface().(time.Time), b.Interface().(time.Time)
	na, oa := ta.Zone()
	nb, ob := tb.Zone()
	return ta.Location().String() == tb.Location().String() && na == nb && oa == ob
}

// clone deep-copies a value of a corpus type, sharing nothing, by decoding
// its encoding with vmihailenco (which both decoders are then given).
func clone(t *testing.T, v any) any {
	t.Helper()
	b, err := msgpack.Marshal(v)
	require.NoError(t, err)
	out := reflect.New(reflect.TypeOf(v).Elem()).Interface()
	require.NoError(t, decodeMsgpack(b, out))
	return out
}

// decodeBoth decodes data with the fast decoder into fast and with
// vmihailenco/msgpack into slow (both pointers to equal starting values)
// and fails unless both fail or both produce the same value.
func decodeBoth(t testing.TB, data []byte, fast, slow any) {
	t.Helper()
	pl, p := planFor(fast)
	if pl == nil {
		t.Fatalf("%T is not supported by the fast decoder", fast)
	}
	_, errFast := pl.unmarshal(data, p)
	errSlow := slowDecode(data, slow)
	switch {
	case (errFast == nil) != (errSlow == nil):
		t.Fatalf("decoding %x into %T: fast decoder error %v, msgpack error %v", data, fast, errFast, errSlow)
	case errFast == nil && !same(reflect.ValueOf(fast), reflect.ValueOf(slow)):
		t.Fatalf("decoding %x into %T:\nfast    %s\nmsgpack %s", data, fast, dump(fast), dump(slow))
	}
}

// slowDecode is vmihailenco/msgpack's Decode, with a panic (it panics on
// some inputs) turned into an error: where msgpack panics the fast decoder
// must fail.
func slowDecode(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("msgpack panicked: %v", r)
		}
	}()
	return msgpack.NewDecoder(bytes.NewReader(data)).Decode(v)
}

func dump(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

func TestFastDecodeMatchesMsgpackOnRandomValues(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	for _, pt := range fdCorpus {
		t.Run(pt.Elem().String(), func(t *testing.T) {
			g := gen{rand.New(rand.NewPCG(uint64(len(pt.String())), 7))}
			for range n {
				v := g.random(pt)
				data, err := msgpack.Marshal(v)
				require.NoError(t, err)
				require.NoError(t, checkMsgpack(data))

				// Into a zero value, as Remember does.
				decodeBoth(t, data, reflect.New(pt.Elem()).Interface(), reflect.New(pt.Elem()).Interface())

				// Into a value that already holds something: msgpack
				// merges, and so must the fast decoder.
				old := g.random(pt)
				decodeBoth(t, data, clone(t, old), clone(t, old))
			}
		})
	}
}

func TestFastDecodeMatchesMsgpackAcrossTypes(t *testing.T) {
	// Schema drift: values written as one type and read as another, which
	// mixes matching fields, unknown keys and type mismatches.
	g := gen{rand.New(rand.NewPCG(3, 4))}
	rounds := 40
	if testing.Short() {
		rounds = 5
	}
	for _, from := range fdCorpus {
		for _, to := range fdCorpus {
			for range rounds {
				data, err := msgpack.Marshal(g.random(from))
				require.NoError(t, err)
				decodeBoth(t, data, reflect.New(to.Elem()).Interface(), reflect.New(to.Elem()).Interface())
				old := g.random(to)
				decodeBoth(t, data, clone(t, old), clone(t, old))
			}
		}
	}
}

// enc writes msgpack by hand, for inputs msgpack's encoder never produces.
func enc(t testing.TB, vals ...any) []byte {
	t.Helper()
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	for _, v := range vals {
		var err error
		switch v := v.(type) {
		case mapHdr:
			err = e.EncodeMapLen(int(v))
		case arrHdr:
			err = e.EncodeArrayLen(int(v))
		case raw:
			_, err = buf.Write(v)
		default:
			err = e.Encode(v)
		}
		require.NoError(t, err)
	}
	return buf.Bytes()
}

type (
	mapHdr int
	arrHdr int
	raw    []byte
)

func TestFastDecodeMatchesMsgpackOnHandMadeInputs(t *testing.T) {
	type target = func() any
	user := func() any { return new(fdUser) }
	filledUser := func() any {
		return &fdUser{ID: 7, Name: "old", Roles: make([]string, 3, 8), Bio: "kept"}
	}
	tests := []struct {
		name string
		data []byte
		into []target
	}{
		{"a repeated key decodes twice into the same field", enc(t, mapHdr(3), "Roles", []string{"a", "b"}, "Roles", []string{"c"}, "Name", "n"), []target{user, filledUser}},
		{"a repeated struct key merges into the struct", enc(t, mapHdr(2), "U", map[string]any{"ID": 1, "Name": "x"}, "U", map[string]any{"Bio": "y"}), []target{func() any { return new(fdNested) }}},
		{"a repeated slice-of-structs key merges element by element", enc(t, mapHdr(2), "S", []any{map[string]any{"ID": 1, "Name": "x"}, map[string]any{"ID": 2}}, "S", []any{map[string]any{"Bio": "y"}}), []target{func() any { return new(fdNested) }}},
		{"nil for every field", enc(t, mapHdr(10), "I", nil, "I8", nil, "I16", nil, "I32", nil, "I64", nil, "U", nil, "U8", nil, "U16", nil, "U32", nil, "U64", nil), []target{func() any { return &fdInts{I: 5, U64: 9} }}},
		{"nil into floats, bools and a bool pointer", enc(t, mapHdr(4), "F32", nil, "F64", nil, "B", nil, "BP", nil), []target{func() any { b := true; return &fdFloats{F32: 1, F64: 2, B: true, BP: &b} }}},
		{"nil into slices, maps, bytes and pointers", enc(t, mapHdr(5), "SS", nil, "SI", nil, "MS", nil, "KS", nil, "MM", nil), []target{func() any { return new(fdMaps) }, func() any { return &fdMaps{SS: map[string]string{"a": "b"}, SI: map[string]int{"x": 1}} }}},
		{"nil into []string leaves it alone", enc(t, nil), []target{func() any { return &[]string{"keep"} }}},
		{"nil into []int64 clears it", enc(t, nil), []target{func() any { return &[]int64{1} }}},
		{"nil into a struct zeroes it", enc(t, nil), []target{filledUser}},
		{"an empty array into a struct zeroes it", enc(t, arrHdr(0)), []target{filledUser}},
		{"an array of every field decodes in order", enc(t, arrHdr(5), 1, "n", "e", []string{"r"}, "b"), []target{user, filledUser}},
		{"an array of the wrong length fails", enc(t, arrHdr(4), 1, "n", "e", []string{"r"}), []target{user}},
		{"an array with the shadowed field twice", enc(t, arrHdr(3), 1, "inner", "outer"), []target{func() any { return new(fdEmbedShadow) }}},
		{"a map-encoded array-encoded type", enc(t, mapHdr(2), "A", 1, "C", []int{2}), []target{func() any { return new(fdArrayEnc) }}},
		{"an alias key", enc(t, mapHdr(2), "other", "via alias", "al", "direct"), []target{func() any { return new(fdTagged) }}},
		{"keys as bin and as nil", enc(t, mapHdr(2), []byte("Name"), "bin key", nil, "nil key"), []target{user}},
		{"a non-string key fails", enc(t, mapHdr(1), 1, "x"), []target{user}},
		{"the embedded struct by its own name", enc(t, mapHdr(1), "Base", map[string]any{"ID": 3, "Name": "b"}), []target{func() any { return new(fdEmbedded) }, func() any { return new(fdEmbedLater) }, func() any { return new(fdEmbedNoinline) }}},
		{"the tagged embedded struct by its tag", enc(t, mapHdr(2), "base", map[string]any{"ID": 3}, "ID", 4), []target{func() any { return new(fdEmbedTagged) }}},
		{"negative ints into uints wrap", enc(t, mapHdr(4), "U", -1, "U8", -200, "U16", int64(math.MinInt64), "U32", -33), []target{func() any { return new(fdInts) }}},
		{"large ints into narrow ints truncate", enc(t, mapHdr(4), "I8", 300, "I16", uint64(math.MaxUint64), "I32", int64(1)<<40, "U8", 257), []target{func() any { return new(fdInts) }}},
		{"ints into floats", enc(t, mapHdr(2), "F32", int64(1)<<60, "F64", uint64(math.MaxUint64)), []target{func() any { return new(fdFloats) }}},
		{"a float64 into a float32 fails", enc(t, mapHdr(1), "F32", 1.5), []target{func() any { return new(fdFloats) }}},
		{"a float32 into a float64", enc(t, mapHdr(1), "F64", float32(1.1)), []target{func() any { return new(fdFloats) }}},
		{"a float into an int fails", enc(t, mapHdr(1), "I", 1.5), []target{func() any { return new(fdInts) }}},
		{"a bool into an int fails", enc(t, mapHdr(1), "I", true), []target{func() any { return new(fdInts) }}},
		{"an int into a bool fails", enc(t, mapHdr(1), "B", 1), []target{func() any { return new(fdFloats) }}},
		{"bin into a string and str into bytes", enc(t, mapHdr(2), "Name", []byte("bin"), "Bio", "str"), []target{user}},
		{"str into []byte", enc(t, mapHdr(1), "B", "text"), []target{func() any { return new(fdBytes) }, func() any { return &fdBytes{B: make([]byte, 1, 10)} }}},
		{"an array into a string fails", enc(t, mapHdr(1), "Name", []int{1}), []target{user}},
		{"a string into a slice fails", enc(t, mapHdr(1), "Roles", "r"), []target{user}},
		{"a longer array into a fixed array fails", enc(t, mapHdr(1), "A", []int{1, 2, 3, 4}), []target{func() any { return new(fdArrays) }}},
		{"a shorter array into a fixed array keeps the rest", enc(t, mapHdr(2), "A", []int{9}, "B", []byte{1}), []target{func() any { return &fdArrays{A: [3]int{1, 2, 3}, B: [4]byte{5, 6, 7, 8}} }}},
		{"too many bytes into a byte array fails", enc(t, mapHdr(1), "B", []byte{1, 2, 3, 4, 5}), []target{func() any { return new(fdArrays) }}},
		{"a map into a map merges", enc(t, map[string]int{"b": 2}), []target{func() any { return &map[string]int{"a": 1} }}},
		{"a slice reuses spare capacity", enc(t, []int64{1, 2}), []target{func() any { s := make([]int64, 1, 4); s = append(s[:0], 9); return &s }}},
		{"an unknown key with nested containers is skipped", enc(t, mapHdr(2), "X", map[string]any{"a": []any{1, map[string]any{"b": nil}}, "c": 1.5}, "Name", "n"), []target{user}},
		{"an unknown key with an ext value is skipped", enc(t, mapHdr(2), "X", time.Unix(1, 2), "Name", "n"), []target{user}},
		{"an ext header before a map is skipped", enc(t, raw{0xd4, 0x01, 0x80}), []target{func() any { return new(map[string]string) }, func() any { return new(map[string][]fdInts) }}},
		{"an ext header before a map can misalign the rest", enc(t, raw{0xd5, 0x01, 0x81, 0xa1, 'a', 0xa1, 'b'}), []target{func() any { return new(map[string]string) }}},
		{"an ext header before a struct fails", enc(t, raw{0xd4, 0x01, 0x80}), []target{user}},
		{"a truncated input fails", enc(t, raw{0x85, 0xa2, 'I', 'D'}), []target{user}},
		{"trailing bytes are ignored by the decoder", enc(t, "s", "t"), []target{func() any { return new(string) }}},
		{"a pointer chain through nil", enc(t, mapHdr(3), "PPI", 5, "PNest", map[string]any{"PI": nil, "PS": "x"}, "PA", []byte{1}), []target{func() any { return new(fdPtrs) }}},
		{"a nil pointer over an existing one", enc(t, mapHdr(1), "P", nil), []target{func() any { return &fdNested{P: &fdUser{ID: 1}} }}},
		{"a value through an existing pointer merges", enc(t, mapHdr(1), "P", map[string]any{"Name": "n"}), []target{func() any { return &fdNested{P: &fdUser{ID: 1}} }}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, into := range tt.into {
				decodeBoth(t, tt.data, into(), into())
			}
		})
	}
}

// Types the fast decoder must leave to vmihailenco/msgpack.
type (
	withError    struct{ E error }
	withEmbTime  struct{ time.Time } // time.Time's methods are promoted
	withStringer struct{ S fmt.Stringer }
	withText     struct{ K textKey }
	withIntMap   struct{ M map[int]string }
	withEmbedPtr struct{ *Base }
	withUintptr  struct{ U uintptr }
	withIntern   struct {
		S string `msgpack:",intern"`
	}
	withUnexpEmb  struct{ unexported }
	withDecoder   struct{ D customDec }
	withMarshaler struct{ M []marshalBase }
	withEmbedEnc  struct{ encBase }
	unexported    struct{ X int }
	textKey       string
	customDec     struct{ N int }
	marshalBase   struct{ N int }
	encBase       struct{ N int }
)

func (k *textKey) UnmarshalText(b []byte) error { *k = textKey("text:" + string(b)); return nil }

func (c customDec) EncodeMsgpack(e *msgpack.Encoder) error { return e.EncodeInt(int64(c.N)) }

func (c *customDec) DecodeMsgpack(d *msgpack.Decoder) error {
	n, err := d.DecodeInt()
	c.N = n + 1000
	return err
}

func (m marshalBase) MarshalMsgpack() ([]byte, error) { return msgpack.Marshal(m.N) }
func (m *marshalBase) UnmarshalMsgpack(b []byte) error {
	err := msgpack.NewDecoder(bytes.NewReader(b)).Decode(&m.N)
	m.N *= 2
	return err
}

func (e encBase) MarshalBinary() ([]byte, error) { return []byte{byte(e.N)}, nil }
func (e *encBase) UnmarshalBinary(b []byte) error {
	e.N = len(b) * 100
	return nil
}

func TestFastDecodeFallsBackForUnsupportedTypes(t *testing.T) {
	tests := []struct {
		name string
		v    any // a value to encode; a new one of its type is decoded into
	}{
		{"an error field (an interface with methods)", withError{}},
		{"a Stringer field", withStringer{S: nil}},
		{"an embedded time.Time", withEmbTime{time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)}},
		{"a field with UnmarshalText", withText{K: "k"}},
		{"a map with int keys", withIntMap{M: map[int]string{1: "a"}}},
		{"an embedded pointer", withEmbedPtr{Base: &Base{ID: 1, Name: "n"}}},
		{"a uintptr field (msgpack cannot even encode it)", withUintptr{U: 3}},
		{"an intern tag", withIntern{S: "s"}},
		{"an unexported embedded struct", withUnexpEmb{unexported{X: 1}}},
		{"a CustomDecoder field", withDecoder{D: customDec{N: 1}}},
		{"a slice of Unmarshalers", withMarshaler{M: []marshalBase{{N: 1}, {N: 2}}}},
		{"an embedded struct with MarshalBinary", withEmbedEnc{encBase{N: 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pt := reflect.PointerTo(reflect.TypeOf(tt.v))
			pl, _ := planFor(reflect.New(pt.Elem()).Interface())
			require.Nil(t, pl, "%s must fall back", pt)
			if pt.Elem() == reflect.TypeFor[withUintptr]() {
				return
			}

			data, err := Msgpack().Marshal(tt.v)
			require.NoError(t, err)
			got := reflect.New(pt.Elem()).Interface()
			require.NoError(t, Msgpack().Unmarshal(data, got))
			want := reflect.New(pt.Elem()).Interface()
			require.NoError(t, decodeMsgpack(data, want))
			require.Equal(t, want, got)
		})
	}
}

func TestFastDecodeIsUsedForTheUserType(t *testing.T) {
	pl, _ := planFor(new(fdUser))
	require.NotNil(t, pl)
	require.Equal(t, kStruct, pl.kind)
	require.Len(t, pl.fields, 5)
}

func TestFastDecodeRefusesHugeClaimsWithoutAllocating(t *testing.T) {
	// checkMsgpack stops these in Unmarshal; the decoder must not allocate
	// for them even on its own.
	for _, in := range [][]byte{
		{0xdd, 0xff, 0xff, 0xff, 0xff},
		{0x81, 0xa5, 'R', 'o', 'l', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff},
		{0xdf, 0xff, 0xff, 0xff, 0xff},
	} {
		for _, v := range []any{new([]string), new([]int64), new(fdUser), new(map[string]int), new(map[string]string), new([]fdUser)} {
			pl, p := planFor(v)
			require.NotNil(t, pl)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := pl.unmarshal(in, p)
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(64<<10), "%x into %T", in, v)
			require.Error(t, Msgpack().Unmarshal(in, v))
		}
	}
}

// fuzzTypes are the destinations FuzzFastDecode compares the decoders on,
// each as a zero value and as one already holding data.
var fuzzTypes = []reflect.Type{
	reflect.TypeFor[*fdUser](),
	reflect.TypeFor[*fdNested](),
	reflect.TypeFor[*fdInts](),
	reflect.TypeFor[*fdFloats](),
	reflect.TypeFor[*fdArrays](),
	reflect.TypeFor[*fdMaps](),
	reflect.TypeFor[*fdPtrs](),
	reflect.TypeFor[*fdNode](),
	reflect.TypeFor[*fdEmbedShadow](),
	reflect.TypeFor[*fdTagged](),
	reflect.TypeFor[*fdBytes](),
	reflect.TypeFor[*[]string](),
	reflect.TypeFor[*map[string]string](),
	reflect.TypeFor[*map[string][]fdInts](),
	reflect.TypeFor[*fdTimes](),
	reflect.TypeFor[*fdAny](),
	reflect.TypeFor[*any](),
	reflect.TypeFor[*map[string]any](),
	reflect.TypeFor[*[]any](),
	reflect.TypeFor[*time.Time](),
	reflect.TypeFor[*holeStruct](),
}

// extOpensMap reports whether the well-formed msgpack in b has an ext value
// that msgpack's DecodeMapLen, meeting it where a map is expected, would
// read past its header into the payload: one whose payload is empty or
// starts with a code mapLen accepts (nil or a map). From there msgpack reads
// bytes checkMsgpack never checked as values.
func extOpensMap(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		var hdr, n int
		switch {
		case c >= 0xd4 && c <= 0xd8:
			hdr, n = 2, 1<<(c-0xd4)
		case c == 0xc7:
			hdr, n = 3, int(b[i+1])
		case c == 0xc8:
			hdr, n = 4, int(binary.BigEndian.Uint16(b[i+1:]))
		case c == 0xc9:
			hdr, n = 6, int(binary.BigEndian.Uint32(b[i+1:]))
		default:
			i = nextValue(b, i)
			continue
		}
		if n == 0 {
			return true
		}
		if p := b[i+hdr]; p == 0xc0 || p >= 0x80 && p <= 0x8f || p == 0xde || p == 0xdf {
			return true
		}
		i += hdr + n
	}
	return false
}

// nextValue steps over the value at b[i], or over the header of a
// container (its elements are the values that follow).
func nextValue(b []byte, i int) int {
	c := b[i]
	switch {
	case c <= 0x9f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return i + 1 // fixint, fixmap, fixarray, nil, bools
	case c <= 0xbf:
		return i + 1 + int(c&0x1f)
	case c == 0xc4 || c == 0xd9:
		return i + 2 + int(b[i+1])
	case c == 0xc5 || c == 0xda:
		return i + 3 + int(binary.BigEndian.Uint16(b[i+1:]))
	case c == 0xc6 || c == 0xdb:
		return i + 5 + int(binary.BigEndian.Uint32(b[i+1:]))
	case c == 0xcc || c == 0xd0:
		return i + 2
	case c == 0xcd || c == 0xd1:
		return i + 3
	case c == 0xca || c == 0xce || c == 0xd2:
		return i + 5
	case c == 0xcb || c == 0xcf || c == 0xd3:
		return i + 9
	case c == 0xdc || c == 0xde:
		return i + 3
	default: // 0xdd, 0xdf
		return i + 5
	}
}

// hasExt reports whether the well-formed msgpack in b contains an ext
// value.
func hasExt(b []byte) bool {
	for i := 0; i < len(b); i = nextValue(b, i) {
		if c := b[i]; (c >= 0xd4 && c <= 0xd8) || c == 0xc7 || c == 0xc8 || c == 0xc9 {
			return true
		}
	}
	return false
}

func reachesMap(t reflect.Type) bool {
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type) bool
	walk = func(t reflect.Type) bool {
		if seen[t] {
			return false
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.Map:
			return true
		case reflect.Pointer, reflect.Slice, reflect.Array:
			return walk(t.Elem())
		case reflect.Struct:
			for k := range t.NumField() {
				if walk(t.Field(k).Type) {
					return true
				}
			}
		}
		return false
	}
	return walk(t)
}

func FuzzFastDecode(f *testing.F) {
	g := gen{rand.New(rand.NewPCG(5, 6))}
	for _, pt := range fdCorpus {
		for range 3 {
			b, err := msgpack.Marshal(g.random(pt))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte{0xd4, 0x01, 0x80})
	f.Add([]byte{0x92, 0x01, 0xc0})
	f.Add([]byte{0xc7, 0x08, 0x01, 0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x82, 0xa1, 'A', 0x91, 0x01, 0xa1, 'A', 0xdd, 0, 0, 0, 1, 1})
	f.Add([]byte{0x81, 0xa1, 'T', 0xd6, 0xff, 0, 0, 0, 1})
	olds := make([][]byte, len(fuzzTypes))
	for k, pt := range fuzzTypes {
		b, err := msgpack.Marshal(g.random(pt))
		if err != nil {
			f.Fatal(err)
		}
		olds[k] = b
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Unmarshal runs checkMsgpack first; what it refuses never
		// reaches either decoder.
		if checkMsgpack(data) != nil {
			return
		}
		opens := extOpensMap(data)
		for k, pt := range fuzzTypes {
			if opens && reachesMap(pt) {
				// msgpack reads an ext header in front of a map as part of
				// the map (see "an ext header before a map" above), so the
				// ext's payload is read as containers checkMsgpack never
				// checked, and msgpack may allocate whatever they claim:
				// it would make the fuzzer run out of memory. The fast
				// decoder alone must stay within the input's size.
				decode := func() { _ = Msgpack().Unmarshal(data, reflect.New(pt.Elem()).Interface()) }
				if allocated := allocatedBy(decode); allocated > 1<<20+512*uint64(len(data)) {
					t.Fatalf("Unmarshal %x into %s allocated %d bytes", data, pt, allocated)
				}
				continue
			}
			fast, slow := reflect.New(pt.Elem()).Interface(), reflect.New(pt.Elem()).Interface()
			decodeBoth(t, data, fast, slow)

			fast, slow = reflect.New(pt.Elem()).Interface(), reflect.New(pt.Elem()).Interface()
			if decodeMsgpack(olds[k], fast) != nil || decodeMsgpack(olds[k], slow) != nil {
				t.Fatal("cannot decode the starting value")
			}
			decodeBoth(t, data, fast, slow)

			// And through the public path.
			fast, slow = reflect.New(pt.Elem()).Interface(), reflect.New(pt.Elem()).Interface()
			errFast := Msgpack().Unmarshal(data, fast)
			errSlow := decodeMsgpack(data, slow)
			if (errFast == nil) != (errSlow == nil) || errFast == nil && !same(reflect.ValueOf(fast), reflect.ValueOf(slow)) {
				t.Fatalf("Unmarshal %x into %T: %v / %v", data, fast, errFast, errSlow)
			}
		}
	})
}

func TestHasExt(t *testing.T) {
	require.False(t, hasExt(enc(t, map[string]any{"a": []any{1, "x", 1.5, []byte("b")}})))
	require.True(t, hasExt(enc(t, map[string]any{"a": []any{1, "x", time.Unix(1, 0)}})))
	require.True(t, hasExt(enc(t, raw{0xd4, 0x01, 0x80})))
}

func TestExtOpensMap(t *testing.T) {
	require.False(t, extOpensMap(enc(t, map[string]any{"a": []any{1, "x", 1.5, []byte("b")}})))
	require.False(t, extOpensMap(enc(t, map[string]any{"a": []any{1, "x", time.Unix(1, 0)}})))
	require.True(t, extOpensMap(enc(t, raw{0xd4, 0x01, 0x80})))
	require.True(t, extOpensMap(enc(t, arrHdr(2), 1, raw{0xd6, 0x01, 0xc0, 1, 2, 3})))
	require.True(t, extOpensMap(enc(t, arrHdr(2), raw{0xc7, 0x00, 0x01}, 1)))
	require.True(t, extOpensMap(enc(t, raw{0xc8, 0x00, 0x03, 0x01, 0xde, 0x00, 0x00})))
}
