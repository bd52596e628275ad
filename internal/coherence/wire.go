package coherence

import (
	"errors"

	"github.com/vmihailenco/msgpack/v5"
)

// version is the first byte of every message; a message with another one is
// ignored, so that a future format can share a channel with this one during
// a rolling deploy (each side ignores the other's, and both lapse to TTL-free
// safety: an instance that cannot read INVs never ACKs them, so invalidators
// wait out its lease).
const version = 1

// Kinds of message.
const (
	kindHB  = 1
	kindINV = 2
	kindACK = 3
)

// wire is every message, encoded as a msgpack array after the version byte:
// [kind, member, n, keys, tags, patterns, all, acks]. n is the HB's send
// time (the sender's monotonic clock, only ever read by the sender) or the
// INV's sequence number; acks are (member, seq) pairs of the INVs an ACK
// covers.
type wire struct {
	_msgpack struct{} `msgpack:",as_array"`

	Kind     uint8
	Member   uint64
	N        int64
	Keys     []string
	Tags     []string
	Patterns []string
	All      bool
	Acks     []uint64
}

var errGarbage = errors.New("aside: coherence: not a message of this protocol")

func encode(w *wire) ([]byte, error) {
	b, err := msgpack.Marshal(w)
	if err != nil {
		return nil, err
	}
	return append([]byte{version}, b...), nil
}

func decode(b []byte) (wire, error) {
	var w wire
	if len(b) < 2 || b[0] != version {
		return w, errGarbage
	}
	if err := msgpack.Unmarshal(b[1:], &w); err != nil {
		return w, errGarbage
	}
	switch w.Kind {
	case kindHB, kindINV:
	case kindACK:
		if len(w.Acks)%2 != 0 {
			return w, errGarbage
		}
	default:
		return w, errGarbage
	}
	return w, nil
}
