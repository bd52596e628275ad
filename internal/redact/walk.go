package redact

import (
	"encoding/json"
	"log/slog"
	"reflect"
	"unsafe"
)

// The dry pass starts remembering visited pointers, maps and slices only once
// it is cycleDepth levels deep (as encoding/json does) or has entered
// visitBudget of them, so that ordinary values are checked without
// allocating. The budget matters: a cycle reachable along two paths at every
// level would otherwise be walked 2^cycleDepth times before the depth limit.
const (
	cycleDepth  = 100
	visitBudget = 1000
)

var jsonNumberType = reflect.TypeFor[json.Number]()

// run redacts v, of p's type. A value that cannot contain a cycle is rewritten
// in one copy-on-write pass. A value that may (p.cyclic) is first checked by a
// dry pass that stops at the first change and allocates nothing for ordinary
// data; only if it finds something is the value rewritten, with every pointer,
// map and slice remembered so that shared parts stay shared and cycles are
// reproduced instead of followed forever.
func (f *Filter) run(v reflect.Value, p *plan, t *Tally, log *slog.Logger) (reflect.Value, bool) {
	w := walker{f: f}
	if p.cyclic {
		dry := walker{f: f, dry: true}
		var dirty bool
		if v.CanInterface() && (p.typ == mapStringAnyType || p.typ == sliceAnyType) {
			dirty = dry.dryAny(v.Interface())
		} else {
			_, dirty = dry.walk(v, p)
		}
		if !dirty {
			return v, false
		}
		w.track = true
	}
	w.tally, w.log = t, debugLogger(t, log)
	out, changed := w.walk(v, p)
	if t != nil && w.n > 0 {
		t.n.Add(w.n)
	}
	return out, changed
}

// walker is one pass over one value. Its methods return the value to use in
// place of v and whether it differs; an unchanged v is returned as is.
//
// Invariant: no value handed to walk is read-only (none comes through an
// unexported field), so each can be copied with Set and iterated. Embedded
// fields of unexported types, the only unexported fields walked, are reached
// through view.
type walker struct {
	f      *Filter
	dry    bool // only report whether anything would change
	track  bool // remember every reference node (rewrite of a cyclic value)
	depth  int
	visits int
	memo   map[memoKey]*memoEntry
	n      int64        // values redacted, for the Tally
	tally  *Tally       // may be nil
	log    *slog.Logger // nil unless logging redacted fields at debug level
}

// redacted counts one redacted value (never in a dry pass) and logs where
// it was, the first time.
func (w *walker) redacted(typ reflect.Type, name string) {
	w.n++
	if w.log != nil {
		w.tally.note(w.log, typ, name)
	}
}

type memoKey struct {
	ptr unsafe.Pointer
	typ reflect.Type
	n   int // slice length: two slices of one array differ by length
}

type memoEntry struct {
	done    bool
	changed bool
	out     reflect.Value // when done && changed
	// ph is a placeholder handed out for a back edge (a cycle) while the node
	// was still being walked; the node's result is written into it.
	ph reflect.Value
}

func (w *walker) walk(v reflect.Value, p *plan) (reflect.Value, bool) {
	switch p.kind {
	case kStruct:
		return w.strct(v, p)
	case kPtr:
		return w.ptr(v, p)
	case kSlice:
		return w.slice(v, p)
	case kArray:
		return w.array(v, p)
	case kMap:
		return w.mapv(v, p)
	case kIface:
		return w.iface(v, p)
	}
	return v, false
}

// enter starts a reference node. It returns the node's memo entry (nil when
// not tracked) and whether this is the first visit.
func (w *walker) enter(ptr unsafe.Pointer, t reflect.Type, n int) (*memoEntry, bool) {
	w.depth++
	w.visits++
	if !w.track && (!w.dry || (w.depth <= cycleDepth && w.visits <= visitBudget)) {
		return nil, true
	}
	k := memoKey{ptr: ptr, typ: t, n: n}
	if e, ok := w.memo[k]; ok {
		return e, false
	}
	if w.memo == nil {
		w.memo = make(map[memoKey]*memoEntry)
	}
	e := &memoEntry{}
	w.memo[k] = e
	return e, true
}

// revisit answers a node seen before: its result when finished, and on a back
// edge either "no change" (dry: the first visit will report) or a placeholder
// that the first visit fills in.
func (w *walker) revisit(e *memoEntry, v reflect.Value, placeholder func() reflect.Value) (reflect.Value, bool) {
	w.depth--
	switch {
	case e.done && e.changed:
		return e.out, true
	case e.done || w.dry:
		return v, false
	}
	if !e.ph.IsValid() {
		e.ph = placeholder()
	}
	return e.ph, true
}

func (w *walker) leave(e *memoEntry, out reflect.Value, changed bool) {
	w.depth--
	if e != nil {
		e.done, e.changed = true, changed
		if changed {
			e.out = out
		}
	}
}

func (w *walker) ptr(v reflect.Value, p *plan) (reflect.Value, bool) {
	if v.IsNil() {
		return v, false
	}
	e, first := w.enter(v.UnsafePointer(), p.typ, 0)
	if !first {
		return w.revisit(e, v, func() reflect.Value { return newPtr(p.typ) })
	}
	nv, changed := w.walk(v.Elem(), p.elem)
	out := v
	switch {
	case w.dry:
	case e != nil && e.ph.IsValid():
		if !changed {
			nv = v.Elem()
		}
		e.ph.Elem().Set(nv)
		out, changed = e.ph, true
	case changed:
		out = newPtr(p.typ)
		out.Elem().Set(nv)
	}
	w.leave(e, out, changed)
	return out, changed
}

// newPtr allocates a zero value for a pointer type t, keeping t's name if it
// has one.
func newPtr(t reflect.Type) reflect.Value {
	np := reflect.New(t.Elem())
	if np.Type() != t {
		np = np.Convert(t)
	}
	return np
}

func (w *walker) slice(v reflect.Value, p *plan) (reflect.Value, bool) {
	n := v.Len()
	if n == 0 {
		return v, false
	}
	e, first := w.enter(v.UnsafePointer(), p.typ, n)
	if !first {
		return w.revisit(e, v, func() reflect.Value { return reflect.MakeSlice(p.typ, n, n) })
	}
	var out reflect.Value
	for i := range n {
		nv, changed := w.walk(v.Index(i), p.elem)
		if !changed {
			continue
		}
		if w.dry {
			w.leave(e, v, true)
			return v, true
		}
		if !out.IsValid() {
			out = reflect.MakeSlice(p.typ, n, n)
			reflect.Copy(out, v)
		}
		out.Index(i).Set(nv)
	}
	if e != nil && e.ph.IsValid() {
		if out.IsValid() {
			reflect.Copy(e.ph, out)
		} else {
			reflect.Copy(e.ph, v)
		}
		out = e.ph
	}
	changed := out.IsValid()
	if !changed {
		out = v
	}
	w.leave(e, out, changed)
	return out, changed
}

func (w *walker) array(v reflect.Value, p *plan) (reflect.Value, bool) {
	var out reflect.Value
	for i := range v.Len() {
		nv, changed := w.walk(v.Index(i), p.elem)
		if !changed {
			continue
		}
		if w.dry {
			return v, true
		}
		if !out.IsValid() {
			out = reflect.New(p.typ).Elem()
			out.Set(v)
		}
		out.Index(i).Set(nv)
	}
	if !out.IsValid() {
		return v, false
	}
	return out, true
}

func (w *walker) mapv(v reflect.Value, p *plan) (reflect.Value, bool) {
	if v.Len() == 0 {
		return v, false
	}
	e, first := w.enter(v.UnsafePointer(), p.typ, 0)
	if !first {
		return w.revisit(e, v, func() reflect.Value { return reflect.MakeMap(p.typ) })
	}
	var out reflect.Value
	// Reusing k and val avoids an allocation per entry. Neither outlives its
	// iteration: results are only kept when changed, and then they are new.
	k := reflect.New(p.typ.Key()).Elem()
	val := reflect.New(p.typ.Elem()).Elem()
	var it reflect.MapIter
	it.Reset(v)
	for it.Next() {
		k.SetIterKey(&it)
		val.SetIterValue(&it)
		var nv reflect.Value
		var changed, del bool
		act := aWalk
		if p.keys != keyNone {
			if fl, ok := w.keyFlags(k, p.keys); ok {
				if act = decide(p.vals, fl); act == aDyn {
					act = valueAction(val, fl)
				}
			}
		}
		switch act {
		case aRedact:
			if nv, changed, del = w.leaf(val, false, true); changed && !w.dry {
				w.redacted(p.typ, keyName(k))
			}
		case aWalk:
			nv, changed = w.walk(val, p.elem)
		}
		if !changed {
			continue
		}
		if w.dry {
			w.leave(e, v, true)
			return v, true
		}
		if !out.IsValid() {
			out = cloneMap(v, reflect.MakeMapWithSize(p.typ, v.Len()))
		}
		if del {
			out.SetMapIndex(k, reflect.Value{})
		} else {
			out.SetMapIndex(k, nv)
		}
	}
	if e != nil && e.ph.IsValid() {
		if out.IsValid() {
			cloneMap(out, e.ph)
		} else {
			cloneMap(v, e.ph)
		}
		out = e.ph
	}
	changed := out.IsValid()
	if !changed {
		out = v
	}
	w.leave(e, out, changed)
	return out, changed
}

func cloneMap(src, dst reflect.Value) reflect.Value {
	it := src.MapRange()
	for it.Next() {
		dst.SetMapIndex(it.Key(), it.Value())
	}
	return dst
}

// keyFlags checks a map key as a name.
func (w *walker) keyFlags(k reflect.Value, kk keyKind) (flags, bool) {
	if kk == keyIface {
		if k.IsNil() {
			return 0, false
		}
		k = k.Elem()
		if k.Kind() != reflect.String {
			return 0, false
		}
	}
	return w.f.lookup(k.String())
}

// keyName is a sensitive map key as a string.
func keyName(k reflect.Value) string {
	if k.Kind() == reflect.Interface {
		k = k.Elem()
	}
	return k.String()
}

func (w *walker) iface(v reflect.Value, p *plan) (reflect.Value, bool) {
	if v.IsNil() {
		return v, false
	}
	if w.dry && v.CanInterface() {
		return v, w.dryAny(v.Interface()) // no allocation: v holds an interface
	}
	dyn := v.Elem()
	dp := w.f.planFor(dyn.Type())
	if dp.kind == kSkip {
		return v, false
	}
	nv, changed := w.walk(dyn, dp)
	if !changed || w.dry {
		return v, changed
	}
	out := reflect.New(p.typ).Elem()
	out.Set(nv)
	return out, true
}

func (w *walker) strct(v reflect.Value, p *plan) (reflect.Value, bool) {
	if p.roEmbed && !v.CanAddr() {
		// view needs an address; this copy is the price of embedding an
		// unexported type that holds something to redact.
		a := reflect.New(p.typ).Elem()
		a.Set(v)
		v = a
	}
	var out reflect.Value
	for i := range p.fields {
		fp := &p.fields[i]
		fv := v.Field(fp.index)
		if fp.ro {
			fv = view(fv)
		}
		act := fp.act
		if act == aDyn {
			act = valueAction(fv, fp.flags)
		}
		var nv reflect.Value
		var changed bool
		switch act {
		case aRedact:
			if nv, changed, _ = w.leaf(fv, fp.force, false); changed && !w.dry {
				w.redacted(p.typ, fp.name)
			}
		case aWalk:
			nv, changed = w.walk(fv, fp.sub)
		}
		if !changed {
			continue
		}
		if w.dry {
			return v, true
		}
		if !out.IsValid() {
			out = reflect.New(p.typ).Elem()
			out.Set(v)
		}
		of := out.Field(fp.index)
		if fp.ro {
			of = view(of)
		}
		of.Set(nv)
	}
	if !out.IsValid() {
		return v, false
	}
	return out, true
}

// view returns a settable, exportable alias of an addressable embedded field
// of an unexported type. It is only used to read such a field and to write
// the walker's own copies, never the caller's memory.
func view(fv reflect.Value) reflect.Value {
	return reflect.NewAt(fv.Type(), unsafe.Pointer(fv.UnsafeAddr())).Elem()
}

// leaf redacts the value of a sensitive field or map key, which decide or
// valueAction chose to redact. Values that cannot carry a secret are left
// alone: zero values (nil, "", 0, a zero struct), empty slices and booleans
// ("hasPassword": true), unless force is set, and in Mask mode a string that
// already is the replacement. In a map, Drop deletes the entry (del).
func (w *walker) leaf(v reflect.Value, force, inMap bool) (out reflect.Value, changed, del bool) {
	if v.IsZero() {
		return v, false, false
	}
	dyn := v
	if v.Kind() == reflect.Interface {
		dyn = v.Elem()
		if dyn.IsZero() {
			return v, false, false
		}
	}
	if dyn.Kind() == reflect.Slice && dyn.Len() == 0 {
		return v, false, false // an empty list holds no secret
	}
	if dyn.Kind() == reflect.Bool && !force {
		return v, false, false
	}
	if w.f.mode == Mask && dyn.Kind() == reflect.String && dyn.String() == w.f.replacement {
		return v, false, false // already masked
	}
	if w.dry {
		return v, true, false
	}
	t := v.Type()
	if w.f.mode == Drop {
		if inMap {
			return reflect.Value{}, true, true
		}
		return reflect.Zero(t), true, false
	}
	switch {
	case dyn.Kind() == reflect.String && dyn.Type() != jsonNumberType:
		s := reflect.New(dyn.Type()).Elem()
		s.SetString(w.f.replacement)
		if v.Kind() == reflect.Interface {
			i := reflect.New(t).Elem()
			i.Set(s)
			return i, true, false
		}
		return s, true, false
	case v.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.String && t.Elem() != jsonNumberType:
		np := newPtr(t)
		np.Elem().SetString(w.f.replacement)
		return np, true, false
	}
	return reflect.Zero(t), true, false
}

var (
	mapStringAnyType = reflect.TypeFor[map[string]any]()
	sliceAnyType     = reflect.TypeFor[[]any]()
)

// dryAny is the dry pass for a dynamic value. map[string]any and []any, the
// shapes of decoded JSON, are walked without reflection, which reflection
// cannot do without allocating; other types go through their plan.
func (w *walker) dryAny(x any) bool {
	switch x := x.(type) {
	case nil, string, bool, float64, json.Number:
		return false
	case map[string]any:
		if len(x) == 0 {
			return false
		}
		e, first := w.enter(reflect.ValueOf(x).UnsafePointer(), mapStringAnyType, 0)
		if !first {
			w.depth--
			return false // a back edge: the first visit reports
		}
		for k, v := range x {
			act := aWalk
			if fl, ok := w.f.lookup(k); ok {
				act = valueAction(reflect.ValueOf(v), fl)
			}
			var changed bool
			switch act {
			case aRedact:
				changed = w.leafChanges(v)
			case aWalk:
				changed = w.dryAny(v)
			}
			if changed {
				w.leave(e, reflect.Value{}, true)
				return true
			}
		}
		w.leave(e, reflect.Value{}, false)
		return false
	case []any:
		if len(x) == 0 {
			return false
		}
		e, first := w.enter(unsafe.Pointer(unsafe.SliceData(x)), sliceAnyType, len(x))
		if !first {
			w.depth--
			return false
		}
		for _, v := range x {
			if w.dryAny(v) {
				w.leave(e, reflect.Value{}, true)
				return true
			}
		}
		w.leave(e, reflect.Value{}, false)
		return false
	}
	rv := reflect.ValueOf(x)
	p := w.f.planFor(rv.Type())
	if p.kind == kSkip {
		return false
	}
	_, changed := w.walk(rv, p)
	return changed
}

// leafChanges is leaf's decision for a dynamic value, without reflect.Value
// allocations.
func (w *walker) leafChanges(x any) bool {
	switch x := x.(type) {
	case nil, bool:
		return false
	case string:
		return x != "" && (w.f.mode != Mask || x != w.f.replacement)
	}
	rv := reflect.ValueOf(x)
	if rv.IsZero() || rv.Kind() == reflect.Bool || (rv.Kind() == reflect.Slice && rv.Len() == 0) {
		return false
	}
	return w.f.mode != Mask || rv.Kind() != reflect.String || rv.String() != w.f.replacement
}

// maxDerefs bounds how many pointers and interfaces valueAction follows in a
// row; a longer chain (or a pointer cycle with nothing else in it) is
// redacted whole rather than guessed at.
const maxDerefs = 64

// valueAction decides, from the value itself, what happens to v under a
// sensitive name with flags fl, for types whose class is cDyn. A list of
// interfaces is redacted whole when any element would be (a list of secret
// strings), walked when an element is a struct or map to walk, and left
// alone when it only holds numbers, booleans and nils.
func valueAction(v reflect.Value, fl flags) action {
	c := classifier{fl: fl}
	return c.value(v, false)
}

// classifier is one valueAction. Nested lists of interfaces may be shared or
// contain themselves, so each is classified once (memo), which keeps the
// work linear in the number of distinct lists.
type classifier struct {
	fl   flags
	memo map[memoKey]action
}

func (c *classifier) value(v reflect.Value, nested bool) action {
	for range maxDerefs {
		switch v.Kind() {
		case reflect.Interface, reflect.Pointer:
			if v.IsNil() {
				return aKeep
			}
			if cl := classOf(v.Type()); cl != cDyn {
				return decide(cl, c.fl)
			}
			v = v.Elem()
		case reflect.Slice, reflect.Array:
			if cl := classOf(v.Type()); cl != cDyn {
				return decide(cl, c.fl)
			}
			if !nested || v.Kind() == reflect.Array {
				return c.elems(v)
			}
			k := memoKey{ptr: v.UnsafePointer(), typ: v.Type(), n: v.Len()}
			if a, ok := c.memo[k]; ok {
				return a
			}
			if c.memo == nil {
				c.memo = make(map[memoKey]action)
			}
			c.memo[k] = aKeep // while in progress: a cycle back here adds nothing
			a := c.elems(v)
			c.memo[k] = a
			return a
		case reflect.Invalid:
			return aKeep
		default:
			return decide(classOf(v.Type()), c.fl)
		}
	}
	return aRedact
}

func (c *classifier) elems(v reflect.Value) action {
	act := aKeep
	for i := range v.Len() {
		switch c.value(v.Index(i), true) {
		case aRedact:
			return aRedact
		case aWalk:
			act = aWalk
		}
	}
	return act
}
