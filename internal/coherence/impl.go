package coherence

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/provider"
)

// Fixed ratios of the protocol, relative to Config.Lease.
const (
	heartbeats  = 5  // heartbeats per Lease
	marginShare = 10 // margin = Lease / marginShare
	checks      = 10 // lease checks per Lease on the stream goroutine
	// minBackoff is the first pause before resubscribing; it doubles up to
	// Lease.
	minBackoff = 10 * time.Millisecond
	// minLease is the shortest Lease: a round trip to the store and back
	// has to fit in it many times over.
	minLease = 10 * time.Millisecond
)

// impl is the Stream's state.
//
// Bounds: waiters holds one entry per Invalidate in progress (removed when
// it returns); seen holds one entry per instance heard from within
// Lease + margin (pruned on every check); acks holds the ACKs not yet
// published, at most the INVs received since the acker's last publish.
type impl struct {
	cfg    Config
	margin time.Duration
	self   uint64    // this instance's member id, random
	base   time.Time // origin of now()
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	state atomic.Pointer[leaseState]
	gen   atomic.Uint64
	seq   atomic.Int64 // of own INVs

	mu       sync.Mutex
	waiters  map[int64]*waiter
	seen     map[uint64]int64 // member → now() when its last HB arrived
	subStart int64            // now() when the current subscription was confirmed; -1 if none

	ackMu   sync.Mutex
	acks    []uint64 // (member, seq) pairs to ACK
	ackWake chan struct{}
	hbWake  chan struct{}
}

// leaseState is replaced whole, so that Lease reads a consistent pair.
type leaseState struct {
	epoch uint64
	end   int64 // now() at which the lease ends; 0: not held
}

// waiter is one Invalidate in progress; guarded by impl.mu.
type waiter struct {
	done      chan struct{} // closed when back and every needed member ACKed
	back      bool          // own INV came back (and was applied)
	need      map[uint64]bool
	acked     map[uint64]bool
	notBefore int64 // now() before which the view of members is incomplete
	closed    bool
}

func (s *impl) now() int64 { return int64(time.Since(s.base)) }

func newStream(ctx context.Context, cfg Config) (*Stream, error) {
	switch {
	case cfg.Broadcaster == nil:
		return nil, fmt.Errorf("%w: Broadcaster is nil", ErrConfig)
	case cfg.Channel == "":
		return nil, fmt.Errorf("%w: Channel is empty", ErrConfig)
	case cfg.Apply == nil:
		return nil, fmt.Errorf("%w: Apply is nil", ErrConfig)
	case cfg.Lease < 0 || cfg.Lease > 0 && cfg.Lease < minLease:
		return nil, fmt.Errorf("%w: Lease is %v (use 0 for the default of 1s, or at least %v)", ErrConfig, cfg.Lease, minLease)
	}
	if cfg.Lease == 0 {
		cfg.Lease = time.Second
	}
	if cfg.Lapse == nil {
		cfg.Lapse = func() {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stream{impl{
		cfg:      cfg,
		margin:   cfg.Lease / marginShare,
		self:     rand.Uint64(),
		base:     time.Now(),
		waiters:  map[int64]*waiter{},
		seen:     map[uint64]int64{},
		subStart: -1,
		ackWake:  make(chan struct{}, 1),
		hbWake:   make(chan struct{}, 1),
	}}
	s.state.Store(&leaseState{epoch: 1})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// The first attempt runs under the caller's ctx; a failure is retried
	// by the stream goroutine.
	sub, err := s.subscribe(ctx)
	if err != nil {
		cfg.Logger.Warn("aside: coherence: subscribe failed; retrying in the background", "error", err)
		sub = nil
	}
	s.wg.Add(3)
	go s.run(sub)
	go s.heartbeat()
	go s.acker()
	return s, nil
}

func (s *impl) lease() (uint64, bool) {
	st := s.state.Load()
	return st.epoch, st.end != 0 && s.now() < st.end
}

func (s *impl) generation() uint64 { return s.gen.Load() }

// subscribe makes one attempt, bounded by ctx and Lease.
func (s *impl) subscribe(ctx context.Context) (provider.Subscription, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Lease)
	defer cancel()
	return s.cfg.Broadcaster.Subscribe(ctx, s.cfg.Channel)
}

// run is the stream goroutine: it owns the subscription, applies messages
// in order, and lapses and resubscribes.
func (s *impl) run(sub provider.Subscription) {
	defer s.wg.Done()
	backoff := minBackoff
	for {
		for sub == nil {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(backoff/2 + rand.N(backoff/2+1)):
			}
			var err error
			if sub, err = s.subscribe(s.ctx); err != nil {
				s.cfg.Logger.Warn("aside: coherence: subscribe failed", "error", err, "retry_in", backoff)
				sub = nil
				backoff = min(2*backoff, s.cfg.Lease)
			}
		}
		s.confirmed()
		why := s.receive(sub)
		// Closed whatever the reason: a subscription whose own HBs stopped
		// coming back may be a dead TCP connection that never reports it.
		_ = sub.Close()
		sub = nil
		s.mu.Lock()
		s.subStart = -1
		s.mu.Unlock()
		if s.ctx.Err() != nil {
			return // Close ends the epoch; Lapse is not called on Close
		}
		s.lapse(why)
		backoff = minBackoff
	}
}

// confirmed starts a new epoch on a new subscription: a fill begun before
// it may have missed an INV published while nobody listened.
func (s *impl) confirmed() {
	s.mu.Lock()
	s.subStart = s.now()
	s.mu.Unlock()
	s.gen.Add(1)
	s.state.Store(&leaseState{epoch: s.state.Load().epoch + 1})
	select {
	case s.hbWake <- struct{}{}: // take the lease without waiting a beat
	default:
	}
}

// lapse ends the lease and the epoch, and tells the tier to forget.
func (s *impl) lapse(why string) {
	s.gen.Add(1)
	st := s.state.Load()
	s.state.Store(&leaseState{epoch: st.epoch + 1})
	if s.ctx.Err() == nil {
		s.cfg.Logger.Info("aside: coherence: lease lapsed", "reason", why)
	}
	s.cfg.Lapse()
}

// receive applies messages until the subscription breaks, the lease runs
// out (no own HB came back in time: the store or the connection is hung, or
// this process was frozen), no own HB came back within Lease of the
// subscription's start, or the Stream closes. It says why it returned.
func (s *impl) receive(sub provider.Subscription) string {
	tick := time.NewTicker(s.cfg.Lease / checks)
	defer tick.Stop()
	start := s.now()
	for {
		select {
		case <-s.ctx.Done():
			return "closed"
		case b, ok := <-sub.Messages():
			if !ok {
				return "subscription broken"
			}
			s.handle(b)
		case <-tick.C:
			now := s.now()
			st := s.state.Load()
			if st.end != 0 && now >= st.end {
				return "no heartbeat came back within the lease"
			}
			if st.end == 0 && time.Duration(now-start) > s.cfg.Lease {
				return "no heartbeat came back since subscribing"
			}
			s.prune(now)
		}
	}
}

// handle applies one message.
func (s *impl) handle(b []byte) {
	w, err := decode(b)
	if err != nil {
		s.cfg.Logger.Debug("aside: coherence: ignored a garbled message", "bytes", len(b))
		return
	}
	switch w.Kind {
	case kindHB:
		if w.Member != s.self {
			s.mu.Lock()
			s.seen[w.Member] = s.now()
			s.mu.Unlock()
			return
		}
		// Every INV the store processed before this HB has been applied.
		st := s.state.Load()
		if end := w.N + int64(s.cfg.Lease); end > st.end && end > s.now() {
			s.state.Store(&leaseState{epoch: st.epoch, end: end})
		}
	case kindINV:
		s.gen.Add(1)
		s.cfg.Apply(Message{Keys: w.Keys, Tags: w.Tags, Patterns: w.Patterns, All: w.All})
		if w.Member == s.self {
			s.back(w.N)
		} else {
			s.ack(w.Member, w.N)
		}
	case kindACK:
		s.mu.Lock()
		for i := 0; i < len(w.Acks); i += 2 {
			if w.Acks[i] != s.self {
				continue
			}
			if wt := s.waiters[int64(w.Acks[i+1])]; wt != nil {
				wt.acked[w.Member] = true
				s.check(wt)
			}
		}
		s.mu.Unlock()
	}
}

// back records that the own INV seq came back: the members to wait for are
// those heard from within Lease + margin; an instance heard from earlier
// lost its lease before now. HBs the store processed before the current
// subscription was confirmed were not heard, so the view is only complete
// from subStart + Lease + margin on.
func (s *impl) back(seq int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.waiters[seq]
	if w == nil {
		return
	}
	now := s.now()
	window := int64(s.cfg.Lease + s.margin)
	w.back = true
	w.notBefore = s.subStart + window
	for m, at := range s.seen {
		if now-at <= window {
			w.need[m] = true
		}
	}
	s.check(w)
}

// check closes w.done once w is back and every needed member ACKed; s.mu
// held.
func (s *impl) check(w *waiter) {
	if w.closed || !w.back {
		return
	}
	for m := range w.need {
		if !w.acked[m] {
			return
		}
	}
	w.closed = true
	close(w.done)
}

// prune forgets members not heard from within Lease + margin.
func (s *impl) prune(now int64) {
	window := int64(s.cfg.Lease + s.margin)
	s.mu.Lock()
	for m, at := range s.seen {
		if now-at > window {
			delete(s.seen, m)
		}
	}
	s.mu.Unlock()
}

// ack queues an ACK for the acker goroutine, which batches them.
func (s *impl) ack(member uint64, seq int64) {
	s.ackMu.Lock()
	s.acks = append(s.acks, member, uint64(seq))
	s.ackMu.Unlock()
	select {
	case s.ackWake <- struct{}{}:
	default:
	}
}

// acker publishes the queued ACKs, all of them in one message.
func (s *impl) acker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.ackWake:
		}
		s.ackMu.Lock()
		acks := s.acks
		s.acks = nil
		s.ackMu.Unlock()
		if len(acks) == 0 {
			continue
		}
		// A lost ACK costs its invalidator the wait for the bound, no more.
		_ = s.publish(&wire{Kind: kindACK, Member: s.self, Acks: acks})
	}
}

// heartbeat publishes an HB every Lease/5, and at once after a new
// subscription.
func (s *impl) heartbeat() {
	defer s.wg.Done()
	tick := time.NewTicker(s.cfg.Lease / heartbeats)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		case <-s.hbWake:
		}
		// The send time is taken before the publish: the lease may only
		// run from a moment before the store processed the HB.
		_ = s.publish(&wire{Kind: kindHB, Member: s.self, N: s.now()})
	}
}

// publish sends w, bounded by Lease (a later publish is of no use).
func (s *impl) publish(w *wire) error {
	b, err := encode(w)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Lease)
	defer cancel()
	_, err = s.cfg.Broadcaster.Publish(ctx, s.cfg.Channel, b)
	return err
}

func (s *impl) invalidate(ctx context.Context, m Message) error {
	if s.closed.Load() {
		return ErrClosed
	}
	seq := s.seq.Add(1)
	b, err := encode(&wire{Kind: kindINV, Member: s.self, N: seq,
		Keys: m.Keys, Tags: m.Tags, Patterns: m.Patterns, All: m.All})
	if err != nil {
		return fmt.Errorf("aside: coherence: encode: %w", err)
	}
	wt := &waiter{done: make(chan struct{}), need: map[uint64]bool{}, acked: map[uint64]bool{}}
	s.mu.Lock()
	s.waiters[seq] = wt
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.waiters, seq)
		s.mu.Unlock()
	}()
	if _, err := s.cfg.Broadcaster.Publish(ctx, s.cfg.Channel, b); err != nil {
		return fmt.Errorf("aside: coherence: publish: %w", err)
	}
	// The store processed the INV before its reply arrived: every lease
	// resting on an HB it processed earlier ends before now + Lease.
	bound := time.NewTimer(s.cfg.Lease + s.margin)
	defer bound.Stop()
	select {
	case <-wt.done:
		s.mu.Lock()
		wait := time.Duration(wt.notBefore - s.now())
		s.mu.Unlock()
		if wait <= 0 {
			return nil
		}
		select {
		case <-time.After(wait):
			return nil
		case <-bound.C:
			return nil
		case <-ctx.Done():
		case <-s.ctx.Done():
			return ErrClosed
		}
	case <-bound.C:
		return nil
	case <-ctx.Done():
	case <-s.ctx.Done():
		return ErrClosed
	}
	return fmt.Errorf("aside: coherence: invalidation not confirmed: %w", ctx.Err())
}

func (s *impl) close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	s.state.Store(&leaseState{epoch: s.state.Load().epoch + 1})
	return nil
}
