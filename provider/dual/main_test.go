package dual_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/aside-go/aside/internal/redistest"
)

// Each composite runs a reconciler goroutine, and each outage an in-process
// store with goroutines of its own: Close must stop them all.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(redistest.WithShared(m),
		// go-redis's pool re-dial probe may outlive a closed client briefly.
		goleak.IgnoreTopFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"),
		goleak.IgnoreTopFunction("time.Sleep"))
}
