package emulator

import (
	"errors"
	"log/slog"
)

// DefaultMaxRequestBytes is the request body limit when
// [Options.MaxRequestBytes] is zero: 10 MiB, Upstash's max request size for
// free and pay-as-you-go databases.
const DefaultMaxRequestBytes = 10 << 20

// Errors returned by [New]. None of them carries a token.
var (
	// ErrNoToken means Options.Token is empty.
	ErrNoToken = errors.New("aside: upstash emulator: Options.Token is empty (clients send it as `Authorization: Bearer <token>`)")
	// ErrNilClient means New was given a nil go-redis client.
	ErrNilClient = errors.New("aside: upstash emulator: the go-redis client is nil")
	// ErrProtocol means the go-redis client speaks RESP3. Upstash answers in
	// the shapes of RESP2 (HGETALL a flat array, ZSCORE a string), which a
	// RESP3 connection cannot reproduce.
	ErrProtocol = errors.New("aside: upstash emulator: the go-redis client must use RESP2 (set Protocol: 2 in its options)")
	// ErrInvalidOptions means a field of Options or Faults is out of range.
	ErrInvalidOptions = errors.New("aside: upstash emulator: invalid options")
)

// Options configures an [Emulator]. Only Token is required; every other zero
// value is a working default.
type Options struct {
	// Token is the standard REST token. A request must carry it as
	// `Authorization: Bearer <token>` or as the `_token` query parameter.
	// Required.
	Token string

	// ReadOnlyToken, when not empty, is accepted too, with the rights of
	// Upstash's "Read Only" token: read commands only, and not SCAN or KEYS.
	// Default: none.
	ReadOnlyToken string

	// AllowDangerous lets the admin commands that the emulator refuses by
	// default reach Redis: FLUSHALL, FLUSHDB, CONFIG, SHUTDOWN, DEBUG,
	// REPLICAOF, SLAVEOF, MIGRATE, CLIENT KILL (and CLIENT LIST, INFO, ID,
	// GETNAME, PAUSE, UNPAUSE), ACL, MODULE, SAVE, BGSAVE, BGREWRITEAOF,
	// SWAPDB, FAILOVER. Default false: several users and tests may share the
	// Redis behind an emulator. Commands that make no sense over stateless
	// HTTP (SUBSCRIBE, MONITOR, MULTI, SELECT, blocking pops, ...) are
	// refused whatever this says.
	AllowDangerous bool

	// MaxRequestBytes bounds a request body; a larger one is answered 400
	// `ERR max request size exceeded`. Zero means [DefaultMaxRequestBytes];
	// negative means no limit.
	MaxRequestBytes int64

	// Faults are injected from the first request on. [Emulator.SetFaults]
	// replaces them at run time. Default: none.
	Faults Faults

	// Logger receives the failures of Redis itself (a refused connection, a
	// timeout), never a token, a key or a value. Default: discard.
	Logger *slog.Logger
}

func (o Options) maxRequestBytes() int64 {
	switch {
	case o.MaxRequestBytes == 0:
		return DefaultMaxRequestBytes
	case o.MaxRequestBytes < 0:
		return -1
	}
	return o.MaxRequestBytes
}
