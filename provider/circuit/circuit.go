package circuit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/aside-go/aside/provider"
)

// Defaults used when an Options field is zero.
const (
	// DefaultFailures is how many consecutive failed calls open the circuit.
	DefaultFailures = 5
	// DefaultCoolDown is how long an open circuit refuses calls before it
	// lets a probe through. With a provider timeout of a few hundred
	// milliseconds, the first call after the store comes back succeeds within
	// CoolDown plus one timeout: under 2 s.
	DefaultCoolDown = time.Second
	// DefaultProbes is how many calls a half-open circuit lets through.
	DefaultProbes = 1
)

// ErrInvalidOptions means an Options field is out of range; the message names
// it. Errors from the wrapped provider's methods match the sentinels of
// package provider; a refused call matches provider.ErrUnavailable.
var ErrInvalidOptions = errors.New("aside: circuit: invalid options")

// The errors a refused call returns. Both match provider.ErrUnavailable and
// are allocated once, so a refusal costs no allocation during an outage.
var (
	errOpen    = fmt.Errorf("%w: circuit open, waiting for the cool-down", provider.ErrUnavailable)
	errProbing = fmt.Errorf("%w: circuit half-open, its probes are in flight", provider.ErrUnavailable)
)

// Options configures a Breaker. The zero value is ready to use.
type Options struct {
	// Failures is how many consecutive failed calls open the circuit (see the
	// package documentation for what counts as a failure). A success or a
	// not-found answer resets the run. Zero means DefaultFailures (5);
	// negative is an error.
	Failures int

	// CoolDown is how long the circuit stays open, refusing every call at
	// once, before it turns half-open and lets probes through. Zero means
	// DefaultCoolDown (1 s); negative is an error.
	CoolDown time.Duration

	// Probes is how many calls a half-open circuit lets through at the same
	// time; the others are refused as if it were open. That many consecutive
	// successes close the circuit; one failure opens it again for another
	// CoolDown. Zero means DefaultProbes (1); negative is an error.
	Probes int

	// OnStateChange, when set, is called once for every transition, in the
	// order they happen, never concurrently with itself. It runs on the
	// goroutine of a call that made or observed the transition, after the
	// breaker's lock is released, so it may call the Breaker's methods; a
	// slow callback delays that one call. The half-open transition happens
	// lazily: when the first call (or State) arrives after the cool-down.
	OnStateChange func(from, to State)
}

// State is the position of the circuit.
type State int

// The states of a circuit. The zero value is Closed.
const (
	// Closed lets every call through and counts failures.
	Closed State = iota
	// HalfOpen lets Options.Probes calls through to test the store.
	HalfOpen
	// Open refuses every call with provider.ErrUnavailable, without touching
	// the store, until the cool-down has passed.
	Open
)

// String returns "closed", "half-open" or "open".
func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half-open"
	case Open:
		return "open"
	default:
		return fmt.Sprintf("circuit.State(%d)", int(s))
	}
}

// MarshalText encodes the state as its String, so that it reads as a word in
// JSON stats.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes what MarshalText encodes, so that JSON stats read back.
func (s *State) UnmarshalText(text []byte) error {
	for _, c := range []State{Closed, HalfOpen, Open} {
		if string(text) == c.String() {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("aside: circuit: unknown state %q (want closed, half-open or open)", text)
}

// Stats are a Breaker's counters since it was created.
type Stats struct {
	// State is the circuit's current state.
	State State `json:"state"`
	// Opens counts transitions to Open (from Closed or from a failed probe).
	Opens int64 `json:"opens"`
	// Rejected counts calls refused with provider.ErrUnavailable without
	// reaching the store.
	Rejected int64 `json:"rejected"`
}

// Breaker is the circuit in front of one store. Create it, with the provider
// it guards, with Wrap. All methods are safe for concurrent use.
type Breaker struct {
	cb *gobreaker.CircuitBreaker[struct{}]

	opens, rejected atomic.Int64

	// Transitions reach OnStateChange through queue, because gobreaker calls
	// its hook while holding the breaker's lock: a callback that asked for
	// State there would deadlock. pending says the queue has work; delivering
	// is held by the one goroutine that empties it, which keeps the order.
	onStateChange func(from, to State)
	mu            sync.Mutex
	queue         []transition
	pending       atomic.Bool
	delivering    sync.Mutex
}

type transition struct{ from, to State }

// newBreaker validates o and returns a closed Breaker.
func newBreaker(o Options) (*Breaker, error) {
	for _, f := range []struct {
		name  string
		value int
	}{{"Failures", o.Failures}, {"Probes", o.Probes}} {
		if f.value < 0 || f.value > math.MaxUint32 {
			return nil, fmt.Errorf("%w: %s is %d (use 0 for the default, or a positive count)",
				ErrInvalidOptions, f.name, f.value)
		}
	}
	if o.CoolDown < 0 {
		return nil, fmt.Errorf("%w: CoolDown is %v (use 0 for the default of %v, or a positive duration)",
			ErrInvalidOptions, o.CoolDown, DefaultCoolDown)
	}
	if o.Failures == 0 {
		o.Failures = DefaultFailures
	}
	if o.CoolDown == 0 {
		o.CoolDown = DefaultCoolDown
	}
	if o.Probes == 0 {
		o.Probes = DefaultProbes
	}
	b := &Breaker{onStateChange: o.OnStateChange}
	failures := uint32(o.Failures)
	b.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "aside",
		MaxRequests: uint32(o.Probes),
		// Interval 0: closed-state counts are only reset by a success or a
		// state change, so Failures means consecutive failures, however slow.
		Timeout:       o.CoolDown,
		ReadyToTrip:   func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		OnStateChange: b.changed,
		IsSuccessful:  func(verdict error) bool { return verdict == nil },
		IsExcluded:    func(verdict error) bool { return verdict == errNotCounted },
	})
	return b, nil
}

// State returns the circuit's current state. An open circuit whose cool-down
// has passed turns half-open here if no call has turned it yet.
func (b *Breaker) State() State {
	s := fromGobreaker(b.cb.State())
	b.flush()
	return s
}

// Stats returns the counters and the current state.
func (b *Breaker) Stats() Stats {
	return Stats{State: b.State(), Opens: b.opens.Load(), Rejected: b.rejected.Load()}
}

// Verdicts a call returns to gobreaker, which sees only an error: nil counts
// as a success, errNotCounted as neither, errFailed as a failure. The
// caller gets the provider's own error.
var (
	errNotCounted = errors.New("not counted")
	errFailed     = errors.New("failed")
)

// judge classifies a provider call's outcome under the rule written in the
// package documentation. ctx is the caller's.
func judge(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, provider.ErrNotFound), errors.Is(err, provider.ErrWrongType):
		// The store answered.
		return nil
	case ctx.Err() != nil:
		// The caller gave up or ran out of its own time; the store may be fine.
		return errNotCounted
	case errors.Is(err, provider.ErrInvalidKey), errors.Is(err, provider.ErrInvalidTTL),
		errors.Is(err, provider.ErrTooLarge), errors.Is(err, provider.ErrClosed):
		// Refused by the caller's arguments or the adapter's own state,
		// perhaps without reaching the store: it says nothing of its health.
		return errNotCounted
	default:
		// Timeouts of the provider's own bound, network and server errors,
		// and anything unknown.
		return errFailed
	}
}

// do runs call through the breaker for a caller whose context is ctx, and
// returns call's error, or an error matching provider.ErrUnavailable when the
// breaker refused it without running it.
func (b *Breaker) do(ctx context.Context, call func() error) error {
	var err error
	_, verdict := b.cb.Execute(func() (struct{}, error) {
		// A transition to half-open made by this very call is announced
		// before its probe runs, not after it.
		b.flush()
		err = call()
		return struct{}{}, judge(ctx, err)
	})
	b.flush()
	switch verdict {
	case nil, errNotCounted, errFailed:
		return err
	case gobreaker.ErrOpenState:
		b.rejected.Add(1)
		return errOpen
	case gobreaker.ErrTooManyRequests:
		b.rejected.Add(1)
		return errProbing
	default:
		// gobreaker returns nothing else; keep the caller's error if it did.
		return err
	}
}

// changed is gobreaker's hook. It runs under gobreaker's lock, so it only
// counts and queues.
func (b *Breaker) changed(_ string, from, to gobreaker.State) {
	if to == gobreaker.StateOpen {
		b.opens.Add(1)
	}
	if b.onStateChange == nil {
		return
	}
	b.mu.Lock()
	b.queue = append(b.queue, transition{fromGobreaker(from), fromGobreaker(to)})
	b.pending.Store(true)
	b.mu.Unlock()
}

// flush delivers queued transitions to OnStateChange unless another goroutine
// is already delivering (it will pick up ours: it checks pending again after
// letting go, and a callback that calls back into the Breaker lands here while
// its own goroutine delivers).
func (b *Breaker) flush() {
	for b.pending.Load() {
		if !b.delivering.TryLock() {
			return
		}
		b.deliver()
	}
}

func (b *Breaker) deliver() {
	defer b.delivering.Unlock()
	for {
		b.mu.Lock()
		q := b.queue
		b.queue = nil
		b.pending.Store(false)
		b.mu.Unlock()
		if len(q) == 0 {
			return
		}
		for _, t := range q {
			b.onStateChange(t.from, t.to)
		}
	}
}

func fromGobreaker(s gobreaker.State) State {
	switch s {
	case gobreaker.StateHalfOpen:
		return HalfOpen
	case gobreaker.StateOpen:
		return Open
	default:
		return Closed
	}
}
