package dual_test

import (
	"context"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/aside-go/aside/internal/redistest"
)

// quiet drops go-redis's own log lines (a failed dial per connection while
// a test's server is down), which would bury the tests' figures.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// Each composite runs a reconciler goroutine, and each outage an in-process
// store with goroutines of its own: Close must stop them all.
func TestMain(m *testing.M) {
	goredis.SetLogger(quiet{})
	goleak.VerifyTestMain(redistest.WithShared(m),
		// go-redis's pool re-dial probe sleeps 1 s between attempts before it
		// notices its pool is closed.
		goleak.IgnoreTopFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
		goleak.IgnoreTopFunction("time.Sleep"))
}
