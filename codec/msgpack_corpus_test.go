package codec

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

// The destination types the pre-check and the allocation budget are tested
// on: every kind msgpack decodes differently, struct layouts that exercise
// its field naming (tags, aliases, embedding and shadowing), recursive
// types, and types with decode methods of their own.

type tcUser struct {
	ID    int64
	Name  string
	Email string
	Roles []string
	Bio   string
}

type tcInts struct {
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

type tcFloats struct {
	F32 float32
	F64 float64
	B   bool
	BP  *bool
}

type tcTagged struct {
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
	Tags []string
}

type Mid struct {
	Base
	M int
}

type tcEmbedded struct {
	Base
	Extra string
}

type tcEmbedShadow struct { // Base is inlined, then Name overrides its Name
	Base
	Name string
}

type tcEmbedLater struct { // Name is already taken, so Base is not inlined
	Name string
	Base
}

type tcEmbedInline struct {
	Name string
	Base `msgpack:",inline"`
}

type tcEmbedNoinline struct {
	Base `msgpack:",noinline"`
	X    int
}

type tcEmbedTagged struct {
	Base `msgpack:"base"`
	Y    string
}

type tcEmbedPtr struct {
	*Base
	Z []int64
}

type tcDeep struct {
	Mid
	X int
}

type myString string
type myInt int16
type myBytes []byte
type myKey string
type myStrings []string

type tcNamed struct {
	S  myString
	I  myInt
	L  []myString
	B  myBytes
	SS myStrings
}

type tcNested struct {
	U  tcUser
	P  *tcUser
	S  []tcUser
	SP []*tcUser
	M  map[string]tcUser
	MP map[string]*tcInts
}

type tcArrays struct {
	A [3]int
	B [4]byte
	S [2]string
	N [2][2]int16
	P [2]*int
}

type tcBytes struct {
	B  []byte
	BB [][]byte
	BP *[]byte
}

type tcMaps struct {
	SS map[string]string
	SI map[string]int
	KS map[myKey]string
	MS map[string][]string
	MM map[string]map[string]float64
	IM map[int32]tcInts
	BV map[string][200]byte // stored indirectly in the map's groups
}

type tcPtrs struct {
	PI    *int
	PS    *string
	PPI   **int
	PSl   *[]string
	PM    *map[string]int
	PA    *[2]uint8
	PNest *tcPtrs
}

type tcNode struct {
	Val  int
	Kids []tcNode
	Next *tcNode
	M    map[string]*tcNode
}

// tcRec is the recursive type: a map of itself.
type tcRec struct{ M map[string]tcRec }

type tcArrayEnc struct {
	_msgpack struct{} `msgpack:",as_array"`
	A        int
	B        string
	C        []int
}

type tcTimes struct {
	T  time.Time
	PT *time.Time
	TS []time.Time
	TM map[string]time.Time
	TA [2]time.Time
	PP **time.Time
}

type anyish interface{}

type anyMap map[string]any

type tcAny struct {
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

type tcBig struct {
	Pad  [4096]byte
	Next *tcBig
}

type tcOdd struct {
	E error
	S fmt.Stringer
	K textKey
	D customDec
	R msgpack.RawMessage
	M []marshalBase
	B encBase
	I string `msgpack:",intern"`
	J any    `msgpack:",intern"`
	U uintptr
	C chan int
}

type (
	textKey     string
	customDec   struct{ N int }
	marshalBase struct{ N int }
	encBase     struct{ N int }
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
	return msgpack.NewDecoder(bytes.NewReader(b)).Decode(&m.N)
}

func (e encBase) MarshalBinary() ([]byte, error) { return []byte{byte(e.N)}, nil }
func (e *encBase) UnmarshalBinary(b []byte) error {
	e.N = len(b)
	return nil
}

// corpus lists destination types, as pointer types.
var corpus = []reflect.Type{
	reflect.TypeFor[*tcUser](),
	reflect.TypeFor[*tcInts](),
	reflect.TypeFor[*tcFloats](),
	reflect.TypeFor[*tcTagged](),
	reflect.TypeFor[*tcEmbedded](),
	reflect.TypeFor[*tcEmbedShadow](),
	reflect.TypeFor[*tcEmbedLater](),
	reflect.TypeFor[*tcEmbedInline](),
	reflect.TypeFor[*tcEmbedNoinline](),
	reflect.TypeFor[*tcEmbedTagged](),
	reflect.TypeFor[*tcEmbedPtr](),
	reflect.TypeFor[*tcDeep](),
	reflect.TypeFor[*tcNamed](),
	reflect.TypeFor[*tcNested](),
	reflect.TypeFor[*tcArrays](),
	reflect.TypeFor[*tcBytes](),
	reflect.TypeFor[*tcMaps](),
	reflect.TypeFor[*tcPtrs](),
	reflect.TypeFor[*tcNode](),
	reflect.TypeFor[*tcRec](),
	reflect.TypeFor[*tcArrayEnc](),
	reflect.TypeFor[*tcTimes](),
	reflect.TypeFor[*tcAny](),
	reflect.TypeFor[*tcBig](),
	reflect.TypeFor[*tcOdd](),
	reflect.TypeFor[*[]string](),
	reflect.TypeFor[*map[string]string](),
	reflect.TypeFor[*[]int64](),
	reflect.TypeFor[*[5]uint8](),
	reflect.TypeFor[**tcUser](),
	reflect.TypeFor[*string](),
	reflect.TypeFor[*float32](),
	reflect.TypeFor[*bool](),
	reflect.TypeFor[*[]byte](),
	reflect.TypeFor[*[]tcUser](),
	reflect.TypeFor[*[]*tcUser](),
	reflect.TypeFor[*map[string][]tcInts](),
	reflect.TypeFor[*time.Duration](),
	reflect.TypeFor[*any](),
	reflect.TypeFor[*anyish](),
	reflect.TypeFor[*map[string]any](),
	reflect.TypeFor[*anyMap](),
	reflect.TypeFor[*[]any](),
	reflect.TypeFor[*[]map[string]any](),
	reflect.TypeFor[*[]map[string]string](),
	reflect.TypeFor[*time.Time](),
	reflect.TypeFor[**time.Time](),
	reflect.TypeFor[*[]time.Time](),
	reflect.TypeFor[*map[string]time.Time](),
	reflect.TypeFor[*[][]tcBig](),
}

// gen makes random values biased towards the edges: boundary integers,
// NaN and infinities, unicode and long strings, nil versus empty.
type gen struct{ r *rand.Rand }

var edgeInts = []int64{0, 1, -1, 31, 32, -32, -33, 127, 128, -128, -129, 255, 256,
	32767, 32768, -32768, -32769, 65535, 65536, math.MaxInt32, math.MinInt32,
	math.MaxUint32, math.MaxUint32 + 1, math.MaxInt64, math.MinInt64}

var edgeStrings = []string{"", "a", "ID", "Name", "M", "héllo wörld", "日本語のテキスト", "🎉🚀", "\x00\xff",
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
// bytes), the zero time, and far dates.
func (g gen) time() time.Time {
	switch g.r.IntN(6) {
	case 0:
		return time.Time{}
	case 1:
		return time.Unix(g.r.Int64N(1<<32), 0)
	case 2:
		return time.Unix(g.r.Int64N(1<<34), g.r.Int64N(1e9))
	case 3:
		return time.Unix(g.r.Int64N(1<<40)-1<<39, g.r.Int64N(1e9))
	case 4:
		return time.Unix([]int64{0, -1, 1<<32 - 1, 1 << 32, 1<<34 - 1, 1 << 34, -62135596800}[g.r.IntN(7)], 0)
	}
	return time.Now()
}

// anyValue returns what an interface may hold.
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
	if !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.NumMethod() > 0 {
			return
		}
		if x := g.anyValue(depth); x != nil {
			v.Set(reflect.ValueOf(x))
		}
	case reflect.Bool:
		v.SetBool(g.r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(g.int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
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
		if v.Len() > 64 {
			return
		}
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
	}
}

// random returns a new random value of the pointed-to type of pt, as a
// pointer.
func (g gen) random(pt reflect.Type) any {
	p := reflect.New(pt.Elem())
	g.value(p.Elem(), 0)
	return p.Interface()
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

// ext writes an ext value with the given type and payload, in the
// shortest form.
func ext(typ byte, payload []byte) raw {
	var out []byte
	switch len(payload) {
	case 1, 2, 4, 8, 16:
		out = []byte{0xd4 + byte(bitsLen(len(payload))), typ}
	default:
		switch {
		case len(payload) <= math.MaxUint8:
			out = []byte{0xc7, byte(len(payload)), typ}
		case len(payload) <= math.MaxUint16:
			out = binary.BigEndian.AppendUint16([]byte{0xc8}, uint16(len(payload)))
			out = append(out, typ)
		default:
			out = binary.BigEndian.AppendUint32([]byte{0xc9}, uint32(len(payload)))
			out = append(out, typ)
		}
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

// hostileKeys are struct field names of the corpus types (so that hostile
// maps reach typed fields) and a few others.
var hostileKeys = []string{"", "M", "ID", "Name", "Roles", "Bio", "Email", "A", "AS", "AM", "S", "SP", "P",
	"L", "T", "TS", "TM", "Kids", "Next", "Val", "SS", "MS", "MM", "IM", "BV", "B", "BB", "Base", "Tags", "Z",
	"E", "D", "R", "I", "J", "Pad", "x"}

// hostileMsgpack returns one well-formed MessagePack value of about size
// bytes built to hurt a decoder: nesting as deep as it can go through
// arrays, maps, struct-like maps and ext wrappers; huge counts of one-byte
// or empty elements; one-entry maps; timestamps whose payload reads as a
// map; ext headers in front of maps; mixed with ordinary values.
func hostileMsgpack(r *rand.Rand, size int) []byte {
	h := &hostile{r: r, left: size}
	return h.value(nil, 0)
}

type hostile struct {
	r    *rand.Rand
	left int
}

func (h *hostile) key(b []byte) []byte {
	k := hostileKeys[h.r.IntN(len(hostileKeys))]
	return append(append(b, 0xa0|byte(len(k))), k...)
}

func (h *hostile) arrayHeader(b []byte, n int) []byte {
	switch {
	case n < 16 && h.r.IntN(4) != 0:
		return append(b, 0x90|byte(n))
	case n < 1<<16 && h.r.IntN(2) == 0:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

func (h *hostile) mapHeader(b []byte, n int) []byte {
	switch {
	case n < 16 && h.r.IntN(4) != 0:
		return append(b, 0x80|byte(n))
	case n < 1<<16 && h.r.IntN(2) == 0:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
}

// tiny returns one of the cheapest encodings of an expensive value.
func (h *hostile) tiny(b []byte) []byte {
	switch h.r.IntN(5) {
	case 0:
		return append(b, 0xc0) // nil
	case 1:
		return append(b, 0x80) // empty map
	case 2:
		return append(b, 0x90) // empty array
	case 3:
		return append(b, 0x81, 0xa0, 0xc0) // one-entry map
	}
	return append(b, 0xa0) // empty string
}

func (h *hostile) value(b []byte, depth int) []byte {
	h.left--
	if h.left <= 0 || depth > maxMsgpackDepth+5 {
		return h.tiny(b)
	}
	switch h.r.IntN(16) {
	case 0: // a chain as deep as the budget allows, through one kind of container
		n := min(h.left/3, maxMsgpackDepth-depth+h.r.IntN(5))
		kind := h.r.IntN(4)
		for range n {
			switch kind {
			case 0:
				b = append(b, 0x91)
			case 1:
				b = h.key(append(b, 0x81))
			case 2:
				b = append(b, 0x81, 0xa1, 'M', 0x81, 0xa0) // tcRec: {M: {"": ...}}
			default:
				b = append(b, 0xdc, 0, 1)
			}
		}
		h.left -= 3 * n
		b = h.value(b, depth+n)
	case 1: // a huge count of one-byte or empty elements
		n := h.r.IntN(max(h.left, 1)) + 1
		b = h.arrayHeader(b, n)
		c := []byte{0xc0, 0x80, 0x90, 0xa0, 0x00}[h.r.IntN(5)]
		for range n {
			b = append(b, c)
		}
		h.left -= n
	case 2: // many one-entry maps
		n := h.r.IntN(max(h.left/3, 1)) + 1
		b = h.arrayHeader(b, n)
		for range n {
			b = append(b, 0x81, 0xa0, 0xc0)
		}
		h.left -= 3 * n
	case 3: // an ext wrapping a map (read as the map where a map is expected)
		inner := h.value(h.mapHeader(nil, 1), depth+1)
		inner = h.value(inner, depth+1)
		tp := []byte{0x01, 0x05, 0xff, 0x80}[h.r.IntN(4)]
		if h.r.IntN(4) == 0 && len(inner) > 1 {
			inner = inner[:h.r.IntN(len(inner))] // misaligned: the map runs past the ext
		}
		b = append(b, ext(tp, inner)...)
	case 4: // timestamps, some of whose payloads read as a map header
		switch h.r.IntN(4) {
		case 0:
			b = append(b, ext(0xff, be32(uint32(0x80+h.r.IntN(16))<<24|h.r.Uint32()>>8))...)
		case 1:
			b = append(b, ext(0xff, be64(uint64(0x80+h.r.IntN(16))<<56|h.r.Uint64()>>8))...)
		case 2:
			b = append(b, ext(0xff, append([]byte{0xc0}, be64(h.r.Uint64())[1:]...))...)
		default:
			b = append(b, ext(0xff, append(be32(h.r.Uint32()%1e9), be64(h.r.Uint64()>>30)...))...)
		}
	case 5: // an ext of random type and size
		p := make([]byte, []int{0, 1, 2, 3, 4, 8, 16, 17, 300}[h.r.IntN(9)])
		for k := range p {
			p[k] = byte(h.r.IntN(256))
		}
		b = append(b, ext(byte(h.r.IntN(256)), p)...)
	case 6, 7: // a map with struct-like keys
		n := h.r.IntN(5)
		b = h.mapHeader(b, n)
		for range n {
			b = h.key(b)
			b = h.value(b, depth+1)
		}
	case 8, 9: // an array
		n := h.r.IntN(5)
		b = h.arrayHeader(b, n)
		for range n {
			b = h.value(b, depth+1)
		}
	case 10:
		b = h.tiny(b)
	case 11: // a string or binary
		n := []int{0, 1, 2, 5, 31, 40, 300, 70000}[h.r.IntN(8)]
		if n > h.left {
			n = h.left
		}
		h.left -= n
		if h.r.IntN(2) == 0 {
			b = append(binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n)), bytes.Repeat([]byte{'s'}, n)...)
		} else {
			b = append(binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n)), bytes.Repeat([]byte{'b'}, n)...)
		}
	default: // a scalar
		s := [][]byte{{0x05}, {0xe0}, {0xc2}, {0xc3}, {0xcc, 0xff}, {0xcd, 1, 2}, {0xce, 1, 2, 3, 4},
			{0xcf, 1, 2, 3, 4, 5, 6, 7, 8}, {0xd0, 0x80}, {0xd1, 1, 2}, {0xd2, 1, 2, 3, 4},
			{0xd3, 1, 2, 3, 4, 5, 6, 7, 8}, {0xca, 0x3f, 0xc0, 0, 0}, {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}}
		b = append(b, s[h.r.IntN(len(s))]...)
	}
	return b
}

func TestHostileMsgpackIsWellFormed(t *testing.T) {
	// Most of what the generator makes must pass the structural check
	// (misaligned ext wrappers and over-deep chains are meant not to), or
	// it would not reach the decoder.
	r := rand.New(rand.NewPCG(1, 1))
	ok := 0
	for range 500 {
		if _, err := checkMsgpack(hostileMsgpack(r, 2000)); err == nil {
			ok++
		}
	}
	require.Greater(t, ok, 250)
}
