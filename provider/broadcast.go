package provider

import "context"

// Broadcaster is implemented by providers that can carry messages to every
// process using the same store: Redis pub/sub (PUBLISH/SUBSCRIBE), sharded
// pub/sub on Redis Cluster (SPUBLISH/SSUBSCRIBE), an in-process fan-out for
// the memory provider. The Cache's near tier keeps its copies coherent
// through it (package internal/coherence).
//
// Delivery is at most once and in order, never silently lossy: a
// subscription either delivers every message the store processed on its
// channel since it was confirmed, in the order the store processed them, or
// it breaks, and its Messages channel is closed. An adapter never resubscribes
// on its own behind the caller's back (go-redis and rueidis would, losing the
// messages published meanwhile): the caller sees the break and resubscribes,
// knowing that what was published in between is lost.
type Broadcaster interface {
	// Publish sends msg on channel and reports how many subscribers the
	// store delivered it to (the reply of Redis PUBLISH or SPUBLISH; on a
	// Cluster, the subscribers of the node owning the channel's slot).
	// The provider does not retain msg.
	Publish(ctx context.Context, channel string, msg []byte) (int64, error)

	// Subscribe returns once the store has confirmed the subscription to
	// channel; ctx bounds only that wait, not the subscription's life.
	// Messages arrive in the order the store processed their Publish. The
	// Subscription's Messages channel is closed when the subscription breaks
	// (connection lost, CLIENT KILL, a slot moved away on a Cluster, a
	// receiver too slow for the store's output buffer) or is closed; nothing
	// is redelivered, and the caller resubscribes if it wants more.
	Subscribe(ctx context.Context, channel string) (Subscription, error)
}

// Subscription is one confirmed subscription of a [Broadcaster]. Its methods
// are safe for concurrent use.
type Subscription interface {
	// Messages returns the channel the messages arrive on, the same channel
	// on every call. It is closed when the subscription breaks or is closed.
	// Each message slice belongs to the receiver. The receiver must keep up:
	// a receiver that stops reading holds the subscription's connection, and
	// the store breaks the subscription once its buffer for it is full.
	Messages() <-chan []byte

	// Close ends the subscription: nothing more is put on the Messages
	// channel, and the connection is released. It is idempotent and never
	// blocks on the store, so the channel may be closed a moment after Close
	// returns (when the adapter's teardown of a connection to an unresponsive
	// store takes time); the caller need not read it again.
	Close() error
}
