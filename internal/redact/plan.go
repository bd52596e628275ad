package redact

import (
	"reflect"
	"strings"
)

// kind is what the walker does with a value of a planned type.
type kind uint8

const (
	kSkip   kind = iota // cannot hold anything to redact: left as is
	kStruct             // visit fields
	kPtr
	kSlice
	kArray
	kMap
	kIface // plan the dynamic type at run time
)

// keyKind says how map keys are checked.
type keyKind uint8

const (
	keyNone   keyKind = iota // keys are not names (ints, structs, ...)
	keyString                // string kind: check every key
	keyIface                 // interface: check keys whose dynamic kind is string
)

// plan is the cached, read-only recipe for one reflect.Type under one Filter.
type plan struct {
	kind   kind
	typ    reflect.Type
	elem   *plan // kPtr, kSlice, kArray, kMap values
	keys   keyKind
	vals   class       // kMap: the class of the values, for entries under sensitive keys
	fields []fieldPlan // kStruct: only the fields that matter
	// roEmbed is set when a field is an embedded field of an unexported type,
	// which reflect refuses to Set; the walker writes it through an unsafe
	// view of its own copy.
	roEmbed bool
	// cyclic is set when a value of this type may contain a reference cycle:
	// the type is recursive through pointers, maps or slices, or reaches an
	// interface. Such values are walked with cycle tracking.
	cyclic bool
}

type fieldPlan struct {
	index int
	name  string // Go name, for the Tally
	act   action // aRedact, aDyn (decided per value, with flags) or aWalk
	flags flags  // aDyn: the flags of the field's name
	force bool   // aside:"redact": redact even a bool
	ro    bool   // embedded field of an unexported type
	sub   *plan  // unless aRedact: the field's plan, never kSkip after pruning
}

// class is what kind of secret a type can hold, for a value under a
// sensitive name.
type class uint8

const (
	cKeep class = iota // bool, func, chan: never a secret (unless forced)
	cText              // string, []byte, and pointers, slices and arrays of them
	cNum               // numbers and json.Number, and pointers, slices and arrays of them
	cComp              // structs and maps, and pointers, slices and arrays of them
	cDyn               // interfaces, and pointers, slices and arrays of them: decided per value
)

// classOf returns the class of t. Pointers, slices and arrays take the class
// of what they hold, except that []byte and [N]byte are text.
func classOf(t reflect.Type) class {
	for range 64 { // a bound for recursive types such as type P *P
		switch t.Kind() {
		case reflect.String:
			if t == jsonNumberType {
				return cNum
			}
			return cText
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
			reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
			return cNum
		case reflect.Struct, reflect.Map:
			return cComp
		case reflect.Interface:
			return cDyn
		case reflect.Pointer:
			t = t.Elem()
		case reflect.Slice, reflect.Array:
			if t.Elem().Kind() == reflect.Uint8 {
				return cText
			}
			t = t.Elem()
		default:
			return cKeep
		}
	}
	return cComp
}

// action is what happens to a value under a sensitive name.
type action uint8

const (
	aWalk   action = iota // filter it like any other value
	aRedact               // drop or mask it whole
	aKeep                 // leave it: nothing in it can be a secret
	aDyn                  // decide per value (interfaces)
)

// decide applies a name's flags to a class: text is always redacted,
// numbers only under numeric names, structs and maps whole unless the name
// says to walk them, booleans never.
func decide(c class, fl flags) action {
	switch c {
	case cText:
		return aRedact
	case cNum:
		if fl&numeric != 0 {
			return aRedact
		}
	case cComp:
		if fl&walk != 0 {
			return aWalk
		}
		return aRedact
	case cDyn:
		return aDyn
	}
	return aKeep
}

// planFor returns the plan for t, building and caching it on first use.
func (f *Filter) planFor(t reflect.Type) *plan {
	if p, ok := f.plans.Load(t); ok {
		return p.(*plan)
	}
	b := builder{f: f, nodes: make(map[reflect.Type]*plan)}
	b.node(t)
	b.resolve()
	for _, p := range b.order {
		f.plans.LoadOrStore(p.typ, p)
	}
	p, _ := f.plans.Load(t)
	return p.(*plan)
}

// builder plans a type graph, which may be recursive, in two steps: node
// creates one node per type reachable from the root, and resolve decides
// which nodes can hold something to redact (a fixed point, because of
// recursion) and prunes the rest to kSkip.
type builder struct {
	f     *Filter
	nodes map[reflect.Type]*plan
	order []*plan // nodes created by this builder
	live  []bool  // by position in order
	index map[*plan]int
}

func (b *builder) node(t reflect.Type) *plan {
	if p, ok := b.nodes[t]; ok {
		return p
	}
	if p, ok := b.f.plans.Load(t); ok { // already resolved by an earlier build
		b.nodes[t] = p.(*plan)
		return p.(*plan)
	}
	p := &plan{typ: t}
	b.nodes[t] = p
	b.order = append(b.order, p)
	switch t.Kind() {
	case reflect.Struct:
		p.kind = kStruct
		for i := range t.NumField() {
			if fp, ok := b.field(t.Field(i)); ok {
				fp.index, fp.name = i, t.Field(i).Name
				p.fields = append(p.fields, fp)
			}
		}
	case reflect.Pointer:
		p.kind = kPtr
		p.elem = b.node(t.Elem())
	case reflect.Slice:
		p.kind = kSlice
		p.elem = b.node(t.Elem())
	case reflect.Array:
		p.kind = kArray
		p.elem = b.node(t.Elem())
	case reflect.Map:
		p.kind = kMap
		p.vals = classOf(t.Elem())
		switch t.Key().Kind() {
		case reflect.String:
			p.keys = keyString
		case reflect.Interface:
			p.keys = keyIface
		}
		p.elem = b.node(t.Elem())
	case reflect.Interface:
		p.kind = kIface
	default:
		p.kind = kSkip
	}
	return p
}

// field plans one struct field. Unexported fields are left alone: msgpack and
// encoding/json do not serialise them, so they cannot reach the store. Embedded
// fields are visited even when their type is unexported, because both codecs
// serialise an embedded type's exported fields.
func (b *builder) field(sf reflect.StructField) (fieldPlan, bool) {
	if !sf.IsExported() && !sf.Anonymous {
		return fieldPlan{}, false
	}
	fp := fieldPlan{ro: !sf.IsExported()}
	force, keep := parseTag(sf.Tag.Get("aside"))
	switch {
	case force:
		fp.act, fp.force = aRedact, true
	case !keep:
		if fl, ok := b.sensitiveField(sf); ok {
			fp.act, fp.flags = decide(classOf(sf.Type), fl), fl
			if fp.act == aKeep {
				fp.act = aWalk // a number or bool under a name for non-numeric secrets: data
			}
		}
	}
	if fp.act != aRedact {
		fp.sub = b.node(sf.Type)
	}
	return fp, true
}

// sensitiveField checks the names a field is known by: its Go name and its
// json and msgpack tag names; the first sensitive one gives the flags. An
// embedded struct without a tag name is flattened into its parent by both
// codecs, so its type name is not checked.
func (b *builder) sensitiveField(sf reflect.StructField) (flags, bool) {
	if !sf.Anonymous || !flattened(sf.Type) {
		if fl, ok := b.f.lookup(sf.Name); ok {
			return fl, true
		}
	}
	for _, tag := range [...]string{"json", "msgpack"} {
		if name := tagName(sf.Tag.Get(tag)); name != "" {
			if fl, ok := b.f.lookup(name); ok {
				return fl, true
			}
		}
	}
	return 0, false
}

func flattened(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() == reflect.Struct
}

// parseTag reads an `aside:"..."` tag: a comma-separated list in which
// "redact" forces redaction and "keep" forbids it. Other words are ignored,
// so that the tag can carry other options later.
func parseTag(tag string) (force, keep bool) {
	for tag != "" {
		var word string
		word, tag, _ = strings.Cut(tag, ",")
		switch strings.TrimSpace(word) {
		case "redact":
			force = true
		case "keep":
			keep = true
		}
	}
	return force, keep && !force
}

func tagName(tag string) string {
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

// resolve computes which new nodes are live (may hold something to redact),
// turns the others into kSkip, prunes struct fields that cannot matter, and
// marks cyclic nodes.
func (b *builder) resolve() {
	b.live = make([]bool, len(b.order))
	b.index = make(map[*plan]int, len(b.order))
	for i, p := range b.order {
		b.index[p] = i
	}
	for changed := true; changed; {
		changed = false
		for i, p := range b.order {
			if !b.live[i] && b.computeLive(p) {
				b.live[i] = true
				changed = true
			}
		}
	}
	for i, p := range b.order {
		if !b.live[i] {
			*p = plan{kind: kSkip, typ: p.typ}
			continue
		}
		if p.kind == kStruct {
			kept := p.fields[:0]
			for _, fp := range p.fields {
				if fp.act != aWalk || b.isLive(fp.sub) {
					kept = append(kept, fp)
					p.roEmbed = p.roEmbed || fp.ro
				}
			}
			p.fields = kept
		}
	}
	for _, p := range b.order {
		if p.kind != kSkip {
			p.cyclic = b.reachesCycle(p, map[*plan]uint8{})
		}
	}
}

func (b *builder) isLive(p *plan) bool {
	if i, ok := b.index[p]; ok {
		return b.live[i]
	}
	return p.kind != kSkip // resolved by an earlier build
}

func (b *builder) computeLive(p *plan) bool {
	switch p.kind {
	case kIface:
		return true
	case kMap:
		return (p.keys != keyNone && p.vals != cKeep) || b.isLive(p.elem)
	case kPtr, kSlice, kArray:
		return b.isLive(p.elem)
	case kStruct:
		for _, fp := range p.fields {
			if fp.act != aWalk || b.isLive(fp.sub) {
				return true
			}
		}
	}
	return false
}

// reachesCycle reports whether a value of p's type may contain a cycle: p
// reaches an interface, a node already known to be cyclic, or itself.
// state: 1 = on the current path, 2 = finished without finding one.
func (b *builder) reachesCycle(p *plan, state map[*plan]uint8) bool {
	if _, mine := b.index[p]; !mine {
		return p.cyclic
	}
	switch state[p] {
	case 1:
		return true
	case 2:
		return false
	}
	if p.kind == kIface {
		return true
	}
	state[p] = 1
	var children []*plan
	if p.elem != nil {
		children = append(children, p.elem)
	}
	for _, fp := range p.fields {
		if fp.sub != nil {
			children = append(children, fp.sub)
		}
	}
	for _, c := range children {
		if c.kind != kSkip && b.reachesCycle(c, state) {
			return true
		}
	}
	state[p] = 2
	return false
}
