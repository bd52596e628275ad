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
// when the whole name is on the list, or when a word-aligned tail of it is on
// the list as a tail rule; tails are tried longest first, and a tail on the
// allow list stops the search. A name ending in digits is also tried without
// them ("password2", "cvv2"). So "userPassword", "github_token",
// "stripeApiKey", "X-Auth-Token" and "session_id" are sensitive;
// "tokenizer_version", "authorId", "maxTokens", "NextToken", "publicKey" and
// "sessions" are not. [Rules] adds and removes names and plugs a predicate.
//
// The default list (the README has it as a table):
//
//   - passwords: password, passwd, pwd, passcode, passphrase, passwordhash,
//     passwordconfirmation as tails; passwords.
//   - secrets, keys and credentials: secret, clientsecret, apikey, apisecret,
//     privatekey, secretkey, accesskey, signingkey, encryptionkey, masterkey,
//     authkey, credential, credentials, connectionstring, dsn, authorization,
//     jwt, cookie, setcookie as tails; secrets, apikeys, bearer, cookies.
//   - bearer tokens: token and accesstoken, refreshtoken, idtoken, authtoken,
//     bearertoken, apitoken, securitytoken, sessiontoken, csrftoken,
//     xsrftoken as tails; tokens, csrf, xsrf.
//   - session identifiers: sessionid, sessionkey as tails; phpsessid,
//     jsessionid, connectsid.
//   - card data, SSNs, one-time codes: creditcard, cardnumber, cvv, cvc,
//     securitycode, ssn, socialsecuritynumber, otp as tails; ccnumber, pin.
//   - never sensitive (allow list): nexttoken, pagetoken, continuationtoken,
//     paginationtoken, cursortoken, synctoken, resumetoken, skiptoken,
//     deltatoken, starttoken, prevtoken, previoustoken, idempotencytoken,
//     devicetoken, pushtoken, and any longer name ending in one of them.
//
// Which values under a sensitive name are redacted depends on the name,
// because a cache, unlike a log, hands what it stores back to the program:
// a false positive is not a noisier log line but a wrong value served.
//
//   - Strings and []byte, and lists of them, always.
//   - Booleans never ("hasPassword": true, "password": false), unless the
//     field is tagged `aside:"redact"`.
//   - Numbers only under the names of secrets that are numbers by nature:
//     passwords, passcodes, card numbers, CVV/CVC, security codes, PINs,
//     SSNs, OTPs. Under any other name a number is data: "Tokens": 1200 is an
//     LLM token count, "tokens": [101, 2023] token ids, "Token": 7 a lexer
//     token kind, and a type whose only sensitive-looking fields are numbers
//     keeps the no-allocation skip plan.
//   - Structs and maps whole, except under token, session-id and the
//     numeric names, where they are filtered by their own field names: an
//     object called "token" is an oauth2.Token (whose AccessToken is then
//     redacted by its own name), a lexer token or a streamed LLM token, and
//     one called "pin" is a map pin; an object called "secret",
//     "credentials" or "credit_card" is dropped whole because its fields
//     ("key", "number") do not name the secret.
//   - A list of interfaces ([]any) is redacted whole when any element would
//     be, walked when it holds structs or maps to walk, and left alone when
//     it holds only numbers, booleans and nulls. JSON arrays are treated the
//     same way.
//
// Names added with [Rules].Add or matched by [Rules].Match redact every value
// but a boolean, objects whole: the caller said the name is secret.
//
// # Why this list
//
// Logging scrubbers can afford to over-match, and the well-known ones do:
// Elastic APM's sanitize_field_names default is "password, passwd, pwd,
// secret, *key, *token*, *session*, *credit*, *card*, authorization,
// set-cookie", Rails' generated filter_parameters match "passw, secret,
// token, _key, crypt, salt, certificate, otp, ssn" anywhere in a name, and
// Django hides settings matching API|TOKEN|KEY|SECRET|PASS|SIGNATURE. Sentry's
// SDK scrubber goes the other way and matches exact names only (password,
// passwd, secret, api_key, apikey, auth, credentials, mysql_pwd, privatekey,
// private_key, token, session, csrftoken, sessionid, x_csrftoken, set_cookie,
// cookie, authorization, x_api_key, connect.sid, PHPSESSID, XSRF-TOKEN...),
// which misses "db_password" and "password1". This package takes the kinds of
// secret those lists agree on, matches them as word-aligned tails so vendor
// and prefixed names ("github_token", "aws_secret_access_key") are caught,
// and drops what a cache cannot afford to over-match:
//
//   - "session" and "auth" alone: they name a session object, a conference
//     slot, a count, or an object describing the authentication method more
//     often than a credential. Session identifiers have precise names
//     (session_id, sessionToken, PHPSESSID, connect.sid) and are kept;
//     credentials under "auth" are caught by their own names inside it.
//   - "sid" alone: it is the resource id of every Twilio object and a
//     Windows security identifier; Express' session cookie, connect.sid,
//     stays listed.
//   - pagination cursors: NextToken, PageToken and ContinuationToken carry no
//     authority, and a cached list without its cursor silently loses every
//     later page; idempotency, device and push tokens are keys and addresses
//     a program needs, not credentials.
//   - numbers under non-numeric names, as above.
//
// CSRF tokens stay redacted: one is a per-session secret whose whole value is
// that no other party knows it (OWASP: keep it out of logs and URLs). A cached
// copy served to anyone else both weakens its owner's protection and gives the
// receiver a token that fails validation; a response embedding one is
// per-session and should not be cached at all, and a program that caches one
// on purpose, per session, says so with `aside:"keep"`. Password hints,
// key ids, public keys, the last four digits of a card or SSN, and
// "password_changed_at"-style metadata are not secrets and are not matched.
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
// zero values (nil, "", 0), empty lists and booleans.
//
// # Counting
//
// [Filter.ApplyTo] and [Filter.JSONTo] add every redacted value to a [Tally]
// and log the first redaction of each type and field (never the value) at
// debug level; the Tally remembers a bounded number of them.
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
// cannot hold a sensitive value — no field whose name is sensitive for its
// type (an int under "Tokens" is not), no maps with string keys except of
// booleans, and no interfaces anywhere inside — gets a skip plan, and [Value]
// on it costs one cache lookup and no allocation.
//
// # Concurrency
//
// All methods of a Filter and of a Tally are safe for concurrent use. A nil
// *Filter and a Filter built with Rules.Disabled change nothing.
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
