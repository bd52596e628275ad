package redact

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Types shared by the tests and benchmarks.
type User struct {
	ID    int64
	Name  string
	Email string
	Roles []string
	Bio   string
}

type Session struct {
	ID      string
	Token   string
	Created time.Time
}

type Account struct {
	User
	Password string
	APIKey   string `json:"api_key"`
	Sessions []Session
}

type tagged struct {
	Key         string `json:"api_key"`
	Sig         string `msgpack:"client_secret"`
	Password    string `aside:"keep"`
	Notes       string `aside:"redact"`
	IsAdmin     bool   `aside:"redact"`
	HasPassword bool
	Hidden      string `json:"-"`
}

type withPointers struct {
	Name    string
	Token   *string
	Inner   *Account
	Other   *User
	PIN     int
	Tokens  []string
	Extra   any
	Created time.Time
}

type base struct {
	AuthToken string
	Region    string
}

type Base struct {
	Secret string
	Kind   string
}

type embeds struct {
	Base
	*User
	base
	*Session
	Name string
}

type unexported struct {
	Name     string
	password string //nolint:unused // read through reflection in the test
	token    *string
}

type node struct {
	Name  string
	Token string
	Next  *node
}

type keepInside struct {
	Auth Account `aside:"keep"`
}

type header string

type named struct {
	Headers map[header]string
	Codes   map[int]Account
	Any     map[any]any
	Arr     [2]Session
}

type namedPtr *Account

func ptr[T any](v T) *T { return &v }

func TestApplyStructs(t *testing.T) {
	mask, err := New(Rules{Mode: Mask})
	require.NoError(t, err)
	drop := Default()

	tests := []struct {
		name    string
		filter  *Filter
		in      func() any
		want    any
		changed bool
	}{
		{
			name:    "drop zeroes the sensitive fields of a struct and keeps the rest",
			filter:  drop,
			in:      func() any { return Account{User: User{ID: 1, Name: "ann"}, Password: "pw", APIKey: "k"} },
			want:    Account{User: User{ID: 1, Name: "ann"}},
			changed: true,
		},
		{
			name:   "drop reaches slices of structs",
			filter: drop,
			in: func() any {
				return Account{Sessions: []Session{{ID: "a", Token: "t1"}, {ID: "b"}}}
			},
			want:    Account{Sessions: []Session{{ID: "a"}, {ID: "b"}}},
			changed: true,
		},
		{
			name:    "a struct whose sensitive fields are already empty is unchanged",
			filter:  drop,
			in:      func() any { return Account{User: User{Name: "ann"}, Sessions: []Session{{ID: "a"}}} },
			want:    Account{User: User{Name: "ann"}, Sessions: []Session{{ID: "a"}}},
			changed: false,
		},
		{
			name:    "mask replaces strings and keeps the fields",
			filter:  mask,
			in:      func() any { return Account{User: User{Name: "ann"}, Password: "pw", APIKey: "k"} },
			want:    Account{User: User{Name: "ann"}, Password: "[REDACTED]", APIKey: "[REDACTED]"},
			changed: true,
		},
		{
			name:   "mask points a *string at the mask and zeroes numbers and slices",
			filter: mask,
			in: func() any {
				return withPointers{Name: "n", Token: ptr("t"), PIN: 1234, Tokens: []string{"a", "b"}}
			},
			want:    withPointers{Name: "n", Token: ptr("[REDACTED]")},
			changed: true,
		},
		{
			name:    "drop sets a sensitive *string to nil",
			filter:  drop,
			in:      func() any { return withPointers{Name: "n", Token: ptr("t")} },
			want:    withPointers{Name: "n"},
			changed: true,
		},
		{
			name:   "tag names, aside:keep and aside:redact decide, and bools are kept unless forced",
			filter: drop,
			in: func() any {
				return tagged{Key: "k", Sig: "s", Password: "visible", Notes: "n", IsAdmin: true, HasPassword: true, Hidden: "h"}
			},
			want:    tagged{Password: "visible", HasPassword: true, Hidden: "h"},
			changed: true,
		},
		{
			name:   "a kept field is still filtered inside",
			filter: drop,
			in: func() any {
				return keepInside{Auth: Account{User: User{Name: "ann"}, Password: "pw"}}
			},
			want:    keepInside{Auth: Account{User: User{Name: "ann"}}},
			changed: true,
		},
		{
			name:   "embedded structs and pointers, exported or not, are reached",
			filter: drop,
			in: func() any {
				return embeds{
					Base:    Base{Secret: "s", Kind: "k"},
					User:    &User{Name: "ann"},
					base:    base{AuthToken: "t", Region: "eu"},
					Session: &Session{ID: "sid", Token: "t"},
					Name:    "x",
				}
			},
			want: embeds{
				Base:    Base{Kind: "k"},
				User:    &User{Name: "ann"},
				base:    base{Region: "eu"},
				Session: &Session{ID: "sid"},
				Name:    "x",
			},
			changed: true,
		},
		{
			name:   "unexported fields are copied as they are",
			filter: drop,
			in: func() any {
				return unexported{Name: "n", password: "pw", token: ptr("t")}
			},
			want:    unexported{Name: "n", password: "pw", token: ptr("t")},
			changed: false,
		},
		{
			name:   "an any field is planned by its dynamic type",
			filter: drop,
			in: func() any {
				return withPointers{Extra: map[string]any{"password": "pw", "list": []any{map[string]any{"token": "t", "ok": 1}}}}
			},
			want:    withPointers{Extra: map[string]any{"list": []any{map[string]any{"ok": 1}}}},
			changed: true,
		},
		{
			name:   "maps with named string keys, int keys, any keys and arrays are reached",
			filter: drop,
			in: func() any {
				return named{
					Headers: map[header]string{"Authorization": "Bearer x", "Accept": "json"},
					Codes:   map[int]Account{7: {Password: "pw"}},
					Any:     map[any]any{"token": "t", 1: "one", "nested": map[any]any{"cvv": "123"}},
					Arr:     [2]Session{{Token: "t"}, {ID: "i"}},
				}
			},
			want: named{
				Headers: map[header]string{"Accept": "json"},
				Codes:   map[int]Account{7: {}},
				Any:     map[any]any{1: "one", "nested": map[any]any{}},
				Arr:     [2]Session{{}, {ID: "i"}},
			},
			changed: true,
		},
		{
			name:   "mask in a map[string]any keeps the key, masks strings and nils the rest",
			filter: mask,
			in: func() any {
				return map[string]any{"password": "pw", "pin": 1234, "secret": map[string]any{"a": 1}, "token": map[string]any{"a": 1}, "hasPassword": true, "cookie": "", "name": "n"}
			},
			want:    map[string]any{"password": "[REDACTED]", "pin": nil, "secret": nil, "token": map[string]any{"a": 1}, "hasPassword": true, "cookie": "", "name": "n"},
			changed: true,
		},
		{
			name:    "mask treats a json.Number as a number",
			filter:  mask,
			in:      func() any { return map[string]any{"pin": json.Number("1234")} },
			want:    map[string]any{"pin": nil},
			changed: true,
		},
		{
			name:    "time.Time and other types without exported fields are left alone",
			filter:  drop,
			in:      func() any { return Session{Created: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)} },
			want:    Session{Created: time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)},
			changed: false,
		},
		{
			name:    "nil pointers, maps and interfaces are fine",
			filter:  drop,
			in:      func() any { return withPointers{} },
			want:    withPointers{},
			changed: false,
		},
		{
			name:    "a pointer to a struct with a secret becomes a new pointer",
			filter:  drop,
			in:      func() any { return &Account{Password: "pw", User: User{Name: "ann"}} },
			want:    &Account{User: User{Name: "ann"}},
			changed: true,
		},
		{
			name:    "a named pointer type keeps its name",
			filter:  drop,
			in:      func() any { return namedPtr(&Account{Password: "pw"}) },
			want:    namedPtr(&Account{}),
			changed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in()
			out, changed := tt.filter.Apply(in)
			require.Equal(t, tt.changed, changed)
			require.Equal(t, tt.want, out)
			require.Equal(t, tt.in(), in, "the input is not modified")
			if !changed {
				require.True(t, sameValue(in, out), "an unchanged value is returned as is")
			}
		})
	}
}

// sameValue reports whether out is in itself, not a copy: for reference kinds
// it compares pointers.
func sameValue(in, out any) bool {
	a, b := reflect.ValueOf(in), reflect.ValueOf(out)
	switch a.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice:
		return a.UnsafePointer() == b.UnsafePointer()
	}
	return reflect.DeepEqual(in, out)
}

func TestApplyCopiesOnlyChangedPaths(t *testing.T) {
	other := &User{Name: "bob"}
	inner := &Account{Password: "pw"}
	in := &withPointers{Name: "n", Inner: inner, Other: other, Tokens: nil}

	out, changed := Default().Apply(in)
	require.True(t, changed)
	got := out.(*withPointers)

	require.NotSame(t, in, got, "the outer pointer is new")
	require.NotSame(t, inner, got.Inner, "the pointer to the changed struct is new")
	require.Same(t, other, got.Other, "an untouched pointer is shared")
	require.Equal(t, "pw", inner.Password, "the original pointee keeps its secret")
	require.Empty(t, got.Inner.Password)

	s := []Account{{Password: "pw"}, {User: User{Name: "x"}}}
	clean := []User{{Name: "a"}}
	m := map[string]any{"s": s, "clean": clean}
	outM, changed := Default().Apply(m)
	require.True(t, changed)
	gotM := outM.(map[string]any)
	require.Equal(t, "pw", s[0].Password, "the original slice is not written")
	require.Empty(t, gotM["s"].([]Account)[0].Password)
	require.Same(t, &clean[0], &gotM["clean"].([]User)[0], "an untouched slice shares its array")
	require.Len(t, m, 2)
}

func TestApplyHandlesCycles(t *testing.T) {
	t.Run("a pointer cycle with a secret is copied with the same cycle", func(t *testing.T) {
		a := &node{Name: "a", Token: "ta"}
		b := &node{Name: "b", Next: a}
		a.Next = b
		out, changed := Default().Apply(a)
		require.True(t, changed)
		got := out.(*node)
		require.Empty(t, got.Token)
		require.Equal(t, "b", got.Next.Name)
		require.Same(t, got, got.Next.Next, "the copy has the same cycle")
		require.NotSame(t, b, got.Next, "every node on the cycle is copied")
		require.Equal(t, "ta", a.Token, "the input is not modified")
		require.Same(t, a, b.Next)
	})
	t.Run("a pointer cycle without a secret is returned as is", func(t *testing.T) {
		a := &node{Name: "a"}
		a.Next = &node{Name: "b", Next: a}
		out, changed := Default().Apply(a)
		require.False(t, changed)
		require.Same(t, a, out)
	})
	t.Run("a map that contains itself is copied with the same cycle", func(t *testing.T) {
		m := map[string]any{"password": "pw", "name": "n"}
		m["self"] = m
		out, changed := Default().Apply(m)
		require.True(t, changed)
		got := out.(map[string]any)
		require.NotContains(t, got, "password")
		require.Equal(t, reflect.ValueOf(got).UnsafePointer(), reflect.ValueOf(got["self"]).UnsafePointer())
		require.Equal(t, "pw", m["password"])
	})
	t.Run("a map that contains itself without a secret is returned as is", func(t *testing.T) {
		m := map[string]any{"name": "n", "list": []any{1}}
		m["self"] = m
		m["list"].([]any)[0] = m
		out, changed := Default().Apply(m)
		require.False(t, changed)
		require.True(t, sameValue(m, out))
	})
	t.Run("a cycle reachable along many paths at every level terminates", func(t *testing.T) {
		m := map[string]any{}
		for i := range 50 {
			m[fmt.Sprint("k", i)] = m
		}
		out, changed := Default().Apply(m)
		require.False(t, changed)
		require.True(t, sameValue(m, out))

		m["token"] = "t"
		out, changed = Default().Apply(m)
		require.True(t, changed)
		got := out.(map[string]any)
		require.NotContains(t, got, "token")
		require.Equal(t, reflect.ValueOf(got).UnsafePointer(), reflect.ValueOf(got["k7"]).UnsafePointer())
	})
	t.Run("a slice that contains itself without a secret is returned as is", func(t *testing.T) {
		s := make([]any, 2)
		s[0] = s
		s[1] = map[string]any{"name": "n"}
		out, changed := Default().Apply(s)
		require.False(t, changed)
		require.True(t, sameValue(s, out))
	})
	t.Run("a slice that contains itself and a secret terminates", func(t *testing.T) {
		s := make([]any, 2)
		s[0] = s
		s[1] = map[string]any{"token": "t"}
		out, changed := Default().Apply(s)
		require.True(t, changed)
		got := out.([]any)
		require.Equal(t, map[string]any{}, got[1])
		require.Equal(t, reflect.ValueOf(got).UnsafePointer(), reflect.ValueOf(got[0]).UnsafePointer())
	})
	t.Run("a long acyclic chain is not mistaken for a cycle", func(t *testing.T) {
		var head *node
		for i := range 3 * cycleDepth {
			head = &node{Name: fmt.Sprint(i), Next: head}
		}
		tail := head
		for tail.Next != nil {
			tail = tail.Next
		}
		tail.Token = "deep"
		out, changed := Default().Apply(head)
		require.True(t, changed)
		n := out.(*node)
		for n.Next != nil {
			n = n.Next
		}
		require.Empty(t, n.Token)
		require.Equal(t, "deep", tail.Token)
	})
	t.Run("a pointer shared twice in a cyclic value stays shared", func(t *testing.T) {
		shared := &Account{Password: "pw"}
		in := []any{shared, shared}
		out, changed := Default().Apply(in)
		require.True(t, changed)
		got := out.([]any)
		require.Same(t, got[0], got[1])
		require.Empty(t, got[0].(*Account).Password)
	})
}

func TestValue(t *testing.T) {
	t.Run("it returns a redacted copy of the same type", func(t *testing.T) {
		in := Account{Password: "pw", User: User{Name: "a"}}
		out, changed := Value(Default(), in)
		require.True(t, changed)
		require.Equal(t, Account{User: User{Name: "a"}}, out)
		require.Equal(t, "pw", in.Password)
	})
	t.Run("it returns the value itself when there is nothing to redact", func(t *testing.T) {
		in := Account{User: User{Name: "a"}}
		out, changed := Value(Default(), in)
		require.False(t, changed)
		require.Equal(t, in, out)
	})
	t.Run("it works for an interface type", func(t *testing.T) {
		var in fmt.Stringer = stringerAccount{Password: "pw"}
		out, changed := Value(Default(), in)
		require.True(t, changed)
		require.Equal(t, stringerAccount{}, out)
	})
	t.Run("it accepts a nil interface", func(t *testing.T) {
		out, changed := Value[any](Default(), nil)
		require.False(t, changed)
		require.Nil(t, out)
	})
	t.Run("a nil or disabled filter changes nothing", func(t *testing.T) {
		off, err := New(Rules{Disabled: true})
		require.NoError(t, err)
		for _, f := range []*Filter{nil, off} {
			out, changed := Value(f, Account{Password: "pw"})
			require.False(t, changed)
			require.Equal(t, "pw", out.Password)
			anyOut, changed := f.Apply(map[string]any{"token": "t"})
			require.False(t, changed)
			require.Equal(t, map[string]any{"token": "t"}, anyOut)
		}
	})
	t.Run("added names and a custom predicate apply to struct fields", func(t *testing.T) {
		f, err := New(Rules{Add: []string{"bio"}, Match: func(n string) bool { return n == "Email" }})
		require.NoError(t, err)
		out, changed := Value(f, User{Name: "a", Email: "e", Bio: "b"})
		require.True(t, changed)
		require.Equal(t, User{Name: "a"}, out)
	})
}

type stringerAccount struct{ Password string }

func (stringerAccount) String() string { return "account" }

func TestApplyOnTypesWithoutSecretsDoesNotAllocate(t *testing.T) {
	f := Default()
	u := User{ID: 1, Name: "a", Email: "e", Roles: []string{"r"}, Bio: "b"}
	var boxed any = &u
	f.Apply(boxed) // build the plan
	allocs := testing.AllocsPerRun(100, func() {
		if _, changed := Value(f, u); changed {
			panic("changed")
		}
		if _, changed := f.Apply(boxed); changed {
			panic("changed")
		}
	})
	require.Zero(t, allocs)

	clean := map[string]any{"name": "a", "list": []any{"x", map[string]any{"n": 1.0}}}
	f.Apply(clean)
	allocs = testing.AllocsPerRun(100, func() { f.Apply(clean) })
	require.Zero(t, allocs, "a clean map[string]any is checked without allocating")

	var nested any = withPointers{Extra: clean}
	f.Apply(nested)
	allocs = testing.AllocsPerRun(100, func() { f.Apply(nested) })
	require.Zero(t, allocs, "so is one inside a struct field")
}

func TestPlansAreSharedAcrossGoroutines(t *testing.T) {
	f, err := New(Rules{})
	require.NoError(t, err)
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				out, changed := f.Apply(&embeds{Base: Base{Secret: "s"}, base: base{AuthToken: "t"}})
				if !changed || out.(*embeds).Secret != "" || out.(*embeds).AuthToken != "" {
					panic("not redacted")
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}
