package emulator_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/aside-go/aside/internal/redistest"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

// nodeDir holds the Node compatibility test and its package.json; `npm ci`
// there installs the official client (.ci/run does it).
const nodeDir = "testdata/node"

// TestOfficialClient runs the official TypeScript client, @upstash/redis
// 1.39.0 unchanged, against the emulator over the test-owned redis-server:
// strings, keys and bits, hashes, sets, sorted sets, lists, streams
// (consumer groups included), geo, HyperLogLog, functions, pub/sub
// (subscribe and psubscribe streams), scripts (allow-key-locking included),
// SCAN (with Upstash's WITHTYPE), pipelines, transactions, auto-pipelining,
// binary-ish values, errors (commands Upstash's REST API does not serve
// refused in its words), the read-only token, sync tokens and injected
// faults. See testdata/node/compat.test.mjs.
func TestOfficialClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		nodeUnavailable(t, "node is not installed (Node 20 or later)")
	}
	if _, err := os.Stat(filepath.Join(nodeDir, "node_modules", "@upstash", "redis", "package.json")); err != nil {
		nodeUnavailable(t, "@upstash/redis is not installed: run `npm ci` in provider/upstash/emulator/"+nodeDir)
	}
	f := newFixtureDB(t, 2, emulator.Options{ReadOnlyToken: testROToken})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "compat.test.mjs")
	cmd.Dir = nodeDir
	cmd.Env = append(os.Environ(),
		"UPSTASH_REDIS_REST_URL="+f.srv.URL,
		"UPSTASH_REDIS_REST_TOKEN="+testToken,
		"EMULATOR_READONLY_TOKEN="+testROToken,
		"EMULATOR_KEY_PREFIX=compat:"+t.Name()+":",
		"UPSTASH_DISABLE_TELEMETRY=1",
		"NO_COLOR=1",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("node --test compat.test.mjs: %v\n%s", err, out.String())
	}
	t.Logf("node --test compat.test.mjs:\n%s", out.String())
}

// nodeUnavailable skips the test, or fails it in CI (CI=true), where .ci/run
// installs Node's packages.
func nodeUnavailable(t *testing.T, why string) {
	t.Helper()
	if redistest.InCI() {
		t.Fatalf("the Node compatibility test is required in CI (CI=true): %s", why)
	}
	t.Skipf("skipping: %s (set CI=true to make this a failure)", why)
}
