package coherence

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/aside-go/aside/provider"
)

// Errors returned by package coherence.
var (
	// ErrClosed means the Stream was closed.
	ErrClosed = errors.New("aside: coherence: closed")
	// ErrConfig means the Config is unusable; the message names the field.
	ErrConfig = errors.New("aside: coherence: invalid config")
)

// Message is one invalidation: what every instance must drop from its near
// tier.
type Message struct {
	Keys     []string // provider keys of entries (skey) to drop
	Tags     []string // tag names whose entries to drop
	Patterns []string // Redis globs over entry provider keys
	All      bool     // drop everything
}

// Config configures a Stream.
type Config struct {
	// Broadcaster carries the messages. Required.
	Broadcaster provider.Broadcaster
	// Channel is the pub/sub channel, one per namespace, e.g.
	// "aside:<ns>:near". Required.
	Channel string
	// Lease is how long a heartbeat keeps the lease after it was sent; an
	// instance heartbeats every Lease/5. It bounds how long an Invalidate
	// waits for an instance that does not answer. Default 1s.
	Lease time.Duration
	// Apply drops what a Message names from the tier. It is called for every
	// invalidation, the instance's own included, in stream order, on the
	// stream goroutine, and must return once the tier dropped it. Required.
	Apply func(Message)
	// Lapse is called when the lease lapses: the tier forgets everything.
	// It is called on the stream goroutine. Optional (the tier may rely on
	// the epoch instead).
	Lapse func()
	// Logger receives lapses and resubscriptions. Default: discard.
	Logger *slog.Logger
}

// Stream is one instance's end of the coherence protocol (see the package
// documentation). All methods are safe for concurrent use.
type Stream struct {
	impl
}

// New validates cfg, subscribes to its channel and starts heartbeating. It
// returns an error only for an unusable Config: a subscription that fails is
// retried in the background with backoff (the lease is not held meanwhile).
// ctx bounds the first subscription attempt only.
func New(ctx context.Context, cfg Config) (*Stream, error) { return newStream(ctx, cfg) }

// Lease reports the current epoch and whether the lease is held now. The
// tier serves an entry only when ok and the entry was filled in this epoch.
func (s *Stream) Lease() (epoch uint64, ok bool) { return s.lease() }

// Generation counts the messages applied (and lapses); it is incremented
// before Apply is called. The tier takes it before its store read and keeps
// the fill only if it is unchanged (and the lease held, same epoch) once the
// fill is inserted.
func (s *Stream) Generation() uint64 { return s.generation() }

// Invalidate publishes m (after the caller's store write succeeded) and
// returns when every live instance applied it or its lease has run out. It
// returns an error if the publish fails, ctx ends first or the Stream is
// closed: the caller then reports the invalidation as not done.
func (s *Stream) Invalidate(ctx context.Context, m Message) error { return s.invalidate(ctx, m) }

// Close stops the stream's goroutines and closes its subscription; waiting
// Invalidate calls return ErrClosed. It is idempotent.
func (s *Stream) Close() error { return s.close() }
