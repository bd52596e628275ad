package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
)

// Limits of Options. They keep every stored key far below
// provider.MaxKeyLen (4096): the longest possible stored key is
// len("aside:") + 3*MaxNamespaceLen + len(":v") + 19 digits + len(":e:") +
// MaxMaxLen = 1438 bytes.
const (
	// DefaultMaxLen is the MaxLen used when Options.MaxLen is 0. 200 bytes
	// keeps the keys people write (ids, paths, short query strings) readable
	// and unhashed, while bounding what one key costs in Redis memory, in
	// every network frame that carries it and in log lines; with a short
	// namespace the whole stored key also stays under the 250 bytes that
	// many key-value stores and proxies accept.
	DefaultMaxLen = 200
	// MinMaxLen is the smallest MaxLen accepted: a hashed key spends
	// HashedSuffixLen bytes on its digest and keeps at least 35 readable bytes.
	MinMaxLen = 100
	// MaxMaxLen is the largest MaxLen accepted.
	MaxMaxLen = 1024
	// MaxNamespaceLen is the longest Options.Namespace accepted, in bytes
	// before escaping.
	MaxNamespaceLen = 128
	// HashedSuffixLen is the length of the "#" and 64 hex digits that end
	// the body of a hashed key.
	HashedSuffixLen = 1 + 2*sha256.Size
)

// Options configures a Builder. The zero value is valid: no namespace,
// version 1, DefaultMaxLen.
type Options struct {
	// Namespace separates caches that share one store. Any string up to
	// MaxNamespaceLen bytes; it is escaped like keys and its ':' too, so
	// namespace "a:b" with key "c" never meets namespace "a" with key "b:c".
	// Default "".
	Namespace string
	// Version is the schema version written into every stored key. Bump it
	// when the shape of cached values changes: every entry and tag written
	// under the old version is orphaned at once (and expires by its TTL).
	// 0 means 1; negative values are rejected.
	Version int
	// MaxLen is the longest escaped key or tag stored as is, in bytes. A
	// longer one is stored as its first bytes (at most MaxLen-HashedSuffixLen,
	// cut between characters) followed by '#' and the hex SHA-256 of the
	// whole logical key, so its stored body is at most MaxLen bytes. 0 means
	// DefaultMaxLen; otherwise it must be within [MinMaxLen, MaxMaxLen].
	MaxLen int
}

// Builder turns logical keys and tags into stored keys. It is immutable
// after New and safe for concurrent use. The zero Builder (and a nil
// *Builder) behaves like the result of New(Options{}).
type Builder struct {
	prefix    string // "aside:<ns>:v<N>:"
	entry     string // prefix + "e:"
	tag       string // prefix + "t:"
	entryGlob string // entry with glob metacharacters quoted
	maxLen    int
}

var defaultBuilder = func() Builder {
	b, err := New(Options{})
	if err != nil {
		panic(err) // unreachable: the zero Options are valid
	}
	return *b
}()

// New validates o and returns a Builder. Errors match ErrInvalidOptions and
// name the field to change.
func New(o Options) (*Builder, error) {
	if len(o.Namespace) > MaxNamespaceLen {
		return nil, fmt.Errorf("%w: Options.Namespace is %d bytes; use at most %d", ErrInvalidOptions, len(o.Namespace), MaxNamespaceLen)
	}
	switch {
	case o.Version < 0:
		return nil, fmt.Errorf("%w: Options.Version is %d; use 0 (meaning 1) or a positive number", ErrInvalidOptions, o.Version)
	case o.Version == 0:
		o.Version = 1
	}
	switch {
	case o.MaxLen == 0:
		o.MaxLen = DefaultMaxLen
	case o.MaxLen < MinMaxLen || o.MaxLen > MaxMaxLen:
		return nil, fmt.Errorf("%w: Options.MaxLen is %d; use 0 (meaning %d) or a value from %d to %d", ErrInvalidOptions, o.MaxLen, DefaultMaxLen, MinMaxLen, MaxMaxLen)
	}

	p := make([]byte, 0, 64)
	p = append(p, "aside:"...)
	p, _, _ = appendEscaped(p, o.Namespace, &nsTable, math.MaxInt, math.MaxInt)
	p = append(p, ":v"...)
	p = strconv.AppendInt(p, int64(o.Version), 10)
	p = append(p, ':')
	prefix := string(p)
	entry := prefix + "e:"
	return &Builder{
		prefix:    prefix,
		entry:     entry,
		tag:       prefix + "t:",
		entryGlob: string(appendGlobQuoted(nil, entry)),
		maxLen:    o.MaxLen,
	}, nil
}

func (b *Builder) orDefault() *Builder {
	if b == nil || b.entry == "" {
		return &defaultBuilder
	}
	return b
}

// Prefix returns the prefix shared by every stored key of this namespace and
// version, entries and tags alike: "aside:<escaped namespace>:v<version>:".
func (b *Builder) Prefix() string {
	return b.orDefault().prefix
}

// Entry returns the stored key of the cache entry with the logical key key.
// An empty key fails with ErrEmpty.
func (b *Builder) Entry(key string) (string, error) {
	if key == "" {
		return "", errEmptyKey
	}
	var buf [256]byte
	return string(b.orDefault().appendKey(buf[:0], true, key)), nil
}

// AppendEntry appends the stored key of the entry key to dst. It does not
// allocate when dst has room, unless key is long enough to be hashed.
func (b *Builder) AppendEntry(dst []byte, key string) ([]byte, error) {
	if key == "" {
		return dst, errEmptyKey
	}
	return b.orDefault().appendKey(dst, true, key), nil
}

// Tag returns the stored key of the version record of tag. Tags live in
// their own key space: Tag(x) never equals Entry(y). An empty tag fails with
// ErrEmpty.
func (b *Builder) Tag(tag string) (string, error) {
	if tag == "" {
		return "", errEmptyTag
	}
	var buf [256]byte
	return string(b.orDefault().appendKey(buf[:0], false, tag)), nil
}

// AppendTag appends the stored key of tag to dst; see Tag and AppendEntry.
func (b *Builder) AppendTag(dst []byte, tag string) ([]byte, error) {
	if tag == "" {
		return dst, errEmptyTag
	}
	return b.orDefault().appendKey(dst, false, tag), nil
}

func (b *Builder) appendKey(dst []byte, entry bool, key string) []byte {
	if entry {
		dst = append(dst, b.entry...)
	} else {
		dst = append(dst, b.tag...)
	}
	start := len(dst)
	dst, cut, over := appendEscaped(dst, key, &keyTable, b.maxLen-HashedSuffixLen, b.maxLen)
	if !over {
		return dst
	}
	dst = append(dst[:start+cut], hashMarker)
	sum := sha256.Sum256([]byte(key))
	return hex.AppendEncode(dst, sum[:])
}
