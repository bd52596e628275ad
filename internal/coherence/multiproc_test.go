//go:build unix

package coherence

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	rue "github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/redis"
	"github.com/aside-go/aside/provider/rueidis"
)

// The multi-process proof. The test binary re-executes itself as several
// OS processes over one test-owned redis-server: writers bump a key's
// version in Redis, Invalidate it, and only then record the version as
// "done" (in Redis, key done:K); readers read done:K first and then the key
// through a map tier guarded exactly as package doc says. A read served by
// the tier older than the done version it read before is stale: an
// invalidation completed before the read began and the tier still served
// what it dropped. Meanwhile the parent cuts one reader's subscription
// (CLIENT KILL), freezes another reader (SIGSTOP) and cuts every
// subscription; the writers' Invalidate must never take longer than its
// bound.

// Environment of a child process.
const (
	envRole     = "ASIDE_COHERENCE_CHILD" // "reader" or "writer"
	envID       = "ASIDE_COHERENCE_ID"
	envAddr     = "ASIDE_COHERENCE_ADDR"
	envPrefix   = "ASIDE_COHERENCE_PREFIX"
	envStart    = "ASIDE_COHERENCE_START" // unix nanos: begin the run
	envEnd      = "ASIDE_COHERENCE_END"   // unix nanos: end the run
	envLease    = "ASIDE_COHERENCE_LEASE"
	envWriters  = "ASIDE_COHERENCE_WRITERS"
	envBreak    = "ASIDE_COHERENCE_BREAK"   // "", "noack" or "nolease": break the protocol on purpose
	envAdapter  = "ASIDE_COHERENCE_ADAPTER" // "redis" (go-redis) or "rueidis"
	mpKeys      = 8
	mpChildName = "coherence-"
)

// report is what a child prints on its last stdout line.
type report struct {
	Role     string
	ID       int
	Reads    int64
	Hits     int64 // reads served by the tier
	Stale    int64
	Examples []string
	Errors   int64
	Invs     int64
	InvErrs  int64
	Lat      []time.Duration // every Invalidate's duration (writers)
	Lapses   int
}

func child() bool {
	role := os.Getenv(envRole)
	if role == "" {
		return false
	}
	r, err := runChild(role)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	os.Exit(0)
	return true
}

// mapTier is the simplest near tier that follows the package's rules.
type mapTier struct {
	mu      sync.Mutex
	m       map[string]tierEntry
	lapses  int
	noLease bool // broken on purpose: serve whatever is held
}

type tierEntry struct {
	v     int64
	epoch uint64
}

func (tr *mapTier) apply(m Message) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if m.All {
		clear(tr.m)
	}
	for _, k := range m.Keys {
		delete(tr.m, k)
	}
}

func (tr *mapTier) lapse() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.lapses++
	if !tr.noLease {
		clear(tr.m)
	}
}

// read returns k's version, from the tier when it may, else from Redis
// (filling the tier under the Generation guard).
func (tr *mapTier) read(ctx context.Context, s *Stream, c *goredis.Client, k string) (v int64, hit bool, err error) {
	epoch, ok := s.Lease()
	tr.mu.Lock()
	e, has := tr.m[k]
	tr.mu.Unlock()
	if has && (tr.noLease || ok && e.epoch == epoch) {
		return e.v, true, nil
	}
	g := s.Generation()
	epoch, ok = s.Lease()
	v, err = c.Get(ctx, k).Int64()
	if errors.Is(err, goredis.Nil) {
		v, err = 0, nil
	}
	if err != nil || !ok {
		return v, false, err
	}
	tr.mu.Lock()
	tr.m[k] = tierEntry{v, epoch}
	tr.mu.Unlock()
	if e2, ok2 := s.Lease(); s.Generation() != g || !ok2 || e2 != epoch {
		tr.mu.Lock()
		delete(tr.m, k) // raced an invalidation or a lapse: undo the fill
		tr.mu.Unlock()
	}
	return v, false, nil
}

func envInt(name string) int64 {
	n, _ := strconv.ParseInt(os.Getenv(name), 10, 64)
	return n
}

func runChild(role string) (*report, error) {
	id := int(envInt(envID))
	prefix := os.Getenv(envPrefix)
	start, end := time.Unix(0, envInt(envStart)), time.Unix(0, envInt(envEnd))
	lease := time.Duration(envInt(envLease))
	writers := int(envInt(envWriters))
	brk := os.Getenv(envBreak)
	// A watchdog: a child never outlives its run by much, even if the
	// parent died without killing it.
	time.AfterFunc(time.Until(end)+20*time.Second, func() { os.Exit(3) })

	c := goredis.NewClient(&goredis.Options{Addr: os.Getenv(envAddr), ClientName: fmt.Sprintf("%s%s-%d", mpChildName, role, id),
		ContextTimeoutEnabled: true, ReadTimeout: 2 * time.Second})
	defer c.Close()
	name := fmt.Sprintf("%s%s-%d", mpChildName, role, id)
	var p provider.Broadcaster
	if os.Getenv(envAdapter) == "rueidis" {
		rc, err := rue.NewClient(rue.ClientOption{InitAddress: []string{os.Getenv(envAddr)}, ClientName: name, DisableCache: true})
		if err != nil {
			return nil, err
		}
		rp, err := rueidis.New(rc, rueidis.Options{Timeout: time.Second, CloseClient: true})
		if err != nil {
			return nil, err
		}
		defer rp.Close()
		p = rp
	} else {
		rp, err := redis.New(c, redis.Options{Timeout: time.Second})
		if err != nil {
			return nil, err
		}
		p = rp
	}
	tr := &mapTier{m: map[string]tierEntry{}, noLease: brk == "nolease"}
	ctx := context.Background()
	apply := tr.apply
	if role == "reader" && id == 2 {
		// A tier that stalls now and then (a GC pause, a slow lock) for two
		// leases: the stream falls behind while its readers go on.
		var n int
		apply = func(m Message) {
			if n++; n%300 == 0 {
				time.Sleep(2 * lease)
			}
			tr.apply(m)
		}
	}
	s, err := New(ctx, Config{Broadcaster: p, Channel: prefix + "near", Lease: lease, Apply: apply, Lapse: tr.lapse})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	time.Sleep(time.Until(start))

	r := &report{Role: role, ID: id}
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	for time.Now().Before(end) {
		if role == "writer" {
			// Each writer owns the keys k with k % writers == id, so "done"
			// only ever grows.
			n := rng.IntN(mpKeys/writers)*writers + id
			k := prefix + "k" + strconv.Itoa(n)
			v, err := c.Incr(ctx, k).Result()
			if err != nil {
				r.Errors++
				continue
			}
			began := time.Now()
			if brk == "noack" {
				err = s.publishOnly(ctx, Message{Keys: []string{k}})
			} else {
				err = s.Invalidate(ctx, Message{Keys: []string{k}})
			}
			r.Lat = append(r.Lat, time.Since(began))
			r.Invs++
			if err != nil {
				r.InvErrs++
				continue // not done: never recorded as such
			}
			if err := c.Set(ctx, prefix+"done:"+k, v, 0).Err(); err != nil {
				r.Errors++
			}
			time.Sleep(time.Millisecond) // let the readers' tiers fill
			continue
		}
		k := prefix + "k" + strconv.Itoa(rng.IntN(mpKeys))
		done, err := c.Get(ctx, prefix+"done:"+k).Int64()
		if errors.Is(err, goredis.Nil) {
			done, err = 0, nil
		}
		if err != nil {
			r.Errors++
			continue
		}
		v, hit, err := tr.read(ctx, s, c, k)
		if err != nil {
			r.Errors++
			continue
		}
		r.Reads++
		if hit {
			r.Hits++
			if v < done {
				r.Stale++
				if len(r.Examples) < 5 {
					r.Examples = append(r.Examples, fmt.Sprintf("%s: tier served %d after the invalidation of %d completed", k, v, done))
				}
			}
		}
	}
	tr.mu.Lock()
	r.Lapses = tr.lapses
	tr.mu.Unlock()
	return r, nil
}

// publishOnly is Invalidate without the wait: the protocol broken on
// purpose, to show that the test catches it.
func (s *Stream) publishOnly(ctx context.Context, m Message) error {
	b, err := encode(&wire{Kind: kindINV, Member: s.self, N: s.seq.Add(1), Keys: m.Keys})
	if err != nil {
		return err
	}
	_, err = s.cfg.Broadcaster.Publish(ctx, s.cfg.Channel, b)
	return err
}

type mpResult struct {
	reports    []report
	lat        []time.Duration
	stale      int64
	hits       int64
	reads      int64
	invErrs    int64
	errs       int64
	bound      time.Duration
	stopped    time.Duration
	killedSubs int
}

// runProcesses runs writers and readers for d over a fresh redis-server,
// with partitions, and gathers their reports.
func runProcesses(t *testing.T, adapter string, writers, readers int, d, lease time.Duration, brk string) mpResult {
	t.Helper()
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	admin := srv.Client(t, 0)

	prefix := fmt.Sprintf("coherence:%x:", rand.Uint64())
	start := time.Now().Add(2 * time.Second) // time for every child to subscribe and take its lease
	end := start.Add(d)
	type proc struct {
		role string
		id   int
		cmd  *exec.Cmd
		out  bytes.Buffer
		errb bytes.Buffer
	}
	var procs []*proc
	for i := range writers + readers {
		role, id := "writer", i
		if i >= writers {
			role, id = "reader", i-writers
		}
		pr := &proc{role: role, id: id}
		pr.cmd = exec.Command(os.Args[0], "-test.run=^$")
		pr.cmd.Env = append(os.Environ(),
			envRole+"="+role, envID+"="+strconv.Itoa(id), envAddr+"="+srv.Addr(), envPrefix+"="+prefix,
			envStart+"="+strconv.FormatInt(start.UnixNano(), 10), envEnd+"="+strconv.FormatInt(end.UnixNano(), 10),
			envLease+"="+strconv.FormatInt(int64(lease), 10), envWriters+"="+strconv.Itoa(writers), envBreak+"="+brk, envAdapter+"="+adapter)
		pr.cmd.Stdout, pr.cmd.Stderr = &pr.out, &pr.errb
		require.NoError(t, pr.cmd.Start())
		procs = append(procs, pr)
		t.Cleanup(func() {
			_ = pr.cmd.Process.Signal(syscall.SIGCONT)
			_ = pr.cmd.Process.Kill()
		})
	}

	// Partitions, in cycles of 4 s (one cycle under -short): cut reader 0's
	// subscription, freeze reader 1 for 3 leases, cut every subscription.
	res := mpResult{bound: lease + lease/marginShare}
	time.Sleep(time.Until(start))
	cycle := min(d, 4*time.Second)
	for at := time.Duration(0); at+cycle <= d; at += cycle {
		base := start.Add(at)
		time.Sleep(time.Until(base.Add(cycle / 4)))
		res.killedSubs += redistest.KillNamedPubSub(t, admin, mpChildName+"reader-0")
		if readers > 1 {
			time.Sleep(time.Until(base.Add(cycle / 2)))
			p := procs[writers+1].cmd.Process
			require.NoError(t, p.Signal(syscall.SIGSTOP))
			time.Sleep(3 * lease)
			require.NoError(t, p.Signal(syscall.SIGCONT))
			res.stopped += 3 * lease
		}
		time.Sleep(time.Until(base.Add(3 * cycle / 4)))
		n, err := admin.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Result()
		require.NoError(t, err)
		res.killedSubs += int(n)
	}

	for _, pr := range procs {
		err := pr.cmd.Wait()
		require.NoError(t, err, "%s %d: %s", pr.role, pr.id, pr.errb.String())
		sc := bufio.NewScanner(&pr.out)
		var last string
		for sc.Scan() {
			last = sc.Text()
		}
		var r report
		require.NoError(t, json.Unmarshal([]byte(last), &r), "%s %d printed %q", pr.role, pr.id, pr.out.String())
		res.reports = append(res.reports, r)
		res.lat = append(res.lat, r.Lat...)
		res.stale += r.Stale
		res.hits += r.Hits
		res.reads += r.Reads
		res.invErrs += r.InvErrs
		res.errs += r.Errors
	}
	slices.Sort(res.lat)
	return res
}

func (r mpResult) String() string {
	return fmt.Sprintf("reads %d (tier hits %d, %.0f%%), stale %d, invalidations %d (p50 %v, p99 %v, max %v; bound %v), invalidate errors %d, other errors %d, pub/sub connections killed %d, reader frozen %v",
		r.reads, r.hits, 100*float64(r.hits)/float64(max(r.reads, 1)), r.stale, len(r.lat), pct(r.lat, .5), pct(r.lat, .99),
		pct(r.lat, 1), r.bound, r.invErrs, r.errs, r.killedSubs, r.stopped)
}

func mpDuration() time.Duration {
	if testing.Short() {
		return 4 * time.Second
	}
	return 32 * time.Second
}

func TestNoStaleReadAcrossProcessesUnderPartitions(t *testing.T) {
	for _, adapter := range []string{"redis", "rueidis"} {
		t.Run(adapter, func(t *testing.T) {
			const lease = 300 * time.Millisecond
			res := runProcesses(t, adapter, 2, 3, mpDuration(), lease, "")
			t.Log(res)
			for _, r := range res.reports {
				for _, e := range r.Examples {
					t.Errorf("%s %d: %s", r.Role, r.ID, e)
				}
			}
			require.Zero(t, res.stale, "stale reads")
			require.Zero(t, res.invErrs, "Invalidate errors with Redis up")
			require.Greater(t, res.hits, res.reads/4, "the tiers must really serve for the test to mean anything")
			require.Positive(t, res.killedSubs, "the partitions must have happened")
			// Never blocked beyond the bound, plus the publish round trip and
			// scheduling on a loaded 2-core machine.
			require.LessOrEqual(t, pct(res.lat, 1), res.bound+250*time.Millisecond)
		})
	}
}

// The checker is not vacuous: the same run with the protocol broken on
// purpose finds stale reads.
func TestTheCheckerCatchesABrokenProtocol(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: run without -short to see the checker catch a broken protocol")
	}
	for _, brk := range []string{"noack", "nolease"} {
		t.Run(brk, func(t *testing.T) {
			res := runProcesses(t, "redis", 2, 3, 8*time.Second, 300*time.Millisecond, brk)
			t.Log(res)
			require.Positive(t, res.stale, "breaking the protocol (%s) went unnoticed", brk)
		})
	}
}

// A frozen redis-server (SIGSTOP) takes every lease within Lease: no
// instance serves from its tier while it cannot hear invalidations; an
// Invalidate fails within the provider's timeout instead of hanging; and the
// leases come back, in new epochs, once the server does.
func TestAFrozenStoreLapsesEveryLeaseAndTheyComeBack(t *testing.T) {
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	require.NoError(t, err)
	defer srv.Close()
	const lease = 200 * time.Millisecond
	var streams []*Stream
	var lapses []*atomic.Int64
	for range 2 {
		c := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true, DialerRetries: 1, MaxRetries: -1})
		p, err := redis.New(c, redis.Options{CloseClient: true, Timeout: 100 * time.Millisecond})
		require.NoError(t, err)
		defer p.Close()
		var n atomic.Int64
		s, err := New(t.Context(), Config{Broadcaster: p, Channel: "frozen:near", Lease: lease,
			Apply: func(Message) {}, Lapse: func() { n.Add(1) }})
		require.NoError(t, err)
		defer s.Close()
		streams = append(streams, s)
		lapses = append(lapses, &n)
	}
	epochs := make([]uint64, len(streams))
	for i, s := range streams {
		require.Eventually(t, func() bool { _, ok := s.Lease(); return ok }, 5*time.Second, time.Millisecond)
		epochs[i], _ = s.Lease()
	}

	require.NoError(t, srv.Pause())
	paused := time.Now()
	for _, s := range streams {
		require.Eventually(t, func() bool { _, ok := s.Lease(); return !ok }, 5*time.Second, time.Millisecond)
	}
	require.Less(t, time.Since(paused), lease+50*time.Millisecond, "a lease outlived its term on a frozen store")
	began := time.Now()
	require.Error(t, streams[0].Invalidate(t.Context(), Message{All: true}), "an invalidation the store never took")
	require.Less(t, time.Since(began), 500*time.Millisecond)
	time.Sleep(3 * lease)
	require.NoError(t, srv.Resume())

	for i, s := range streams {
		require.Eventually(t, func() bool { _, ok := s.Lease(); return ok }, 10*time.Second, time.Millisecond)
		e, _ := s.Lease()
		require.Greater(t, e, epochs[i])
		require.Positive(t, lapses[i].Load())
	}
	require.NoError(t, streams[0].Invalidate(t.Context(), Message{All: true}))
}
