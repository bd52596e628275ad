package redact

import (
	"encoding/json"
	"testing"
)

func benchUser() User {
	return User{ID: 42, Name: "Ann Example", Email: "ann@example.com", Roles: []string{"admin", "dev"}, Bio: "Writes Go."}
}

func benchAccount() Account {
	return Account{
		User:     benchUser(),
		Password: "hunter2",
		APIKey:   "sk_live_123",
		Sessions: []Session{{ID: "s1", Token: "t1"}, {ID: "s2", Token: "t2"}},
	}
}

// A type that cannot hold a secret: one plan lookup, no allocation.
func BenchmarkValueNoSensitiveFields(b *testing.B) {
	f := Default()
	u := benchUser()
	b.ReportAllocs()
	for b.Loop() {
		if _, changed := Value(f, u); changed {
			b.Fatal("changed")
		}
	}
}

func BenchmarkApplyNoSensitiveFields(b *testing.B) {
	f := Default()
	var v any = benchUser()
	b.ReportAllocs()
	for b.Loop() {
		if _, changed := f.Apply(v); changed {
			b.Fatal("changed")
		}
	}
}

// A type whose sensitive-looking fields are counts (Tokens int, Session
// int): numbers under non-numeric names are data, so it gets the skip plan.
func BenchmarkValueNoSensitiveFieldsCounts(b *testing.B) {
	f := Default()
	u := usage{Model: "m", Tokens: 1200, InputTokens: 800, SessionCount: 3, Session: 2, Cost: 0.5}
	b.ReportAllocs()
	for b.Loop() {
		if _, changed := Value(f, u); changed {
			b.Fatal("changed")
		}
	}
}

func BenchmarkValueNoSensitiveFieldsParallel(b *testing.B) {
	f := Default()
	u := benchUser()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			Value(f, u)
		}
	})
}

// A type with sensitive fields that are set: the struct, the slice and the
// changed elements are copied.
func BenchmarkValueSensitiveFields(b *testing.B) {
	f := Default()
	a := benchAccount()
	b.ReportAllocs()
	for b.Loop() {
		if _, changed := Value(f, a); !changed {
			b.Fatal("unchanged")
		}
	}
}

func BenchmarkValueSensitiveFieldsMask(b *testing.B) {
	f, err := New(Rules{Mode: Mask})
	if err != nil {
		b.Fatal(err)
	}
	a := benchAccount()
	b.ReportAllocs()
	for b.Loop() {
		Value(f, a)
	}
}

// A type with sensitive fields that are all empty: walked, nothing copied.
func BenchmarkValueSensitiveFieldsEmpty(b *testing.B) {
	f := Default()
	a := Account{User: benchUser(), Sessions: []Session{{ID: "s1"}, {ID: "s2"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, changed := Value(f, a); changed {
			b.Fatal("changed")
		}
	}
}

var benchDoc = []byte(`{"id":42,"name":"Ann Example","email":"ann@example.com","roles":["admin","dev"],` +
	`"profile":{"bio":"Writes Go.","links":[{"url":"https://example.com","title":"home"}]},` +
	`"session":{"id":"s1","access_token":"eyJhbGciOi","refresh_token":"r1"},"next_page_token":"p2"}`)

func decodedDoc(b *testing.B) any {
	var v any
	if err := json.Unmarshal(benchDoc, &v); err != nil {
		b.Fatal(err)
	}
	return v
}

// A decoded JSON document (map[string]any) with secrets two levels down.
func BenchmarkApplyDecodedJSON(b *testing.B) {
	f := Default()
	v := decodedDoc(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, changed := f.Apply(v); !changed {
			b.Fatal("unchanged")
		}
	}
}

func BenchmarkJSON(b *testing.B) {
	f := Default()
	b.Run("with secrets", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchDoc)))
		for b.Loop() {
			if _, changed, _ := f.JSON(benchDoc); !changed {
				b.Fatal("unchanged")
			}
		}
	})
	clean, _, _ := f.JSON(benchDoc)
	b.Run("clean", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(clean)))
		for b.Loop() {
			if _, changed, _ := f.JSON(clean); changed {
				b.Fatal("changed")
			}
		}
	})
}
