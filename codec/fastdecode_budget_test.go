package codec

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// A container claim in a crafted input, written as a 4-byte length
// (0xdd array or 0xdf map) that claimInput fills in once the input's size
// is known.
type claimStep struct {
	before []byte // bytes up to the 0xdd or 0xdf code, which is included
	after  []byte // bytes after the 4-byte length, before the next step
	isMap  bool
	any    bool // read by DecodeInterface: the claim leaves room for the values still pending
}

// claimInput writes {field: ext(1, payload)} with payload
// {"k": step₁ step₂ … padding}: a map destination reads the ext's payload,
// which checkMsgpack skips as opaque bytes, as a map (see decodeMapLen).
// Each step claims as many elements as the bytes after it could hold on
// their own: the bytes that remain for an array (every element takes a
// byte), half of them for a map (a key and a value), less, for a claim read
// by DecodeInterface, the values its enclosing interface containers still
// expect. So every claim passes the checks against the remaining bytes,
// and only a budget for the whole call refuses their sum. It returns the
// input and the elements claimed in total (a map's keys and values both
// count).
func claimInput(field byte, steps []claimStep, padding int) ([]byte, int) {
	payload := []byte{0x81, 0xa1, 'k'}
	var at []int
	for _, s := range steps {
		payload = append(payload, s.before...)
		at = append(at, len(payload))
		payload = append(payload, 0, 0, 0, 0)
		payload = append(payload, s.after...)
	}
	for range padding {
		payload = append(payload, 0xc0)
	}
	pending, total := 0, 0
	for k, s := range steps {
		rest := len(payload) - at[k] - 4
		if s.any {
			rest -= pending
		}
		n := max(rest, 0)
		if s.isMap {
			n /= 2
		}
		claimed := n
		if s.isMap {
			claimed *= 2
		}
		total += claimed
		if s.any && claimed > 0 {
			pending += claimed - 1
		}
		binary.BigEndian.PutUint32(payload[at[k]:], uint32(n))
	}
	head := []byte{0x81, 0xa1, field, 0xc9}
	head = binary.BigEndian.AppendUint32(head, uint32(len(payload)))
	head = append(head, 0x01)
	return append(head, payload...), total
}

var (
	kidsStep = claimStep{before: []byte{0x81, 0xa4, 'K', 'i', 'd', 's', 0xdd}}                         // {"Kids": [claim…
	mStep    = claimStep{before: []byte{0x81, 0xa1, 'M', 0xdf}, after: []byte{0xa1, 'k'}, isMap: true} // {"M": {claim… "k":
	asStep   = claimStep{before: []byte{0x81, 0xa2, 'A', 'S', 0xdd}}                                   // {"AS": [claim…
	aStep    = claimStep{before: []byte{0x81, 0xa1, 'A', 0xdd}, after: []byte{0x81, 0xa1, 'k'}}        // {"A": [claim… {"k":
	arrAny   = claimStep{before: []byte{0xdd}, any: true}                                              // [claim…
	mapAny   = claimStep{before: []byte{0xdf}, after: []byte{0xa1, 'k'}, isMap: true, any: true}       // {claim… "k":
)

// fdAnyNode recurses through a slice and a map of itself, and holds
// []map[string]any and []any, whose elements DecodeInterface decodes.
type fdAnyNode struct {
	Kids []fdAnyNode
	A    []map[string]any
	AS   []any
	M    map[string]*fdAnyNode
}

func repeat(steps []claimStep, n int) []claimStep {
	var out []claimStep
	for range n {
		out = append(out, steps...)
	}
	return out
}

func TestFastDecodeBudgetsClaimsForTheWholeCall(t *testing.T) {
	// Without the budget, the recursive inputs make the fast decoder
	// allocate tens of MB (quadratic in size); keep size small so that a
	// regression fails the test instead of exhausting memory.
	const size = 4 << 10
	node := func() any { return new(fdNode) }
	anyNode := func() any { return new(fdAnyNode) }
	tests := []struct {
		name     string
		steps    []claimStep
		into     func() any
		atLeast  int     // the claims add up to at least this many times the input's length
		elemSize uintptr // the largest element a claim allocates
	}{
		{"a struct holding a slice of itself, each level claiming every remaining byte",
			repeat([]claimStep{kidsStep}, size/11), node, 10, unsafe.Sizeof(fdNode{})},
		{"a struct holding a map of pointers to itself, each level claiming half the remaining bytes",
			repeat([]claimStep{mStep}, size/9), node, 10, unsafe.Sizeof(fdNode{})},
		{"slices and maps of a recursive struct in turn",
			repeat([]claimStep{kidsStep, mStep}, size/20), node, 10, unsafe.Sizeof(fdNode{})},
		{"a recursive struct's levels, then []map[string]any holding []any",
			append(repeat([]claimStep{kidsStep}, size/11), aStep, arrAny), anyNode, 10, unsafe.Sizeof(fdAnyNode{})},
		{"[]any in the []any of a struct",
			[]claimStep{asStep, arrAny}, anyNode, 1, unsafe.Sizeof(fdAnyNode{})},
		{"map[string]any in the []any of a struct",
			[]claimStep{asStep, mapAny}, anyNode, 1, unsafe.Sizeof(fdAnyNode{})},
		{"[]any in a map[string]any in the []map[string]any of a struct",
			[]claimStep{aStep, arrAny}, anyNode, 1, unsafe.Sizeof(fdAnyNode{})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, claimed := claimInput('M', tt.steps, 64)
			require.NoError(t, checkMsgpack(data), "the input must pass the well-formedness check")
			require.Greater(t, claimed, tt.atLeast*len(data), "the claims must add up to more than the input holds")
			pl, _ := planFor(tt.into())
			require.NotNil(t, pl, "the type must take the fast path")

			var err error
			allocated := allocatedBy(func() { err = Msgpack().Unmarshal(data, tt.into()) })
			require.Error(t, err)
			t.Logf("%d-byte input claiming %d elements: %d bytes allocated", len(data), claimed, allocated)
			bound := uint64(tt.elemSize)*uint64(len(data)) + 64<<10
			require.Less(t, allocated, bound, "bytes allocated for a %d-byte input", len(data))
			require.ErrorIs(t, err, errOverclaim, "the budget, not a later check, must stop it")

			// msgpack fails on it too (after allocating every claim).
			require.Error(t, decodeMsgpack(data, tt.into()))
		})
	}
}

func TestFastDecodeBudgetAdmitsInputsThatUseEveryByte(t *testing.T) {
	// One byte per claimed element, the tightest a well-formed input gets:
	// [nil, nil, …], {"": nil, …} and nested singletons.
	nils := func(n int) raw {
		out := make(raw, n)
		for k := range out {
			out[k] = 0xc0
		}
		return out
	}
	var pairs raw
	for range 300 {
		pairs = append(pairs, 0xa0, 0xc0)
	}
	nested := enc(t, raw{0x81, 0xa4, 'K', 'i', 'd', 's'}, arrHdr(1), raw{0x81, 0xa4, 'K', 'i', 'd', 's'}, arrHdr(3), raw{0x80, 0x80, 0x80})
	tests := []struct {
		name string
		data []byte
		into func() any
	}{
		{"an array of nils into []any", enc(t, arrHdr(600), nils(600)), func() any { return new([]any) }},
		{"an array of nils into []*fdNode", enc(t, arrHdr(600), nils(600)), func() any { return new([]*fdNode) }},
		{"an array of nils into []string", enc(t, arrHdr(600), nils(600)), func() any { return new([]string) }},
		{"a map of empty keys to nils into map[string]any", enc(t, mapHdr(300), pairs), func() any { return new(map[string]any) }},
		{"a map of empty keys to nils into map[string]*fdNode", enc(t, mapHdr(300), pairs), func() any { return new(map[string]*fdNode) }},
		{"a map of empty keys to nils into map[string]string", enc(t, mapHdr(300), pairs), func() any { return new(map[string]string) }},
		{"nested kids into fdNode", nested, func() any { return new(fdNode) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, checkMsgpack(tt.data))
			require.NoError(t, Msgpack().Unmarshal(tt.data, tt.into()))
			decodeBoth(t, tt.data, tt.into(), tt.into())
		})
	}
}
