package middleware_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/middleware"
	"github.com/aside-go/aside/provider/memory"
)

// sharedMemory is one store under two apps (two processes, as far as their
// Caches can tell), with the memory provider's in-process pub/sub between
// their near tiers.
type sharedMemory struct{ *memory.Provider }

func (sharedMemory) Close() error { return nil } // the test closes it

// TestNearTierServesHitsAndHearsOtherProcessesWrites: the middleware's hits
// come from the near tier, and a write through another process's
// middleware ends them before it returns.
func TestNearTierServesHitsAndHearsOtherProcessesWrites(t *testing.T) {
	m, err := memory.New(memory.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	var db atomic.Value
	db.Store(`"v1"`)
	near := aside.Near{MaxBytes: 1 << 20, Mode: aside.NearShared, Lease: 50 * time.Millisecond}
	apps := make([]*app, 2)
	for i := range apps {
		c := newCache(t, aside.Options{Provider: sharedMemory{m}, Near: near})
		require.Eventually(t, func() bool { return c.Stats().Near.Serving }, 5*time.Second, 5*time.Millisecond)
		a := newApp(t, middleware.CacheConfig{Cache: c, TTL: time.Minute})
		a.route("/products", func(ec echo.Context) error {
			return ec.JSONBlob(http.StatusOK, []byte(db.Load().(string)))
		})
		a.e.PUT("/products", func(ec echo.Context) error {
			db.Store(`"v2"`)
			return ec.NoContent(http.StatusNoContent)
		})
		apps[i] = a
	}
	writer, reader := apps[0], apps[1]

	require.Equal(t, `"v1"`, reader.get("/products").Body.String()) // miss: stored, and the load fills the tier
	for range 3 {                                                   // near hits
		rec := reader.get("/products")
		requireHit(t, rec)
		require.Equal(t, `"v1"`, rec.Body.String())
	}
	require.EqualValues(t, 3, reader.cache.Stats().Near.Hits)

	require.Equal(t, http.StatusNoContent, writer.do(http.MethodPut, "/products").Code)
	rec := reader.get("/products")
	require.Equal(t, `"v2"`, rec.Body.String(), "the reader's near tier served a response the writer's PUT invalidated")
	require.EqualValues(t, 2, reader.runs.Load())
}
