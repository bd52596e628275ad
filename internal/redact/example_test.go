package redact_test

import (
	"fmt"

	"github.com/aside-go/aside/internal/redact"
)

type Login struct {
	Email      string
	Password   string
	Remember   bool
	OAuthToken string `json:"oauth_token"`
}

// The default filter drops fields with sensitive names and leaves the
// caller's value alone.
func ExampleValue() {
	in := Login{Email: "ann@example.com", Password: "hunter2", Remember: true, OAuthToken: "gho_123"}
	out, changed := redact.Value(redact.Default(), in)
	fmt.Printf("%+v %v\n", out, changed)
	fmt.Println(in.Password)
	// Output:
	// {Email:ann@example.com Password: Remember:true OAuthToken:} true
	// hunter2
}

type Patient struct {
	Name      string
	BirthDate string
	Password  string `aside:"keep"`   // a demo account's published password
	Diagnosis string `aside:"redact"` // not on any list, always removed
}

// A custom rule: an extra name, Mask mode, and struct tags that opt fields in
// and out.
func ExampleNew() {
	f, err := redact.New(redact.Rules{Mode: redact.Mask, Add: []string{"birth_date"}})
	if err != nil {
		panic(err)
	}
	out, _ := redact.Value(f, Patient{Name: "Bo", BirthDate: "1970-01-01", Password: "demo", Diagnosis: "flu"})
	fmt.Printf("%+v\n", out)
	// Output:
	// {Name:Bo BirthDate:[REDACTED] Password:demo Diagnosis:[REDACTED]}
}

// Decoded JSON and other map[string]any values are filtered by key, at any
// depth.
func ExampleFilter_Apply() {
	in := map[string]any{
		"user":    "ann",
		"headers": map[string]any{"Authorization": "Bearer abc", "Accept": "*/*"},
		"items":   []any{map[string]any{"id": 1, "api_key": "k1"}},
	}
	out, changed := redact.Default().Apply(in)
	fmt.Println(out, changed)
	// Output:
	// map[headers:map[Accept:*/*] items:[map[id:1]] user:ann] true
}

// JSON bodies are edited in place: order, spacing and number text survive.
func ExampleFilter_JSON() {
	body := []byte(`{"id": 12345678901234567890, "access_token": "eyJ...", "scope": "read"}`)
	out, changed, err := redact.Default().JSON(body)
	fmt.Println(string(out), changed, err)

	masked, _ := redact.New(redact.Rules{Mode: redact.Mask})
	out, _, _ = masked.JSON(body)
	fmt.Println(string(out))
	// Output:
	// {"id": 12345678901234567890, "scope": "read"} true <nil>
	// {"id": 12345678901234567890, "access_token": "[REDACTED]", "scope": "read"}
}

// Names that only look like secrets are data: pagination cursors, counts
// under token names, a session name, an auth method. Booleans are never
// redacted, numbers only under names of numeric secrets such as pin.
func ExampleFilter_JSON_ordinaryData() {
	body := []byte(`{"items":[],"NextToken":"page2","usage":{"tokens":1200},"session":"morning",` +
		`"auth":{"method":"oauth","access_token":"eyJ..."},"pin":1234,"authenticated":true}`)
	out, _, _ := redact.Default().JSON(body)
	fmt.Println(string(out))
	// Output:
	// {"items":[],"NextToken":"page2","usage":{"tokens":1200},"session":"morning","auth":{"method":"oauth"},"authenticated":true}
}

// A Tally counts what a filter redacts and logs each redacted type and
// field once at debug level, without the value.
func ExampleTally() {
	var tally redact.Tally
	f := redact.Default()
	for range 3 {
		f.ApplyTo(Login{Email: "ann@example.com", Password: "hunter2"}, &tally, nil)
	}
	fmt.Println(tally.Count())
	// Output:
	// 3
}
