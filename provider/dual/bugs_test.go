package dual_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aside-go/aside/provider/dual"
	"github.com/aside-go/aside/provider/providertest"
)

const bugEnv = "DUAL_BUG"

// TestBuggyComposite runs the invalidation race over a composite with one
// bug switched on, when TestRaceCatchesBugs re-executes the test binary.
func TestBuggyComposite(t *testing.T) {
	bug := os.Getenv(bugEnv)
	if bug == "" {
		t.Skip("run by TestRaceCatchesBugs")
	}
	switch bug {
	case "skip-replay":
		primary := newFaulty(newMemory(t, 0))
		f := fallback(t, primary, dual.FallbackOptions{Breaker: fastBreaker})
		dual.SkipReplay(f)
		flap(t, primary)
		providertest.RunCache(t, same(f), providertest.CacheOptions{Rounds: 4000})
	case "skip-replay-batch":
		primary := newFaulty(newMemory(t, 0))
		f := fallback(t, primary, dual.FallbackOptions{Breaker: fastBreaker})
		dual.SkipReplay(f)
		flap(t, primary)
		providertest.RunCacheBatch(t, same(f), providertest.CacheOptions{Rounds: 2000})
	case "blind-backfill":
		secondary := newFaulty(newMemory(t, 0))
		m := migrator(t, newForgetful(t), secondary, dual.MigrateOptions{ReadThrough: true, Breaker: fastBreaker})
		dual.ForceBackfill(m)
		dual.BackfillBlindly(m)
		flap(t, secondary)
		providertest.RunCache(t, same(m), providertest.CacheOptions{Rounds: 4000})
	default:
		t.Fatalf("unknown bug %q", bug)
	}
}

// TestRaceCatchesBugs checks that the invalidation races (single keys and
// batches) over a flapping store fail a composite that loses invalidations in the ways the design
// guards against, so that the races that pass do not pass by luck. (A
// migrator that reads through keys its secondary missed is caught by
// TestMigratorKeepsMissedWritesFromReadThrough instead: the race's window
// for it, between the secondary's return and its replay, is too narrow to
// hit every time.)
func TestRaceCatchesBugs(t *testing.T) {
	if os.Getenv(bugEnv) != "" {
		t.Skip("already inside a re-executed test binary")
	}
	for _, bug := range []string{"skip-replay", "skip-replay-batch", "blind-backfill"} {
		t.Run(bug, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBuggyComposite$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), bugEnv+"="+bug)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the race passed a composite that has the bug %q (err %v):\n%s", bug, err, out)
			}
			if !strings.Contains(string(out), "violation(s); first: ") {
				t.Fatalf("want a stale read reported in:\n%s", out)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "violation(s)") {
					t.Log(strings.TrimSpace(line))
				}
			}
		})
	}
}
