package upstash_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

// action is what the faulty server does with one request.
type action int

const (
	pass       action = iota
	lostReply         // run it, then close the connection without a reply
	cutReply          // run it, then send half the reply
	beforeRun         // close the connection without running it
	status503         // answer 503 without running it
	status401         // answer 401
	quotaError        // answer Upstash's monthly quota error without running it
)

// faulty puts scripted faults in front of an emulator and records every
// request body it got.
type faulty struct {
	next http.Handler
	plan func(n int, body string) action

	mu     sync.Mutex
	bodies []string
}

func (f *faulty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	n := len(f.bodies)
	f.bodies = append(f.bodies, string(body))
	f.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	a := pass
	if f.plan != nil {
		a = f.plan(n, string(body))
	}
	hangUp := func() {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}
	switch a {
	case pass:
		f.next.ServeHTTP(w, r)
	case lostReply:
		f.next.ServeHTTP(httptest.NewRecorder(), r)
		hangUp()
	case cutReply:
		rec := httptest.NewRecorder()
		f.next.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		w.Header().Set("Content-Length", itoa(len(out)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out[:len(out)/2])
		w.(http.Flusher).Flush()
		hangUp()
	case beforeRun:
		hangUp()
	case status503:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"upstream unavailable"}`))
	case status401:
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"WRONGPASS invalid or missing auth token"}`))
	case quotaError:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"ERR max requests limit exceeded. Limit: 500000, Usage: 500000"}`))
	}
}

func (f *faulty) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.bodies...)
}

func itoa(n int) string { return strconv.Itoa(n) }

// newFaulty serves the emulator behind plan and returns a provider on it.
func newFaulty(t *testing.T, plan func(n int, body string) action, o upstash.Options) (*faulty, *fixture, *upstash.Provider) {
	t.Helper()
	f := newFixture(t, emulator.Options{})
	fl := &faulty{next: f.emu, plan: plan}
	srv := httptest.NewServer(fl)
	t.Cleanup(srv.Close)
	p, err := upstash.New(srv.URL, testToken, o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return fl, f, p
}

// onFirst applies a to the first request whose body contains marker.
func onFirst(marker string, a action) func(int, string) action {
	var done atomic.Bool
	return func(_ int, body string) action {
		if strings.Contains(body, marker) && done.CompareAndSwap(false, true) {
			return a
		}
		return pass
	}
}

func count(bodies []string, marker string) int {
	n := 0
	for _, b := range bodies {
		n += strings.Count(b, marker)
	}
	return n
}

func TestAReadWhoseReplyIsLostIsSentAgain(t *testing.T) {
	for _, a := range []action{lostReply, cutReply, beforeRun, status503} {
		t.Run(map[action]string{lostReply: "lost reply", cutReply: "cut reply", beforeRun: "dropped before it ran", status503: "503"}[a], func(t *testing.T) {
			fl, f, p := newFaulty(t, onFirst(`"GET"`, a), upstash.Options{})
			ctx := ctxFor(t)
			k := prefix(t) + "k"
			require.NoError(t, p.Set(ctx, k, []byte("v"), 0))
			v, err := p.Get(ctx, k)
			require.NoError(t, err)
			require.Equal(t, []byte("v"), v)
			require.Equal(t, 2, count(fl.requests(), `"GET"`), "the GET was sent twice")
			require.EqualValues(t, 1, p.Stats().Retries)
			_ = f
		})
	}
}

// The fault users of the official TypeScript client report: a write whose
// reply was lost is applied again. Here it fails instead, and ran once.
func TestAWriteWhoseReplyIsLostIsNotSentAgain(t *testing.T) {
	ops := map[string]func(p *upstash.Provider, ctx context.Context, k string) error{
		"SET NX GET": func(p *upstash.Provider, ctx context.Context, k string) error {
			_, _, err := p.Add(ctx, k, []byte("v"), 0)
			return err
		},
		"DEL": func(p *upstash.Provider, ctx context.Context, k string) error {
			_, err := p.Delete(ctx, k)
			return err
		},
		"a script": func(p *upstash.Provider, ctx context.Context, k string) error {
			_, err := p.CompareAndSwap(ctx, k, nil, []byte("v"), 0)
			return err
		},
		"SET": func(p *upstash.Provider, ctx context.Context, k string) error {
			return p.Set(ctx, k, []byte("v"), 0)
		},
	}
	markers := map[string]string{"SET NX GET": `"NX"`, "DEL": `"DEL"`, "a script": `"EVAL"`, "SET": `"SET"`}
	for name, op := range ops {
		for _, a := range []action{lostReply, cutReply, status503} {
			t.Run(name+" "+map[action]string{lostReply: "lost reply", cutReply: "cut reply", status503: "503"}[a], func(t *testing.T) {
				fl, _, p := newFaulty(t, onFirst(markers[name], a), upstash.Options{})
				err := op(p, ctxFor(t), prefix(t)+"k")
				require.Error(t, err)
				require.Contains(t, err.Error(), "not sent again")
				require.Equal(t, 1, count(fl.requests(), markers[name]), "sent once")
				require.Zero(t, p.Stats().Retries)
				require.EqualValues(t, 1, p.Stats().Unconfirmed)
			})
		}
	}
}

// A request that never reached the server runs nothing: it goes again,
// writes included.
func TestAWriteThatNeverLeftIsSentAgain(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	var refuse atomic.Int32
	refuse.Store(1)
	var d net.Dialer
	client := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if refuse.Add(-1) >= 0 {
				return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
			}
			return d.DialContext(ctx, network, addr)
		},
	}}
	p := f.provider(t, upstash.Options{HTTPClient: client})
	ctx := ctxFor(t)
	k := prefix(t) + "k"
	f.emu.ResetStats()
	_, added, err := p.Add(ctx, k, []byte("v"), 0)
	require.NoError(t, err)
	require.True(t, added)
	require.EqualValues(t, 1, f.emu.Stats().CommandsByName["set"])
	require.EqualValues(t, 1, p.Stats().Retries)
}

func TestQuotaErrorsAreNotRetried(t *testing.T) {
	fl, _, p := newFaulty(t, func(int, string) action { return quotaError }, upstash.Options{})
	ctx := ctxFor(t)
	_, err := p.Get(ctx, prefix(t)+"k")
	require.ErrorIs(t, err, upstash.ErrQuota)
	require.Len(t, fl.requests(), 1)
	err = p.Set(ctx, prefix(t)+"k", []byte("v"), 0)
	require.ErrorIs(t, err, upstash.ErrQuota)
	require.Len(t, fl.requests(), 2)
	s := p.Stats()
	require.EqualValues(t, 2, s.QuotaErrors)
	require.Zero(t, s.Retries)
	require.Zero(t, s.Commands, "a refused command is not billed")
}

func TestQuotaErrorsOfTheEmulator(t *testing.T) {
	for _, q := range []emulator.Quota{emulator.QuotaMaxRequests, emulator.QuotaDailyRequests, emulator.QuotaRequestSize, emulator.QuotaDBCapacity} {
		t.Run(q.String(), func(t *testing.T) {
			f := newFixture(t, emulator.Options{Faults: emulator.Faults{QuotaRate: 1, Quota: q}})
			p := f.provider(t, upstash.Options{})
			err := p.Set(ctxFor(t), prefix(t)+"k", []byte("v"), 0)
			require.ErrorIs(t, err, upstash.ErrQuota)
			require.Equal(t, q == emulator.QuotaRequestSize, errors.Is(err, provider.ErrTooLarge))
			require.EqualValues(t, 1, f.emu.Stats().Requests, "not retried")
			require.EqualValues(t, 1, p.Stats().QuotaErrors)
		})
	}
}

func TestARejectedTokenIsNamedButNeverShown(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	const wrong = "AXwrong-token-value-123"
	p, err := upstash.New(f.url, wrong, upstash.Options{})
	require.NoError(t, err)
	defer p.Close()
	err = p.Ping(ctxFor(t))
	require.ErrorIs(t, err, upstash.ErrUnauthorized)
	require.NotContains(t, err.Error(), wrong)
	require.NotContains(t, err.Error(), f.url)
	require.Contains(t, err.Error(), "token was rejected")
	require.EqualValues(t, 1, f.emu.Stats().Unauthorized, "not retried")
	require.EqualValues(t, 1, p.Stats().Unauthorized)
}

func TestWrongTypeIsProviderErrWrongType(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{})
	ctx := ctxFor(t)
	k := prefix(t) + "hash"
	require.NoError(t, f.rdb.HSet(ctx, k, "field", "v").Err())
	_, err := p.Get(ctx, k)
	require.ErrorIs(t, err, provider.ErrWrongType)
	_, _, err = p.Add(ctx, k, []byte("v"), 0)
	require.ErrorIs(t, err, provider.ErrWrongType)
	_, err = p.CompareAndSwap(ctx, k, []byte("x"), []byte("v"), 0)
	require.ErrorIs(t, err, provider.ErrWrongType)
	got, err := p.GetMulti(ctx, []string{k})
	require.NoError(t, err)
	require.Nil(t, got[0], "MGET reads another type as missing")
	_, err = p.GetAddMulti(ctx, []provider.Fetch{{Key: k + "x", Add: []byte("lease")}, {Key: k, Add: []byte("lease")}})
	require.ErrorIs(t, err, provider.ErrWrongType, "a fetch that adds to a hash")
	res, err := p.GetAddMulti(ctx, []provider.Fetch{{Key: k}})
	require.NoError(t, err)
	require.Equal(t, provider.AddResult{}, res[0], "a read-only fetch reads a hash as missing, as MGET does")
	_, err = p.CompareAndSwapMulti(ctx, []provider.Swap{{Key: k + "y", Old: []byte("x"), New: []byte("v")}, {Key: k, Old: []byte("x"), New: []byte("v")}})
	require.ErrorIs(t, err, provider.ErrWrongType)
	require.Equal(t, "v", f.rdb.HGet(ctx, k, "field").Val(), "the hash is left alone")
}

// Text another client stored is not a value of this provider: Get and Add
// say so (the Cache then deletes it), GetMulti reads it as missing, and
// CompareAndSwap never matches it.
func TestTextAnotherClientWroteIsNotAValue(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{})
	ctx := ctxFor(t)
	k := prefix(t) + "foreign"
	require.NoError(t, f.rdb.Set(ctx, k, "plain text, not base64!", 0).Err())
	_, err := p.Get(ctx, k)
	require.ErrorIs(t, err, provider.ErrWrongType)
	_, _, err = p.Add(ctx, k, []byte("v"), 0)
	require.ErrorIs(t, err, provider.ErrWrongType)
	got, err := p.GetMulti(ctx, []string{k})
	require.NoError(t, err)
	require.Nil(t, got[0])
	ok, err := p.CompareAndSwap(ctx, k, []byte("plain text, not base64!"), []byte("v"), 0)
	require.NoError(t, err)
	require.False(t, ok)
	_, err = p.GetAddMulti(ctx, []provider.Fetch{{Key: k, Add: []byte("lease")}})
	require.ErrorIs(t, err, provider.ErrWrongType, "a fetch that would add")
	res, err := p.GetAddMulti(ctx, []provider.Fetch{{Key: k}})
	require.NoError(t, err)
	require.Equal(t, provider.AddResult{}, res[0], "a read-only fetch reads it as missing")
	oks, err := p.CompareAndSwapMulti(ctx, []provider.Swap{{Key: k, Old: []byte("plain text, not base64!"), New: []byte("v")}})
	require.NoError(t, err)
	require.Equal(t, []bool{false}, oks)
	n, err := p.Delete(ctx, k)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}

// Reads and writes share one queue and one pipeline keeps their order: a
// read made after a write, while both wait for a request, sees the write.
func TestAReadQueuedAfterAWriteSeesIt(t *testing.T) {
	release := make(chan struct{})
	var hold atomic.Bool
	fl, _, p := newFaulty(t, func(n int, body string) action {
		if hold.CompareAndSwap(true, false) {
			<-release // hold the only request slot while the others queue
		}
		return pass
	}, upstash.Options{MaxInFlight: 1, Timeout: 10 * time.Second})
	ctx := ctxFor(t)
	k := prefix(t) + "k"
	require.NoError(t, p.Set(ctx, k, []byte("old"), 0))
	hold.Store(true)

	// The pauses order the calls' arrival in the queue; they are long so
	// that a busy machine does not reorder the goroutines.
	const pause = 200 * time.Millisecond
	var wg sync.WaitGroup
	wg.Go(func() { assert.NoError(t, p.Ping(ctx)) }) // takes the slot and blocks
	time.Sleep(pause)
	wg.Go(func() { assert.NoError(t, p.Set(ctx, k, []byte("new"), 0)) })
	time.Sleep(pause) // the SET is queued before the GET
	var got []byte
	wg.Go(func() {
		var err error
		got, err = p.Get(ctx, k)
		assert.NoError(t, err)
	})
	time.Sleep(pause)
	close(release)
	wg.Wait()
	require.Equal(t, []byte("new"), got)
	bodies := fl.requests()
	last := bodies[len(bodies)-1]
	require.Less(t, strings.Index(last, `"SET"`), strings.Index(last, `"GET"`), "one pipeline, SET first: %s", last)
}

// However many callers wait and however slow the server, each call returns
// within Options.Timeout.
func TestEveryCallReturnsWithinTimeout(t *testing.T) {
	f := newFixture(t, emulator.Options{Faults: emulator.Faults{Latency: time.Second}})
	const timeout = 150 * time.Millisecond
	p := f.provider(t, upstash.Options{Timeout: timeout})
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	var worst atomic.Int64
	for g := range 32 {
		wg.Go(func() {
			start := time.Now()
			_, err := p.Get(ctx, prefix(t)+itoa(g))
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			if d := int64(time.Since(start)); d > worst.Load() {
				worst.Store(d)
			}
		})
	}
	wg.Wait()
	// Generous: the bound is 150 ms; only a starved machine takes longer.
	require.Less(t, time.Duration(worst.Load()), 2*time.Second)
	t.Logf("slowest of 32 calls against a server 1 s slow: %v (Timeout %v)", time.Duration(worst.Load()), timeout)
}

func TestSyncTokensAreSentBack(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{})
	ctx := ctxFor(t)
	k := prefix(t) + "k"
	for range 5 {
		require.NoError(t, p.Set(ctx, k, []byte("v"), 0))
		_, err := p.Get(ctx, k)
		require.NoError(t, err)
	}
	s := f.emu.Stats()
	require.Equal(t, s.Requests-1, s.SyncTokens, "every request after the first carries the token")
}

func TestCloseFailsWaitingCalls(t *testing.T) {
	release := make(chan struct{})
	_, _, p := newFaulty(t, func(int, string) action { <-release; return pass }, upstash.Options{MaxInFlight: 1, Timeout: 10 * time.Second})
	defer close(release)
	ctx := ctxFor(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- p.Ping(ctx) }()
	}
	time.Sleep(50 * time.Millisecond)
	done := make(chan struct{})
	go func() { _ = p.Close(); close(done) }()
	for range 4 {
		require.ErrorIs(t, <-errs, provider.ErrClosed)
	}
	<-done
}

// BatchWait holds a lone request to gather the calls that follow.
func TestBatchWaitGathersCalls(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{BatchWait: 300 * time.Millisecond, Timeout: 5 * time.Second})
	ctx := ctxFor(t)
	f.emu.ResetStats()
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			_, err := p.Get(ctx, prefix(t)+itoa(g))
			assert.ErrorIs(t, err, provider.ErrNotFound)
		})
	}
	wg.Wait()
	s := f.emu.Stats()
	require.EqualValues(t, 10, s.Commands)
	require.LessOrEqual(t, s.Requests, int64(3), "10 calls started together share a request or two")
}
