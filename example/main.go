// Command example shows aside on the embedded in-memory provider: Remember
// with tags, a hit, an invalidation and the stats. Run it with
//
//	go run ./example
//
// Set CACHE_PROVIDER=redis and REDIS_URL=redis://127.0.0.1:6379/0 to run the
// same program on Redis, and LOG_LEVEL=debug to see one line per operation.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aside-go/aside"
)

// User is what the example caches.
type User struct {
	ID       int64
	Name     string
	Email    string
	Roles    []string
	Password string // never reaches the cache: the redaction filter drops it
}

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	c, err := aside.FromEnv()
	if err != nil {
		return err
	}
	defer c.Close()

	loads := 0
	loadUser := func(ctx context.Context) (User, error) {
		loads++
		time.Sleep(20 * time.Millisecond) // the database
		return User{ID: 42, Name: "Ada Lovelace", Email: "ada@example.com", Roles: []string{"admin"}, Password: "hunter2"}, nil
	}
	get := func() (User, time.Duration, error) {
		start := time.Now()
		u, err := aside.Remember(ctx, c, "user:42", loadUser, aside.TTL(time.Minute), aside.Tags("user:42", "users"))
		return u, time.Since(start), err
	}

	u, took, err := get()
	if err != nil {
		return err
	}
	fmt.Printf("first read  (miss): %-12s in %8v, loader runs so far: %d\n", u.Name, took.Round(time.Microsecond), loads)
	u, took, err = get()
	if err != nil {
		return err
	}
	fmt.Printf("second read (hit):  %-12s in %8v, loader runs so far: %d\n", u.Name, took.Round(time.Microsecond), loads)
	fmt.Printf("password in the cached value: %q\n", u.Password)

	if err := c.InvalidateTags(ctx, "users"); err != nil {
		return err
	}
	u, took, err = get()
	if err != nil {
		return err
	}
	fmt.Printf("after InvalidateTags(users):  %-12s in %8v, loader runs so far: %d\n", u.Name, took.Round(time.Microsecond), loads)

	s := c.Stats()
	fmt.Printf("stats: hits=%d misses=%d hit-rate=%.0f%% sets=%d invalidations=%d raw=%dB stored=%dB keys=%d\n",
		s.Hits, s.Misses, 100*s.HitRate(), s.Sets, s.Invalidations, s.RawBytes, s.StoredBytes, s.Keys)
	return nil
}
