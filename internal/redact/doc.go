// Package redact removes or masks sensitive fields — passwords, tokens, API
// keys, session ids, card numbers — from values before aside serialises them
// for the cache store, and from JSON bodies before the middleware stores them.
//
// # Use
//
// Build a [Filter] once, with [Default] or [New], and call [Value] (or
// [Filter.Apply]) on every value about to be stored, and [Filter.JSON] on JSON
// bodies:
//
//	f, err := redact.New(redact.Rules{Mode: redact.Mask, Add: []string{"dob"}})
//	clean, changed := redact.Value(f, account) // account is not modified
//
// The root package exposes this through aside.Options; it is internal so that
// its API can change with the cache's.
//
// # Which names are sensitive
//
// A name is normalised — lower case, ASCII punctuation and spaces removed — and
// split into words at separators and camelCase boundaries. It is sensitive
// when the whole name is on the exact list (auth, session, pin, sid, jwt, dsn,
// tokens, cookies, ...), or when a word-aligned tail of it is on the suffix
// list (password, passwd, pwd, passphrase, secret, token, otp, apikey,
// apisecret, privatekey, secretkey, accesskey, sessionid, authorization,
// cookie, credentials, creditcard, cardnumber, ssn, cvv, cvc, ...). Tails are
// tried longest first and a tail on the allow list (pagetoken,
// continuationtoken, synctoken) stops the search. So "userPassword",
// "github_token", "stripeApiKey", "X-Auth-Token" and "session_id" are
// sensitive; "tokenizer_version", "authorId", "maxTokens", "next_page_token",
// "publicKey" and "sessions" are not. [Rules] adds and removes names and plugs
// a predicate.
//
// A struct field is checked under its Go name and its json and msgpack tag
// names. The tag `aside:"redact"` forces redaction of a field (even a bool),
// `aside:"keep"` forbids it; "keep" covers the field's own name only, and
// values inside it are still filtered.
//
// # What happens to a sensitive value
//
// [Drop] (the default) deletes map entries and JSON members and zeroes struct
// fields. [Mask] writes the replacement over strings (also behind a *string or
// in an interface; a json.Number is treated as a number) and zeroes every other
// kind (JSON: null). Values that cannot carry a secret are always left alone:
// zero values (nil, "", 0) and booleans, so "hasPassword": true survives.
//
// # What it reaches
//
// Nested and embedded structs, pointers, slices, arrays, maps (keys of string
// kind, and string keys of map[any]any, are checked as names; other keys are
// not), and interface values, whose dynamic type is planned at run time —
// including map[string]any and []any from decoded JSON. Cycles through
// pointers, maps and slices are detected; a redacted copy of a cyclic value
// has the same cycles. Shared pointers stay shared within one cyclic value.
//
// Unexported fields are neither read nor changed: msgpack and encoding/json do
// not serialise them, so they never reach the store, and a redacted copy holds
// the same unexported values as the original. Embedded fields of unexported
// struct types are the exception, because both codecs do serialise their
// exported fields; the filter reads and writes them through unsafe views of its
// own copies, never of the caller's memory. Types with no exported fields,
// like time.Time, are left as they are.
//
// # Guarantees
//
// The filter never modifies the value it is given or anything reachable from
// it. It copies on write: a struct, array, slice or map is copied only when
// something inside it changes, and every pointer on the path to a change is
// replaced by a pointer to a copy, so the caller's pointees are untouched. The
// rest of the result is shared with the input. For a value that may contain a
// cycle (its type is recursive or holds an interface) a first, read-only pass
// looks for anything sensitive; only when it finds something is the value
// rewritten, and then every pointer, map and slice on a cycle is copied too.
//
// Each type is planned once per Filter and the plan is cached. A type that
// cannot hold a sensitive value — no sensitive field names, no maps with
// string keys and no interfaces anywhere inside — gets a skip plan, and
// [Value] on it costs one cache lookup and no allocation.
//
// # Concurrency
//
// All methods of a Filter are safe for concurrent use. A nil *Filter and a
// Filter built with Rules.Disabled change nothing.
//
// # What it does not do
//
// It does not look inside bytes: the output of custom marshalers
// (json.Marshaler, msgpack.CustomEncoder, encoding.BinaryMarshaler), []byte
// fields holding serialised data, and strings holding JSON are passed through
// untouched (a marshaler sees the redacted copy of its struct's fields, so
// those built on exported fields are covered). It does not inspect values by
// content (a secret under an innocent name passes), map keys that are not
// strings, or sensitive data used as a map key. It recurses once per level of
// nesting, so a value nested tens of thousands of levels deep costs stack as
// it does in the codecs.
package redact
