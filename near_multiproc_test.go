//go:build unix

package aside_test

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
	"strings"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/redis"
)

// The near tier's multi-process proof, with real Caches (adapted from
// internal/coherence's proof, which checks the protocol with a map tier).
// The test binary re-executes itself as writers and readers over one
// test-owned redis-server. The "database" is a counter per key in Redis
// (db:K). A writer bumps db:K, then replaces the cached entry through its
// Cache (Set of the new version, Delete, InvalidatePattern matching the key,
// or InvalidateTags of the key's tag or of its owner's group tag), and only once that returned records the
// version as done (done:K). A reader reads done:K, then Remembers K through
// its Cache with the near tier on (the loader reads db:K). A value below
// the done version read before the call is stale: an invalidation completed
// before the read began and the read still returned what it replaced.
// Meanwhile the parent cuts one reader's subscription (CLIENT KILL), freezes
// another (SIGSTOP) for three leases, and cuts every subscription.

const (
	nearEnvRole    = "ASIDE_NEAR_CHILD" // "reader" or "writer"
	nearEnvID      = "ASIDE_NEAR_ID"
	nearEnvAddr    = "ASIDE_NEAR_ADDR"
	nearEnvNS      = "ASIDE_NEAR_NS"
	nearEnvStart   = "ASIDE_NEAR_START"
	nearEnvEnd     = "ASIDE_NEAR_END"
	nearEnvLease   = "ASIDE_NEAR_LEASE"
	nearEnvWriters = "ASIDE_NEAR_WRITERS"
	nearEnvMode    = "ASIDE_NEAR_MODE" // "safe", "shared" or "ttl-only" (incoherent on purpose)
	nearKeys       = 8
	nearClientName = "near-"
)

type nearReport struct {
	Role       string
	ID         int
	Reads      int64
	NearHits   int64 // reads served by the near tier
	BatchReads int64 // reads of three keys by RememberMany (also in Reads)
	BatchHits  int64 // of them, reads the near tier served a key of (also in NearHits)
	Stale      int64 // stale reads served by the near tier
	StaleL2    int64 // stale reads that were not near hits
	Examples   []string
	Errors     int64
	Writes     int64
	WriteErrs  int64
	Lat        map[string][]time.Duration // per operation (writers)
	Rejected   int64
	Drops      int64
}

// nearChild runs this process as a child of the multi-process test when the
// environment says so, and exits.
func nearChild() bool {
	role := os.Getenv(nearEnvRole)
	if role == "" {
		return false
	}
	r, err := runNearChild(role)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	os.Exit(0)
	return true
}

func envNum(name string) int64 {
	n, _ := strconv.ParseInt(os.Getenv(name), 10, 64)
	return n
}

func runNearChild(role string) (*nearReport, error) {
	id := int(envNum(nearEnvID))
	start, end := time.Unix(0, envNum(nearEnvStart)), time.Unix(0, envNum(nearEnvEnd))
	lease := time.Duration(envNum(nearEnvLease))
	writers := int(envNum(nearEnvWriters))
	time.AfterFunc(time.Until(end)+20*time.Second, func() { os.Exit(3) })

	rc := goredis.NewClient(&goredis.Options{Addr: os.Getenv(nearEnvAddr), ClientName: fmt.Sprintf("%s%s-%d", nearClientName, role, id),
		ContextTimeoutEnabled: true, ReadTimeout: 2 * time.Second})
	defer rc.Close()
	p, err := redis.New(rc, redis.Options{Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	mode := aside.NearSafe
	if os.Getenv(nearEnvMode) == "shared" {
		mode = aside.NearShared
	}
	near := aside.Near{MaxBytes: 1 << 20, Mode: mode, Lease: lease}
	if os.Getenv(nearEnvMode) == "ttl-only" {
		// Not coherent on purpose: the checker must find stale reads.
		near = aside.Near{MaxBytes: 1 << 20, TTL: time.Minute, TTLOnly: true}
	}
	c, err := aside.New(aside.Options{Provider: p, Namespace: os.Getenv(nearEnvNS), Near: near})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	time.Sleep(time.Until(start))

	ctx := context.Background()
	r := &nearReport{Role: role, ID: id, Lat: map[string][]time.Duration{}}
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	owner := func(n int) int { return n % writers }
	tags := func(n int) aside.Option {
		return aside.Tags("t"+strconv.Itoa(n), "g"+strconv.Itoa(owner(n)))
	}
	for time.Now().Before(end) {
		if role == "writer" {
			// Each writer owns the keys n with n % writers == id, so done:K
			// only grows.
			n := rng.IntN(nearKeys/writers)*writers + id
			k := "k" + strconv.Itoa(n)
			v, err := rc.Incr(ctx, "db:"+k).Result()
			if err != nil {
				r.Errors++
				continue
			}
			var op string
			began := time.Now()
			switch rng.IntN(5) {
			case 0:
				op, err = "Set", aside.Set(ctx, c, k, v, tags(n))
			case 1:
				op, err = "Delete", c.Delete(ctx, k)
			case 2:
				op, err = "InvalidateTags", c.InvalidateTags(ctx, "t"+strconv.Itoa(n))
			case 3:
				op = "InvalidatePattern"
				_, err = c.InvalidatePattern(ctx, k)
			default:
				op, err = "InvalidateTags(group)", c.InvalidateTags(ctx, "g"+strconv.Itoa(id))
			}
			r.Lat[op] = append(r.Lat[op], time.Since(began))
			r.Writes++
			if err != nil {
				r.WriteErrs++
				continue // not done: never recorded as such
			}
			if err := rc.Set(ctx, "done:"+k, v, 0).Err(); err != nil {
				r.Errors++
			}
			time.Sleep(2 * time.Millisecond) // let the readers' tiers fill
			continue
		}
		if rng.IntN(3) == 0 {
			// A batch of three keys through RememberMany, each checked
			// against its done version read before the call.
			batchRead(ctx, c, rc, rng, owner, r)
			continue
		}
		n := rng.IntN(nearKeys)
		k := "k" + strconv.Itoa(n)
		done, err := rc.Get(ctx, "done:"+k).Int64()
		if errors.Is(err, goredis.Nil) {
			done, err = 0, nil
		}
		if err != nil {
			r.Errors++
			continue
		}
		before := c.NearHits()
		v, err := aside.Remember(ctx, c, k, func(ctx context.Context) (int64, error) {
			v, err := rc.Get(ctx, "db:"+k).Int64()
			if errors.Is(err, goredis.Nil) {
				return 0, nil
			}
			return v, err
		}, tags(n))
		if err != nil {
			r.Errors++
			continue
		}
		hit := c.NearHits() > before
		r.Reads++
		if hit {
			r.NearHits++
		}
		if v < done {
			if hit {
				r.Stale++
			} else {
				r.StaleL2++
			}
			if len(r.Examples) < 5 {
				r.Examples = append(r.Examples, fmt.Sprintf("%s: read %d (near hit %v) after the change to %d completed", k, v, hit, done))
			}
		}
	}
	s := c.Stats().Near
	r.Rejected, r.Drops = s.Rejected, s.Drops
	return r, nil
}

// batchRead is a reader's batch: RememberMany of three distinct keys (the
// loader reads their db:K), each value held against the done:K read before
// the call.
func batchRead(ctx context.Context, c *aside.Cache, rc *goredis.Client, rng *rand.Rand, owner func(int) int, r *nearReport) {
	perm := rng.Perm(nearKeys)[:3]
	ks := make([]string, len(perm))
	dones := make([]string, len(perm))
	for i, n := range perm {
		ks[i] = "k" + strconv.Itoa(n)
		dones[i] = "done:" + ks[i]
	}
	done, err := rc.MGet(ctx, dones...).Result()
	if err != nil {
		r.Errors++
		return
	}
	before := c.NearHits()
	got, err := aside.RememberMany(ctx, c, ks, func(k string) string { return k },
		func(ctx context.Context, missing []string) (map[string]int64, error) {
			dbs := make([]string, len(missing))
			for i, k := range missing {
				dbs[i] = "db:" + k
			}
			vals, err := rc.MGet(ctx, dbs...).Result()
			if err != nil {
				return nil, err
			}
			out := make(map[string]int64, len(missing))
			for i, k := range missing {
				out[k] = 0
				if s, ok := vals[i].(string); ok {
					if out[k], err = strconv.ParseInt(s, 10, 64); err != nil {
						return nil, err
					}
				}
			}
			return out, nil
		},
		aside.TagsFor(func(k string) []string {
			n, _ := strconv.Atoi(strings.TrimPrefix(k, "k"))
			return []string{"t" + strconv.Itoa(n), "g" + strconv.Itoa(owner(n))}
		}))
	if err != nil {
		r.Errors++
		return
	}
	hit := c.NearHits() > before
	r.Reads++
	r.BatchReads++
	if hit {
		r.NearHits++
		r.BatchHits++
	}
	for i, k := range ks {
		var d int64
		if s, ok := done[i].(string); ok {
			d, _ = strconv.ParseInt(s, 10, 64)
		}
		if v, ok := got[k]; !ok || v < d {
			if hit {
				r.Stale++
			} else {
				r.StaleL2++
			}
			if len(r.Examples) < 5 {
				r.Examples = append(r.Examples, fmt.Sprintf("batch %v: %s read %d (found %v, near hits %v) after the change to %d completed", ks, k, v, ok, hit, d))
			}
		}
	}
}

type nearRun struct {
	reports    []nearReport
	lat        map[string][]time.Duration
	all        []time.Duration
	reads      int64
	hits       int64
	batchReads int64
	batchHits  int64
	stale      int64
	staleL2    int64
	writeErrs  int64
	errs       int64
	killedSubs int
	stopped    time.Duration
}

func runNearProcesses(t *testing.T, writers, readers int, d, lease time.Duration, mode string) nearRun {
	t.Helper()
	if _, err := redistest.Binary(); err != nil {
		redistest.Unavailable(t, err.Error())
	}
	srv, err := redistest.StartServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	admin := srv.Client(t, 0)

	ns := fmt.Sprintf("near%x", rand.Uint32())
	start := time.Now().Add(2 * time.Second) // every child subscribes and takes its lease
	end := start.Add(d)
	type proc struct {
		role      string
		id        int
		cmd       *exec.Cmd
		out, errb bytes.Buffer
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
			nearEnvRole+"="+role, nearEnvID+"="+strconv.Itoa(id), nearEnvAddr+"="+srv.Addr(), nearEnvNS+"="+ns,
			nearEnvStart+"="+strconv.FormatInt(start.UnixNano(), 10), nearEnvEnd+"="+strconv.FormatInt(end.UnixNano(), 10),
			nearEnvLease+"="+strconv.FormatInt(int64(lease), 10), nearEnvWriters+"="+strconv.Itoa(writers), nearEnvMode+"="+mode)
		pr.cmd.Stdout, pr.cmd.Stderr = &pr.out, &pr.errb
		require.NoError(t, pr.cmd.Start())
		procs = append(procs, pr)
		t.Cleanup(func() {
			_ = pr.cmd.Process.Signal(syscall.SIGCONT)
			_ = pr.cmd.Process.Kill()
		})
	}

	// Partitions, in cycles of 4 s: cut reader 0's subscription, freeze
	// reader 1 for 3 leases, cut every subscription.
	var res nearRun
	time.Sleep(time.Until(start))
	cycle := min(d, 4*time.Second)
	for at := time.Duration(0); at+cycle <= d; at += cycle {
		base := start.Add(at)
		time.Sleep(time.Until(base.Add(cycle / 4)))
		res.killedSubs += redistest.KillNamedPubSub(t, admin, nearClientName+"reader-0")
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

	res.lat = map[string][]time.Duration{}
	for _, pr := range procs {
		err := pr.cmd.Wait()
		require.NoError(t, err, "%s %d: %s", pr.role, pr.id, pr.errb.String())
		sc := bufio.NewScanner(&pr.out)
		var last string
		for sc.Scan() {
			last = sc.Text()
		}
		var r nearReport
		require.NoError(t, json.Unmarshal([]byte(last), &r), "%s %d printed %q", pr.role, pr.id, pr.out.String())
		res.reports = append(res.reports, r)
		for op, l := range r.Lat {
			res.lat[op] = append(res.lat[op], l...)
			res.all = append(res.all, l...)
		}
		res.reads += r.Reads
		res.hits += r.NearHits
		res.batchReads += r.BatchReads
		res.batchHits += r.BatchHits
		res.stale += r.Stale
		res.staleL2 += r.StaleL2
		res.writeErrs += r.WriteErrs
		res.errs += r.Errors
	}
	for _, l := range res.lat {
		slices.Sort(l)
	}
	slices.Sort(res.all)
	return res
}

func quantile(lat []time.Duration, q float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[min(len(lat)-1, int(float64(len(lat))*q))]
}

func (r nearRun) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "reads %d (near hits %d, %.0f%%; of them RememberMany batches of 3 keys %d, near hits %d), stale from the near tier %d, stale otherwise %d, write errors %d, other errors %d, pub/sub connections killed %d, reader frozen %v",
		r.reads, r.hits, 100*float64(r.hits)/float64(max(r.reads, 1)), r.batchReads, r.batchHits, r.stale, r.staleL2, r.writeErrs, r.errs, r.killedSubs, r.stopped)
	ops := make([]string, 0, len(r.lat))
	for op := range r.lat {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	for _, op := range ops {
		l := r.lat[op]
		fmt.Fprintf(&b, "\n  %s: %d calls, p50 %v, p99 %v, max %v", op, len(l), quantile(l, .5), quantile(l, .99), quantile(l, 1))
	}
	return b.String()
}

func TestNearNoStaleReadAcrossProcesses(t *testing.T) {
	d := 32 * time.Second
	if testing.Short() {
		d = 4 * time.Second
	}
	const lease = 300 * time.Millisecond
	for _, mode := range []string{"safe", "shared"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "shared" && testing.Short() {
				t.Skip("-short: safe mode only")
			}
			res := runNearProcesses(t, 2, 3, d, lease, mode)
			t.Log(res)
			for _, r := range res.reports {
				for _, e := range r.Examples {
					t.Errorf("%s %d: %s", r.Role, r.ID, e)
				}
			}
			require.Zero(t, res.stale, "stale reads served by the near tier")
			require.Zero(t, res.staleL2, "stale reads from the store (not the near tier's doing)")
			require.Zero(t, res.writeErrs, "write errors with Redis up")
			require.Greater(t, res.hits, res.reads/4, "the near tiers must really serve for the test to mean anything")
			require.Greater(t, res.batchHits, res.batchReads/4, "the near tiers must really serve batches too")
			require.Positive(t, res.killedSubs, "the partitions must have happened")
			// An invalidating write never waits much beyond the lease and
			// its margin, plus its store round trips on a loaded machine.
			require.LessOrEqual(t, quantile(res.all, 1), lease+lease/10+500*time.Millisecond)
		})
	}
}

// The checker is not vacuous: the same run with tiers that are not told of
// other processes' writes (TTL mode with a one-minute cap) finds stale reads.
func TestNearCheckerCatchesAnIncoherentTier(t *testing.T) {
	res := runNearProcesses(t, 2, 3, 4*time.Second, 300*time.Millisecond, "ttl-only")
	t.Log(res)
	require.Positive(t, res.stale, "tiers that hear nothing went unnoticed")
}
