package codec

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/tagparser/v2"
)

// The allocation bound of [Msgpack]'s Unmarshal: vmihailenco/msgpack may
// allocate at most decodeFactor bytes per serialized byte, plus
// decodeAllowance, to decode a payload; a payload that would need more is
// refused with ErrTooLarge before msgpack reads it.
//
// Why a bound is needed although checkMsgpack caps every count by the bytes
// left: msgpack allocates per element what the destination type says, not
// what the input spends. A nil (one byte) read into a []User element costs
// a whole User (80 bytes), twice (decodeSliceValue makes the slice, then
// appends it to a nil one), so a 930-byte zstd frame of 8 MiB of nils made
// msgpack allocate over 1 GiB. The bound must also admit Go's own overhead for honest
// data: a map with one entry costs ~340 bytes however small its encoding,
// so a list of thousands of one-entry maps is refused (decode such data
// into structs, which cost nothing per key).
const (
	decodeFactor    = 16
	decodeAllowance = 64 << 10
)

// decodeBase covers what every decode allocates whatever the input: a
// pooled decoder created anew, msgpack's first scratch buffer.
const decodeBase = 2 << 10

// decodeLimit is the most Unmarshal lets msgpack allocate for n bytes.
func decodeLimit(n int) uint64 { return decodeFactor*uint64(n) + decodeAllowance }

// A plan describes, for one destination type, what vmihailenco/msgpack
// v5.4.1 does with the value it reads there: which codes it accepts and
// what it allocates. It mirrors the dispatch of msgpack's _getDecoder
// (decode_value.go) and getFields (types.go) and nothing more: it never
// decodes. The costs are upper bounds, checked against measured
// allocations by TestBudgetCoversWhatMsgpackAllocates and FuzzUnmarshal.
type plan struct {
	kind  planKind
	elem  *plan // slice, array, pointer, map value
	key   *plan // map key
	size  uint64
	slot  uint64 // map: key and value slot size in the map's groups
	ksize uint64 // map: key size, allocated per entry by reflect.New
	vsize uint64 // map: value size, likewise
	alen  int    // array length

	fields map[string]*planField // struct: keys msgpack knows
	list   []*planField          // struct: fields in order (array form)

	errorIface bool // an error interface: msgpack turns strings into errors
	intern     bool // an `intern` field: strings also go into msgpack's dict
	hasIntern  bool // an intern field is reachable (set on the root): struct keys get copied
	custom     customKind

	// rate is an upper bound on the bytes allocated per input byte for any
	// value of this plan, used to skip the walk for small payloads.
	rate uint64
}

type planKind uint8

const (
	kFree    planKind = iota // decodes without allocating, or fails: bool, numbers, [N]byte
	kString                  // DecodeString: copies; str, bin or nil
	kTime                    // time.Time through msgpack's registered ext decoder
	kTimeTop                 // a *time.Time destination: DecodeTime, also [sec, nsec] and RFC 3339
	kBytes                   // []byte: an allocation of the length
	kStrings                 // []string (exactly): makeStrings, then DecodeString
	kSlice                   // other slices: decodeSliceValue
	kArray                   // arrays other than of bytes: in place
	kMap                     // maps: decodeMapValue
	kMapSS                   // map[string]string (or a named type of it)
	kMapSA                   // map[string]interface{} (or a named type of it)
	kStruct                  // decodeStructValue: map or array form
	kPtr                     // pointers: allocate the pointee unless nil
	kIface                   // nil interfaces: DecodeInterface
	kCustom                  // DecodeMsgpack, UnmarshalMsgpack, UnmarshalBinary, UnmarshalText
)

type customKind uint8

const (
	customDecoder     customKind = iota + 1 // DecodeMsgpack: user code on the decoder
	customUnmarshaler                       // UnmarshalMsgpack: the value's raw bytes
	customBytes                             // UnmarshalBinary, UnmarshalText: DecodeBytes
)

type planField struct {
	name  string
	plan  *plan
	embed uint64 // nil embedded struct pointers allocated on its way (fieldByIndexAlloc)
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	stringType        = reflect.TypeFor[string]()
	ifaceType         = reflect.TypeFor[any]()
	errorType         = reflect.TypeFor[error]()
	customDecoderType = reflect.TypeFor[msgpack.CustomDecoder]()
	unmarshalerType   = reflect.TypeFor[msgpack.Unmarshaler]()
	binaryUnmType     = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	textUnmType       = reflect.TypeFor[encoding.TextUnmarshaler]()
	customEncoderType = reflect.TypeFor[msgpack.CustomEncoder]()
	marshalerType     = reflect.TypeFor[msgpack.Marshaler]()
	binaryMType       = reflect.TypeFor[encoding.BinaryMarshaler]()
	textMType         = reflect.TypeFor[encoding.TextMarshaler]()
)

// plans caches one plan per destination type, like msgpack's own decoder
// and struct caches. Its size is bounded by the types a program decodes.
var plans sync.Map // reflect.Type -> *plan

var (
	stringPlan = &plan{kind: kString, rate: 16}
	ifacePlan  = &plan{kind: kIface, rate: ifaceRate}
	timeTop    = &plan{kind: kTimeTop, rate: 2*(512+3*16) + 8}
)

// topPlan returns the plan for what msgpack's Decode(v) decodes into, or
// nil when Decode fails before reading anything (v is not a non-nil
// pointer).
func topPlan(v any) (*plan, error) {
	switch v.(type) {
	case *time.Time:
		return timeTop, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, nil
	}
	t := rv.Type().Elem()
	if t.Kind() == reflect.Interface && !rv.Elem().IsNil() {
		// Decode goes into what the interface holds, which must be a
		// pointer.
		dyn := rv.Elem().Elem()
		if dyn.Kind() != reflect.Pointer {
			return nil, nil
		}
		t = dyn.Type()
	}
	return planFor(t)
}

func planFor(t reflect.Type) (*plan, error) {
	if p, ok := plans.Load(t); ok {
		return p.(*plan), nil
	}
	b := planBuilder{plans: map[reflect.Type]*plan{}, inFields: map[reflect.Type]bool{}}
	p := b.build(t)
	if b.refuse != "" {
		// msgpack would overflow its stack building the decoder.
		return nil, fmt.Errorf("msgpack cannot decode into %s, %s", t, b.refuse)
	}
	setRates(p)
	actual, _ := plans.LoadOrStore(t, p)
	return actual.(*plan), nil
}

type planBuilder struct {
	plans    map[reflect.Type]*plan
	inFields map[reflect.Type]bool // structs whose fields are being listed
	refuse   string
}

func (b *planBuilder) build(t reflect.Type) *plan {
	if p := b.plans[t]; p != nil {
		return p
	}
	p := &plan{}
	b.plans[t] = p
	b.fill(p, t)
	return p
}

// fill follows msgpack's _getDecoder in its order.
func (b *planBuilder) fill(p *plan, t reflect.Type) {
	kind := t.Kind()
	if t == timeType { // msgpack registers a decoder for time.Time
		p.kind = kTime
		return
	}
	if c := customOf(t); c != 0 {
		p.kind, p.custom = kCustom, c
		if nilable(kind) {
			p.size = sizeOf(t.Elem())
		}
		return
	}
	if kind != reflect.Pointer {
		if c := customOf(reflect.PointerTo(t)); c != 0 {
			p.kind, p.custom = kCustom, c
			if nilable(kind) {
				p.size = sizeOf(t.Elem())
			}
			return
		}
	}
	switch kind {
	case reflect.Pointer:
		p.kind, p.size = kPtr, sizeOf(t.Elem())
		// msgpack builds the decoders of a chain of pointers eagerly, one
		// inside the other: a cycle overflows its stack.
		e := t.Elem()
		for k := 0; e.Kind() == reflect.Pointer; k++ {
			if e == t || k > 64 {
				b.refuse = "a pointer type that points to itself"
				return
			}
			e = e.Elem()
		}
		p.elem = b.build(t.Elem())
	case reflect.Slice:
		switch {
		case t.Elem().Kind() == reflect.Uint8:
			p.kind = kBytes
		case t.Elem() == stringType:
			p.kind = kStrings
		default:
			p.kind, p.size, p.elem = kSlice, uint64(t.Elem().Size()), b.build(t.Elem())
		}
	case reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			p.kind = kFree
			return
		}
		p.kind, p.alen, p.elem = kArray, t.Len(), b.build(t.Elem())
	case reflect.Map:
		switch {
		case t.Key() == stringType && t.Elem() == stringType:
			p.kind = kMapSS
		case t.Key() == stringType && t.Elem() == ifaceType:
			p.kind = kMapSA
		default:
			p.kind, p.key, p.elem = kMap, b.build(t.Key()), b.build(t.Elem())
			p.ksize, p.vsize = sizeOf(t.Key()), sizeOf(t.Elem())
		}
		p.slot = mapSlot(t)
	case reflect.String:
		p.kind = kString
	case reflect.Interface:
		p.kind, p.errorIface = kIface, t == errorType
	case reflect.Struct:
		fs, ok := b.structFields(t)
		if !ok {
			p.kind = kFree // msgpack panics listing the fields: decoding fails
			return
		}
		p.kind, p.fields, p.list = kStruct, map[string]*planField{}, make([]*planField, len(fs.list))
		if t.Size() > 1024 {
			// reflect.Zero, which msgpack sets a struct to on nil or [],
			// allocates for types over 1 KiB.
			p.size = sizeOf(t)
		}
		for i, f := range fs.list {
			p.list[i] = b.planField(f)
		}
		for name, f := range fs.m {
			p.fields[name] = b.planField(f)
		}
	default: // bool, numbers; chan, func, complex: msgpack fails at once
		p.kind = kFree
	}
}

func nilable(k reflect.Kind) bool {
	switch k {
	case reflect.Chan, reflect.Func, reflect.Interface, reflect.Map, reflect.Pointer, reflect.Slice:
		return true
	}
	return false
}

func customOf(t reflect.Type) customKind {
	switch {
	case t.Implements(customDecoderType):
		return customDecoder
	case t.Implements(unmarshalerType):
		return customUnmarshaler
	case t.Implements(binaryUnmType), t.Implements(textUnmType):
		return customBytes
	}
	return 0
}

func hasCustomEncoder(t reflect.Type) bool {
	for _, it := range []reflect.Type{customEncoderType, marshalerType, binaryMType, textMType} {
		if t.Implements(it) || (t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(it)) {
			return true
		}
	}
	return false
}

// sizeOf is what reflect.New(t) allocates.
func sizeOf(t reflect.Type) uint64 { return allocSize(uint64(t.Size())) }

// mapSlot is the size of one key and value slot in a map's groups; keys
// and values over 128 bytes are stored as pointers.
func mapSlot(t reflect.Type) uint64 {
	k, v := t.Key(), t.Elem()
	ks, ka := uint64(k.Size()), uint64(k.Align())
	vs, va := uint64(v.Size()), uint64(v.Align())
	if ks > 128 {
		ks, ka = 8, 8
	}
	if vs > 128 {
		vs, va = 8, 8
	}
	off := (ks + va - 1) &^ (va - 1)
	a := max(ka, va)
	return (off + vs + a - 1) &^ (a - 1)
}

// fieldInfo is one entry of msgpack's fields.
type fieldInfo struct {
	name   string
	typ    reflect.Type
	intern bool
	embed  uint64 // bytes fieldByIndexAlloc allocates for nil embedded pointers on the way
}

type fieldSet struct {
	m    map[string]*fieldInfo
	list []*fieldInfo
}

func (fs *fieldSet) add(f *fieldInfo) {
	fs.m[f.name] = f
	fs.list = append(fs.list, f)
}

// structFields lists what msgpack's getFields(typ, "") lists, in the same
// order and with the same shadowing: exported fields (and embedded ones)
// named by their msgpack tag or Go name, embedded plain structs inlined
// unless a name clashes, aliases. ok is false where getFields panics, or
// recurses for ever (then b.refuse says so).
func (b *planBuilder) structFields(t reflect.Type) (fs *fieldSet, ok bool) {
	if b.inFields[t] {
		b.refuse = "a struct that embeds itself"
		return nil, false
	}
	b.inFields[t] = true
	defer delete(b.inFields, t)
	fs = &fieldSet{m: map[string]*fieldInfo{}}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := tagparser.Parse(f.Tag.Get("msgpack"))
		if tag.Name == "-" {
			continue
		}
		if f.PkgPath != "" && !f.Anonymous {
			continue
		}
		fi := &fieldInfo{name: tag.Name, typ: f.Type}
		if fi.name == "" {
			fi.name = f.Name
		}
		if tag.HasOption("intern") {
			if k := f.Type.Kind(); k != reflect.Interface && k != reflect.String {
				return nil, false
			}
			fi.intern = true
		}
		if f.Anonymous && !tag.HasOption("noinline") {
			inlined := false
			if tag.HasOption("inline") {
				if f.Type.Kind() != reflect.Struct {
					return nil, false // getFields of a non-struct panics
				}
				inner, ok := b.structFields(f.Type)
				if !ok {
					return nil, false
				}
				for _, g := range inner.list {
					if _, taken := fs.m[g.name]; !taken { // inlineFields keeps the outer field
						fs.add(&fieldInfo{name: g.name, typ: g.typ, intern: g.intern, embed: g.embed})
					}
				}
				inlined = true
			} else {
				inner, embed, ok := b.inlinable(fs, f.Type)
				if b.refuse != "" {
					return nil, false
				}
				if ok {
					for _, g := range inner.list {
						fs.add(&fieldInfo{name: g.name, typ: g.typ, intern: g.intern, embed: g.embed + embed})
					}
					inlined = true
				}
			}
			if inlined {
				// The embedded field's own name decodes the whole of it.
				fs.m[fi.name] = fi
				continue
			}
		}
		fs.add(fi)
		if alias, ok := tag.Options["alias"]; ok {
			fs.m[alias] = fi
		}
	}
	return fs, true
}

// inlinable mirrors shouldInline: an embedded struct, or pointer to one,
// without custom coding, none of whose fields clashes with fs. embed is
// what a nil embedded pointer costs when a field through it is decoded
// (msgpack takes a value from cachedValue, whose goroutine makes another).
func (b *planBuilder) inlinable(fs *fieldSet, t reflect.Type) (inner *fieldSet, embed uint64, ok bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
		embed += 2 * sizeOf(t)
	}
	if t.Kind() != reflect.Struct || t == timeType || hasCustomEncoder(t) || customOf(t) != 0 || customOf(reflect.PointerTo(t)) != 0 {
		return nil, 0, false
	}
	inner, ok = b.structFields(t)
	if !ok {
		return nil, 0, false
	}
	for _, g := range inner.list {
		if _, taken := fs.m[g.name]; taken {
			return nil, 0, false
		}
	}
	return inner, embed, true
}

func (b *planBuilder) planField(f *fieldInfo) *planField {
	p := b.build(f.typ)
	if f.intern {
		q := *p
		q.intern = true
		p = &q
	}
	return &planField{name: f.name, plan: p, embed: f.embed}
}

// Per-byte rates, for setRates. Every value takes at least one byte, a
// map entry two.
const (
	// ifaceRate bounds DecodeInterface: a one-entry map ("\x81\xa0\xc0",
	// 3 bytes) costs a map header and an 8-slot group (~340 bytes), and
	// inside an array a 16-byte slot more.
	ifaceRate = 48 + 304 + 48 + 16 + 64
)

// setRates sets every plan's rate: the most any value of it can allocate
// per input byte, counting its own allocations and those of the values
// nested in it (a cycle contributes what its members do).
func setRates(root *plan) {
	// A fixed point over the plan graph: rates only grow, and are bounded.
	var all []*plan
	seen := map[*plan]bool{}
	var walk func(p *plan)
	walk = func(p *plan) {
		if p == nil || seen[p] {
			return
		}
		seen[p] = true
		all = append(all, p)
		walk(p.elem)
		walk(p.key)
		for _, f := range p.list {
			walk(f.plan)
		}
		for _, f := range p.fields {
			walk(f.plan)
		}
	}
	walk(root)
	// own is what a value allocates for itself per byte of its own
	// encoding, plus what each of its elements costs it (per element).
	own := func(p *plan) uint64 {
		switch p.kind {
		case kString:
			r := uint64(16)
			if p.intern {
				r += 32
			}
			return r
		case kBytes:
			return 3 * 16
		case kTimeTop:
			return 512 + 3*16
		case kStrings:
			return 8 * 24
		case kSlice:
			return satAdd(satMul(5, p.size), 48)
		case kMap, kMapSS, kMapSA:
			entry := max(48+allocSize(8+8*p.slot), 12*(p.slot+1)+64)
			if p.kind != kMapSA {
				entry += mapGrowth * (p.slot + 1)
			}
			if p.kind == kMap {
				entry = satAdd(entry, satMul(2, satAdd(p.ksize, p.vsize)))
			}
			return entry
		case kStruct:
			var e uint64
			for _, f := range p.fields {
				e = max(e, f.embed)
			}
			return satAdd(max(e, p.size), 32+16) // 16: keys copied once msgpack's dict holds strings
		case kPtr:
			return p.size
		case kIface:
			r := uint64(ifaceRate)
			if p.errorIface || p.intern {
				r += 32
			}
			return r
		case kCustom:
			return satAdd(p.size, 6+64)
		}
		return 0
	}
	for _, p := range all {
		p.rate = own(p)
	}
	// A value's bytes may be charged by it and by every pointer above it
	// (a pointer chain shares the bytes of what it points to): add the
	// chain's allocations, and take the largest rate in the graph for all,
	// since any of its nodes may be what the bytes end up in.
	maxRate := uint64(16) // the strings of []string and map[string]string
	for _, p := range all {
		if p.kind == kIface || p.kind == kMapSA {
			maxRate = max(maxRate, ifaceRate+32)
		}
		if p.intern {
			root.hasIntern = true
		}
		r := p.rate
		for q := p; q.kind == kPtr && q.elem != nil; q = q.elem {
			r = satAdd(r, q.elem.rate)
			if q.elem.kind != kPtr {
				break
			}
		}
		maxRate = max(maxRate, r)
	}
	for _, p := range all {
		p.rate = satAdd(satMul(2, maxRate), 8)
	}
}

// allocSize rounds n up to what the Go allocator hands out for it: 16 bytes
// at least (the tiny allocator's block), a size class up to 32 KiB, whole
// 8 KiB pages above.
func allocSize(n uint64) uint64 {
	switch {
	case n == 0:
		return 0
	case n <= 16:
		return 16
	case n <= 32<<10:
		for _, c := range sizeClasses {
			if c >= n {
				return c
			}
		}
	case n > math.MaxUint64-8191:
		return math.MaxUint64
	}
	return (n + 8191) &^ 8191
}

// sizeClasses are the Go runtime's small object sizes above 16 bytes
// (runtime/sizeclasses.go).
var sizeClasses = [...]uint64{24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792,
	2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240,
	10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// mapCost is what make(map, n) (or reflect.MakeMapWithSize) allocates for a
// map whose slots are slot bytes, and then the first insert: the map
// header, and an 8-slot group for n <= 8, or a directory of tables sized
// for n (internal/runtime/maps.NewMap).
func mapCost(n, slot uint64) uint64 {
	const header = 48
	group := 8 + 8*slot
	if n <= 8 {
		if n == 0 {
			return header
		}
		return header + allocSize(group)
	}
	target := n * 8 / 7
	dir := pow2((target + 1023) / 1024)
	perTable := pow2(max(target/dir, 8))
	return header + allocSize(8*dir) + dir*(allocSize(48)+allocSize(perTable/8*group))
}

// mapGrowth bounds, per inserted entry and slot byte, what a map's growth
// allocates: a map msgpack merges into (a repeated key) grows from where it
// was, and a map with more than 10^6 entries from msgpack's size hint;
// tables double, so all growth costs at most ~2.3 slots per entry twice.
const mapGrowth = 5

func pow2(n uint64) uint64 {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len64(n-1)
}

// coster walks a payload checkMsgpack accepted the way msgpack would
// decode it into a plan, adding up what msgpack allocates.
type coster struct {
	b      []byte
	cost   uint64
	maxBuf uint64 // longest string, binary or ext payload read into msgpack's scratch buffer

	copyKeys bool // struct keys are strings msgpack copies
}

// decodeCost returns an upper bound on what vmihailenco/msgpack allocates
// to decode b (which checkMsgpack accepted and widenTimes left alone) into
// p, v pointing to a zero value.
func decodeCost(b []byte, p *plan) uint64 {
	c := coster{b: b, copyKeys: p.hasIntern}
	c.value(p, 0)
	// readNGrow grows the scratch buffer by appending, so up to ~5x what it
	// finally holds, plus the chunk it appends.
	return satAdd(c.cost, 6*c.maxBuf+decodeBase)
}

func (c *coster) add(n uint64) { c.cost = satAdd(c.cost, n) }

// satMul and satAdd saturate instead of wrapping: a destination type may
// hold arrays of gigabytes, and a count may be in the billions.
func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

func satAdd(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return math.MaxUint64
	}
	return s
}

func (c *coster) buf(n uint64) { c.maxBuf = max(c.maxBuf, n) }

// head reads the code at i and, for strings, binaries, arrays and maps, the
// declared length: it returns the offset after the code and length field,
// and the length (-1 for nil).
func (c *coster) head(i int) (code byte, next int, n uint64) {
	b := c.b
	code = b[i]
	switch {
	case code <= 0x7f || code >= 0xe0:
		return code, i + 1, 0
	case code <= 0x8f:
		return code, i + 1, uint64(code & 0x0f)
	case code <= 0x9f:
		return code, i + 1, uint64(code & 0x0f)
	case code <= 0xbf:
		return code, i + 1, uint64(code & 0x1f)
	}
	switch code {
	case 0xc4, 0xd9:
		return code, i + 2, uint64(b[i+1])
	case 0xc5, 0xda, 0xdc, 0xde:
		return code, i + 3, uint64(binary.BigEndian.Uint16(b[i+1:]))
	case 0xc6, 0xdb, 0xdd, 0xdf:
		return code, i + 5, uint64(binary.BigEndian.Uint32(b[i+1:]))
	}
	return code, i + 1, 0
}

func isStr(code byte) bool {
	return code&0xe0 == 0xa0 || code == 0xd9 || code == 0xda || code == 0xdb ||
		code == 0xc4 || code == 0xc5 || code == 0xc6
}

func isArray(code byte) bool { return code&0xf0 == 0x90 || code == 0xdc || code == 0xdd }

func isMap(code byte) bool { return code&0xf0 == 0x80 || code == 0xde || code == 0xdf }

func isExt(code byte) bool {
	return code == 0xc7 || code == 0xc8 || code == 0xc9 || (code >= 0xd4 && code <= 0xd8)
}

// skip steps over the value at i as msgpack's Skip does, noting what it
// reads into the scratch buffer.
func (c *coster) skip(i int) int {
	code, next, n := c.head(i)
	switch {
	case isStr(code):
		c.buf(n)
		return next + int(n)
	case isArray(code):
		for range n {
			next = c.skip(next)
		}
		return next
	case isMap(code):
		for range 2 * n {
			next = c.skip(next)
		}
		return next
	case isExt(code):
		hdr, m, _ := extHeader(c.b, i)
		c.buf(m + 1)
		return i + hdr + int(m)
	}
	switch code {
	case 0xcc, 0xd0:
		return i + 2
	case 0xcd, 0xd1:
		c.buf(2)
		return i + 3
	case 0xca, 0xce, 0xd2:
		c.buf(4)
		return i + 5
	case 0xcb, 0xcf, 0xd3:
		c.buf(8)
		return i + 9
	}
	return i + 1 // fixint, nil, bools
}

// str charges a string msgpack copies out of the input: string(b) makes no
// allocation for 0 or 1 byte.
func (c *coster) str(n uint64) {
	c.buf(n)
	if n > 1 {
		c.add(allocSize(n))
	}
}

// value charges what decoding the value at i into p allocates and returns
// the offset after it. Where msgpack would fail, it charges nothing more
// for the value and goes on as if msgpack had skipped it, which only
// overestimates.
func (c *coster) value(p *plan, i int) int {
	code, next, n := c.head(i)
	switch p.kind {
	case kString:
		if isStr(code) {
			c.str(n)
			if p.intern {
				c.add(32)
			}
			return next + int(n)
		}
	case kBytes:
		if isStr(code) {
			c.add(3 * allocSize(n)) // twice more into a []byte a repeated key filled
			return next + int(n)
		}
	case kTimeTop:
		if isStr(code) {
			c.str(n)
			// time.Parse may build a zone, or an error holding two
			// copies of the input.
			c.add(512 + 2*allocSize(n))
			return next + int(n)
		}
	case kStrings:
		if isArray(code) {
			c.add(3 * allocSize(16*min(n, 1e6)))
			if n > 1e6 {
				c.add(5 * allocSize(16*n))
			}
			for range n {
				next = c.value(stringPlan, next)
			}
			return next
		}
	case kSlice:
		if isArray(code) {
			// Made, then appended to a nil slice: twice. Into a slice a
			// repeated key filled, up to three times.
			c.add(satMul(3, allocSize(satMul(n, p.size))))
			for range n {
				next = c.value(p.elem, next)
			}
			return next
		}
	case kArray:
		if isArray(code) && n <= uint64(p.alen) {
			for range n {
				next = c.value(p.elem, next)
			}
			return next
		}
	case kMap, kMapSS, kMapSA:
		return c.mapValue(p, i)
	case kStruct:
		return c.structValue(p, i)
	case kPtr:
		if code == 0xc0 {
			return i + 1
		}
		c.add(p.size)
		return c.value(p.elem, i)
	case kIface:
		return c.iface(p, i)
	case kCustom:
		if code == 0xc0 {
			return i + 1
		}
		c.add(p.size)
		end := c.skip(i)
		switch p.custom {
		case customBytes:
			if isStr(code) {
				c.add(allocSize(n))
			}
		default: // DecodeRaw or the Unmarshaler's record: appended byte by byte
			c.add(6*uint64(end-i) + 64)
		}
		return end
	}
	return c.skip(i)
}

// mapValue charges a map destination. DecodeMapLen steps over an ext
// header in front of the map; checkMsgpack made sure that ext's payload is
// then exactly the map.
func (c *coster) mapValue(p *plan, i int) int {
	code := c.b[i]
	if isExt(code) {
		hdr, m, _ := extHeader(c.b, i)
		if m == 0 || !opensMap(c.b[i+hdr]) {
			return i + hdr + int(m) // DecodeMapLen fails
		}
		c.value(p, i+hdr)
		return i + hdr + int(m)
	}
	if !isMap(code) {
		return c.skip(i)
	}
	_, next, n := c.head(i)
	switch p.kind {
	case kMapSS:
		c.add(mapCost(min(n, 1e6), p.slot) + n*mapGrowth*(p.slot+1))
		for range 2 * n {
			next = c.value(stringPlan, next)
		}
	case kMapSA:
		c.add(mapCost(n, p.slot))
		for range n {
			next = c.value(stringPlan, next)
			next = c.iface(ifacePlan, next)
		}
	default:
		c.add(mapCost(min(n, 1e6), p.slot) + n*mapGrowth*(p.slot+1))
		for range n {
			c.add(satAdd(p.ksize, p.vsize))
			if p.ksize > 128 {
				c.add(p.ksize)
			}
			if p.vsize > 128 {
				c.add(p.vsize)
			}
			next = c.value(p.key, next)
			next = c.value(p.elem, next)
		}
	}
	return next
}

// structValue charges a struct destination: a map of field names, or an
// array of all fields in order.
func (c *coster) structValue(p *plan, i int) int {
	code, next, n := c.head(i)
	if code == 0xc0 || (isArray(code) && n == 0) {
		c.add(p.size) // set to reflect.Zero
		if code != 0xc0 {
			c.add(32)
		}
		return next
	}
	switch {
	case isMap(code):
		for range n {
			kc, kn, kl := c.head(next)
			var f *planField
			switch {
			case isStr(kc):
				c.buf(kl)
				if c.copyKeys {
					c.str(kl)
				}
				f = p.fields[string(c.b[kn:kn+int(kl)])]
				next = kn + int(kl)
			case kc == 0xc0:
				f = p.fields[""]
				next = kn
			case c.copyKeys && isExt(kc):
				// Once msgpack's dict holds strings it takes an ext as the
				// index of a key: the field is unknown here, so charge the
				// value at the rate any field could cost.
				next = c.skip(next)
				end := c.skip(next)
				c.add(satMul(p.rate, uint64(end-next)))
				next = end
				continue
			default:
				next = c.skip(next) // msgpack fails on the key
				next = c.skip(next)
				continue
			}
			if f == nil {
				next = c.skip(next)
				continue
			}
			c.add(f.embed)
			next = c.value(f.plan, next)
		}
		return next
	case isArray(code) && n == uint64(len(p.list)):
		c.add(32) // the error mapLen returned before msgpack tried an array
		for _, f := range p.list {
			c.add(f.embed)
			next = c.value(f.plan, next)
		}
		return next
	}
	return c.skip(i)
}

// iface charges DecodeInterface.
func (c *coster) iface(p *plan, i int) int {
	code, next, n := c.head(i)
	switch {
	case isStr(code) && code != 0xc4 && code != 0xc5 && code != 0xc6:
		c.str(n)
		if n > 0 {
			c.add(16) // boxing
		}
		if p.errorIface || p.intern {
			c.add(32)
		}
		return next + int(n)
	case isStr(code): // bin
		c.add(allocSize(n) + 24)
		return next + int(n)
	case isArray(code):
		// Into an interface a repeated key filled, msgpack grows the old
		// slice (and then panics): up to three times.
		c.add(3*allocSize(16*n) + 24)
		for range n {
			next = c.iface(ifacePlan, next)
		}
		return next
	case isMap(code):
		c.add(mapCost(n, 32))
		for range n {
			next = c.value(stringPlan, next)
			next = c.iface(ifacePlan, next)
		}
		return next
	case isExt(code):
		hdr, m, _ := extHeader(c.b, i)
		c.buf(m)
		c.add(64 + allocSize(m))
		return i + hdr + int(m)
	}
	switch code {
	case 0xca, 0xcb, 0xcd, 0xce, 0xcf, 0xd1, 0xd2, 0xd3:
		c.add(16) // a boxed number
	}
	return c.skip(i)
}
