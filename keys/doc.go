// Package keys builds the keys an aside cache stores, from the logical keys,
// tags and patterns its users write.
//
// A [Builder] is made once from [Options] (namespace, schema version, length
// limit) and used for every call:
//
//	b, err := keys.New(keys.Options{Namespace: "shop"})
//	k, err := b.Entry("user:42")       // "aside:shop:v1:e:user:42"
//	t, err := b.Tag("users")           // "aside:shop:v1:t:users"
//	g, err := b.EntryPattern("user:*") // "aside:shop:v1:e:user:*"
//
// # Stored layout
//
// Every stored key has the form
//
//	aside:<ns>:v<version>:<kind>:<body>
//
// where
//
//   - <ns> is [Escape] of Options.Namespace with ':' escaped as well (%3A),
//     so it never holds a ':' and ends at the first one; it may be empty.
//   - <version> is Options.Version in decimal, at least 1, no leading zero.
//   - <kind> is "e" for a cache entry ([Builder.Entry]) and "t" for a tag's
//     version record ([Builder.Tag]).
//   - <body> is Escape(key) when that is at most Options.MaxLen bytes.
//     Otherwise it is the longest prefix of Escape(key) of at most
//     MaxLen-[HashedSuffixLen] bytes that ends between two characters or
//     escapes, then '#', then the 64 lower-case hex digits of the SHA-256 of
//     the whole logical key.
//
// [Builder.Prefix] returns "aside:<ns>:v<version>:".
//
// # Why the mapping is one-to-one
//
// The escaping is one-to-one: each byte it rewrites becomes '%' and two
// upper-case hex digits, '%' itself is among them, and everything else is
// copied; [Unescape] inverts it. Reading a stored key from the left, <ns>
// ends at the first ':', <version> at the next, <kind> is one letter, and
// <body> is the rest. An unhashed body never holds '#' (Escape always
// rewrites it), so a body with '#' is hashed, and two hashed bodies are
// equal only if the SHA-256 of their keys are. So two different
// (namespace, version, kind, key) tuples never share a stored key, up to a
// SHA-256 collision between two keys whose escaped forms exceed MaxLen.
//
// Escape rewrites '%', '{' and '}' (a key can never pin a Redis Cluster hash
// slot by accident), '#', ASCII control bytes (NUL, CR, LF...) and DEL, C1
// control characters, and every byte of invalid UTF-8. Stored keys are
// therefore valid UTF-8 and safe in JSON, logs, and REST bodies. ':' and the
// glob metacharacters * ? [ ] \ are not rewritten: "user:42" and
// "product:7:reviews" read the same in redis-cli.
//
// # Patterns
//
// [Builder.EntryPattern] turns a glob over logical keys into a glob over
// stored keys for provider.PatternDeleter. It is exact for the keys people
// usually write and for prefix patterns; its documentation lists what
// differs for keys holding escaped bytes or hashed for length. [Match]
// implements Redis's glob matching byte for byte, edge cases included, so an
// in-memory store deletes exactly the keys Redis would.
//
// # Concurrency
//
// A Builder is immutable after [New]; all its methods and all functions of
// this package are safe for concurrent use.
//
// # What this package does not do
//
// It does not talk to a store, cache keys, or check lengths against a
// particular store beyond keeping every stored key far below
// provider.MaxKeyLen. It does not normalise keys: "User:42" and "user:42"
// are different entries. It does not interpret ':' in keys; it only keeps it
// readable.
package keys
