package coherence

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
)

const testLease = 100 * time.Millisecond

// bus is an in-process Broadcaster (the memory provider's) whose
// subscriptions a test can break and whose publishes it can fail or count.
type bus struct {
	p        *memory.Provider
	mu       sync.Mutex
	subs     []provider.Subscription
	fail     atomic.Bool
	dropHB   atomic.Bool
	silent   atomic.Bool // subscriptions drop what they receive, and never close by themselves
	wrapped  []*silenceable
	publishd atomic.Int64
}

func newBus(t *testing.T) *bus {
	p, err := memory.New(memory.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return &bus{p: p}
}

func (b *bus) Publish(ctx context.Context, ch string, msg []byte) (int64, error) {
	if b.fail.Load() {
		return 0, errors.New("publish refused by the test")
	}
	if b.dropHB.Load() {
		if w, err := decode(msg); err == nil && w.Kind == kindHB {
			return 0, errors.New("heartbeat refused by the test")
		}
	}
	b.publishd.Add(1)
	return b.p.Publish(ctx, ch, msg)
}

func (b *bus) Subscribe(ctx context.Context, ch string) (provider.Subscription, error) {
	if b.fail.Load() {
		return nil, errors.New("subscribe refused by the test")
	}
	s, err := b.p.Subscribe(ctx, ch)
	if err != nil {
		return nil, err
	}
	w := &silenceable{b: b, s: s, ch: make(chan []byte)}
	go w.forward()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, s)
	b.wrapped = append(b.wrapped, w)
	return w, nil
}

// silenceable forwards its subscription's messages, or, while the bus is
// silent, drops them: a dead TCP connection (no messages, no error, no EOF).
type silenceable struct {
	b      *bus
	s      provider.Subscription
	ch     chan []byte
	closed atomic.Bool
}

func (w *silenceable) forward() {
	defer close(w.ch)
	for m := range w.s.Messages() {
		if !w.b.silent.Load() {
			w.ch <- m
		}
	}
}

func (w *silenceable) Messages() <-chan []byte { return w.ch }
func (w *silenceable) Close() error {
	w.closed.Store(true)
	err := w.s.Close()
	for range w.ch { // let forward end
	}
	return err
}

// breakAll closes every subscription, as a CLIENT KILL would.
func (b *bus) breakAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		_ = s.Close()
	}
	b.subs = nil
}

// tier records what a Stream applied.
type tier struct {
	mu      sync.Mutex
	applied []Message
	lapses  int
}

func (tr *tier) apply(m Message) { tr.mu.Lock(); tr.applied = append(tr.applied, m); tr.mu.Unlock() }
func (tr *tier) lapse()          { tr.mu.Lock(); tr.lapses++; tr.mu.Unlock() }
func (tr *tier) count() (applied, lapses int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.applied), tr.lapses
}

func start(t *testing.T, b provider.Broadcaster) (*Stream, *tier) {
	t.Helper()
	tr := &tier{}
	s, err := New(t.Context(), Config{Broadcaster: b, Channel: "test:near", Lease: testLease, Apply: tr.apply, Lapse: tr.lapse})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, tr
}

func waitLease(t *testing.T, s *Stream) uint64 {
	t.Helper()
	var e uint64
	require.Eventually(t, func() bool {
		var ok bool
		e, ok = s.Lease()
		return ok
	}, 5*time.Second, time.Millisecond, "no lease")
	return e
}

func TestNewRefusesAnUnusableConfig(t *testing.T) {
	b := newBus(t)
	apply := func(Message) {}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"a nil Broadcaster", Config{Channel: "c", Apply: apply}},
		{"an empty Channel", Config{Broadcaster: b, Apply: apply}},
		{"a nil Apply", Config{Broadcaster: b, Channel: "c"}},
		{"a negative Lease", Config{Broadcaster: b, Channel: "c", Apply: apply, Lease: -1}},
		{"a Lease below 10ms", Config{Broadcaster: b, Channel: "c", Apply: apply, Lease: time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(t.Context(), tc.cfg)
			require.ErrorIs(t, err, ErrConfig)
		})
	}
}

func TestAStreamTakesItsLeaseFromItsOwnHeartbeat(t *testing.T) {
	s, _ := start(t, newBus(t))
	waitLease(t, s)
}

func TestInvalidateAppliesEverywhereInOrderAndReturnsOnAcks(t *testing.T) {
	b := newBus(t)
	a, ta := start(t, b)
	c, tc := start(t, b)
	waitLease(t, a)
	waitLease(t, c)
	time.Sleep(testLease + testLease/marginShare) // past the start-up window
	for i := range 20 {
		g := a.Generation()
		began := time.Now()
		require.NoError(t, a.Invalidate(t.Context(), Message{Keys: []string{string(rune('a' + i))}}))
		require.Less(t, time.Since(began), testLease/2, "an Invalidate all of whose members ACK is not held to the bound")
		require.Greater(t, a.Generation(), g)
	}
	for _, tr := range []*tier{ta, tc} {
		n, _ := tr.count()
		require.Equal(t, 20, n)
		for i, m := range tr.applied {
			require.Equal(t, []string{string(rune('a' + i))}, m.Keys)
		}
	}
}

func TestGenerationMovesBeforeApply(t *testing.T) {
	b := newBus(t)
	var s *Stream
	var before atomic.Uint64
	var moved atomic.Bool
	s, err := New(t.Context(), Config{Broadcaster: b, Channel: "test:near", Lease: testLease,
		Apply: func(Message) { moved.Store(s.Generation() > before.Load()) }})
	require.NoError(t, err)
	defer s.Close()
	waitLease(t, s)
	before.Store(s.Generation())
	require.NoError(t, s.Invalidate(t.Context(), Message{All: true}))
	require.True(t, moved.Load())
}

func TestInvalidateWaitsForASilentMemberUntilTheBoundOnly(t *testing.T) {
	b := newBus(t)
	s, tr := start(t, b)
	waitLease(t, s)
	time.Sleep(testLease + testLease/marginShare)
	// A member that heartbeats but never ACKs (frozen after its HB).
	hb, err := encode(&wire{Kind: kindHB, Member: 42, N: 1})
	require.NoError(t, err)
	_, err = b.Publish(t.Context(), "test:near", hb)
	require.NoError(t, err)
	time.Sleep(5 * time.Millisecond)
	began := time.Now()
	require.NoError(t, s.Invalidate(t.Context(), Message{Tags: []string{"t"}}))
	took := time.Since(began)
	require.GreaterOrEqual(t, took, testLease+testLease/marginShare-5*time.Millisecond)
	require.Less(t, took, testLease+testLease/marginShare+50*time.Millisecond)
	n, _ := tr.count()
	require.Equal(t, 1, n)
	// Once it has not been heard from for Lease+margin it is no member.
	time.Sleep(testLease + testLease/marginShare)
	began = time.Now()
	require.NoError(t, s.Invalidate(t.Context(), Message{Tags: []string{"t"}}))
	require.Less(t, time.Since(began), testLease/2)
}

func TestAFreshSubscriptionWaitsOutTheLeasesItCannotHaveSeen(t *testing.T) {
	s, _ := start(t, newBus(t))
	waitLease(t, s)
	began := time.Now()
	require.NoError(t, s.Invalidate(t.Context(), Message{All: true}))
	// It may have missed HBs sent before it subscribed: it waits until
	// subscription + Lease + margin.
	require.Greater(t, time.Since(began), testLease/2)
}

func TestABrokenSubscriptionLapsesAndComesBackInANewEpoch(t *testing.T) {
	b := newBus(t)
	s, tr := start(t, b)
	e := waitLease(t, s)
	b.breakAll()
	require.Eventually(t, func() bool { _, l := tr.count(); return l == 1 }, 5*time.Second, time.Millisecond)
	e2 := waitLease(t, s)
	require.Greater(t, e2, e+1, "a lapse and a new subscription each start an epoch")
}

func TestAHungSubscriptionIsClosedAndReplaced(t *testing.T) {
	b := newBus(t)
	b.silent.Store(true)
	s, tr := start(t, b)
	// Subscribed, but nothing comes: no lease, and within a Lease the
	// stream gives up on that subscription.
	first := func() *silenceable { b.mu.Lock(); defer b.mu.Unlock(); return b.wrapped[0] }()
	require.Eventually(t, first.closed.Load, 5*time.Second, time.Millisecond)
	_, ok := s.Lease()
	require.False(t, ok)
	b.silent.Store(false)
	e := waitLease(t, s)
	held := func() *silenceable { b.mu.Lock(); defer b.mu.Unlock(); return b.wrapped[len(b.wrapped)-1] }()
	// Now the connection dies silently under a held lease.
	b.silent.Store(true)
	require.Eventually(t, func() bool { _, ok := s.Lease(); return !ok }, 5*time.Second, time.Millisecond)
	require.Eventually(t, held.closed.Load, 5*time.Second, time.Millisecond, "the hung subscription was not closed")
	b.silent.Store(false)
	e2 := waitLease(t, s)
	require.Greater(t, e2, e)
	_, lapses := tr.count()
	require.Positive(t, lapses)
}

func TestALeaseWithoutHeartbeatsLapses(t *testing.T) {
	b := newBus(t)
	s, tr := start(t, b)
	waitLease(t, s)
	b.dropHB.Store(true)
	began := time.Now()
	require.Eventually(t, func() bool { _, ok := s.Lease(); return !ok }, 5*time.Second, time.Millisecond)
	require.Less(t, time.Since(began), testLease+20*time.Millisecond)
	require.Eventually(t, func() bool { _, l := tr.count(); return l >= 1 }, time.Second, time.Millisecond)
	b.dropHB.Store(false)
	waitLease(t, s)
}

func TestAFailedPublishIsAnError(t *testing.T) {
	b := newBus(t)
	s, _ := start(t, b)
	waitLease(t, s)
	b.fail.Store(true)
	require.Error(t, s.Invalidate(t.Context(), Message{All: true}))
}

func TestAStoreDownAtStartIsRetriedInTheBackground(t *testing.T) {
	b := newBus(t)
	b.fail.Store(true)
	s, _ := start(t, b)
	_, ok := s.Lease()
	require.False(t, ok)
	b.fail.Store(false)
	waitLease(t, s)
}

func TestGarbageOnTheChannelIsIgnored(t *testing.T) {
	b := newBus(t)
	s, tr := start(t, b)
	waitLease(t, s)
	for _, g := range [][]byte{nil, {version}, {version, 0xc1}, {2, 0x90}, []byte("hello"),
		append([]byte{version}, 0x98, 9, 1, 1, 0xc0, 0xc0, 0xc0, 0xc2, 0xc0)} {
		_, err := b.Publish(t.Context(), "test:near", g)
		require.NoError(t, err)
	}
	require.NoError(t, s.Invalidate(t.Context(), Message{Keys: []string{"k"}}))
	n, l := tr.count()
	require.Equal(t, 1, n)
	require.Equal(t, 0, l)
	_, ok := s.Lease()
	require.True(t, ok)
}

func TestCloseStopsEverything(t *testing.T) {
	b := newBus(t)
	s, _ := start(t, b)
	waitLease(t, s)
	// A silent member makes the next Invalidate wait; Close releases it.
	hb, _ := encode(&wire{Kind: kindHB, Member: 7, N: 1})
	_, _ = b.Publish(t.Context(), "test:near", hb)
	errc := make(chan error, 1)
	go func() { errc <- s.Invalidate(context.Background(), Message{All: true}) }()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	select {
	case err := <-errc:
		if err != nil {
			require.ErrorIs(t, err, ErrClosed)
		}
	case <-time.After(time.Second):
		t.Fatal("Invalidate still waiting after Close")
	}
	_, ok := s.Lease()
	require.False(t, ok)
	require.ErrorIs(t, s.Invalidate(t.Context(), Message{}), ErrClosed)
}

func TestInvalidateHonoursItsContext(t *testing.T) {
	b := newBus(t)
	s, _ := start(t, b)
	waitLease(t, s)
	hb, _ := encode(&wire{Kind: kindHB, Member: 9, N: 1})
	_, _ = b.Publish(t.Context(), "test:near", hb)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, s.Invalidate(ctx, Message{All: true}), context.DeadlineExceeded)
}

func TestWireRoundTrips(t *testing.T) {
	in := wire{Kind: kindINV, Member: 1 << 63, N: 5, Keys: []string{"a", ""}, Tags: []string{"t"}, Patterns: []string{"p*"}, All: true}
	b, err := encode(&in)
	require.NoError(t, err)
	out, err := decode(b)
	require.NoError(t, err)
	require.Equal(t, in.Keys, out.Keys)
	require.Equal(t, in.Member, out.Member)
	require.True(t, out.All)
	ack, _ := encode(&wire{Kind: kindACK, Member: 3, Acks: []uint64{1, 2, 3}})
	_, err = decode(ack)
	require.Error(t, err, "an odd ACK list is garbage")
}

func FuzzDecode(f *testing.F) {
	for _, w := range []wire{{Kind: kindHB, Member: 1, N: 2}, {Kind: kindINV, Keys: []string{"k"}}, {Kind: kindACK, Acks: []uint64{1, 2}}} {
		b, _ := encode(&w)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	// Hostile shapes: huge array and string counts, deep nesting.
	f.Add([]byte{version, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{version, 0x98, 2, 1, 1, 0xdd, 0x7f, 0xff, 0xff, 0xff})
	f.Add(append([]byte{version}, slices.Repeat([]byte{0x91}, 10000)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := decode(b)
		if err != nil {
			return
		}
		again, err := encode(&w)
		require.NoError(t, err)
		w2, err := decode(again)
		require.NoError(t, err)
		require.Equal(t, w.Kind, w2.Kind)
	})
}

// The lease runs from when the heartbeat was sent, not from when it came
// back: a heartbeat that waited behind a stalled Apply for longer than a
// Lease gives no lease at all, because invalidators that published after it
// have stopped waiting for this instance.
func TestALateHeartbeatGivesNoLease(t *testing.T) {
	b := newBus(t)
	var stall atomic.Bool
	release := make(chan struct{})
	s, err := New(t.Context(), Config{Broadcaster: b, Channel: "test:near", Lease: testLease,
		Apply: func(Message) {
			if stall.Load() {
				<-release
			}
		}})
	require.NoError(t, err)
	defer s.Close()
	waitLease(t, s)
	stall.Store(true)
	inv, _ := encode(&wire{Kind: kindINV, Member: 77, N: 1})
	_, err = b.Publish(t.Context(), "test:near", inv)
	require.NoError(t, err)
	// Heartbeats queue up behind the stalled INV, then stop.
	time.Sleep(testLease / 2)
	b.dropHB.Store(true)
	time.Sleep(2 * testLease)
	stall.Store(false)
	close(release)
	deadline := time.Now().Add(testLease / 2)
	for time.Now().Before(deadline) {
		_, ok := s.Lease()
		require.False(t, ok, "a lease from heartbeats sent more than a Lease ago")
	}
}
