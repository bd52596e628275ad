package dual_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
	"github.com/aside-go/aside/provider/dual"
	"github.com/aside-go/aside/provider/memory"
)

// store stands in for a network store that can go down.
type store struct {
	*memory.Provider
	down atomic.Bool
}

func (s *store) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if s.down.Load() {
		return nil, errors.New("dial tcp 10.0.0.7:6379: connect: connection refused")
	}
	return s.Provider.GetMulti(ctx, keys)
}

func (s *store) SetMulti(ctx context.Context, items []provider.Item) error {
	if s.down.Load() {
		return errors.New("dial tcp 10.0.0.7:6379: connect: connection refused")
	}
	return s.Provider.SetMulti(ctx, items)
}

func (s *store) Ping(ctx context.Context) error {
	if s.down.Load() {
		return errors.New("dial tcp 10.0.0.7:6379: connect: connection refused")
	}
	return s.Provider.Ping(ctx)
}

func ExampleNewFallback() {
	ctx := context.Background()
	m, _ := memory.New(memory.Options{})
	redis := &store{Provider: m}
	back := make(chan struct{})
	f, err := dual.NewFallback(redis, dual.FallbackOptions{
		Breaker: circuit.Options{CoolDown: 10 * time.Millisecond},
		OnStateChange: func(from, to dual.State) {
			fmt.Println("  serving:", from, "->", to)
			if to == dual.Primary {
				back <- struct{}{}
			}
		},
	})
	if err != nil {
		panic(err)
	}
	c, _ := aside.New(aside.Options{Provider: f})
	defer c.Close()

	price := 10
	load := func(context.Context) (int, error) { return price, nil }
	p, _ := aside.Remember(ctx, c, "price", load, aside.Tags("product:1"))
	fmt.Println("cached:", p)

	redis.down.Store(true)
	price = 12
	err = c.InvalidateTags(ctx, "product:1") // answered by the in-process store
	fmt.Println("invalidated during the outage:", err == nil)
	p, _ = aside.Remember(ctx, c, "price", load, aside.Tags("product:1"))
	fmt.Println("during the outage:", p)

	redis.down.Store(false)
	<-back // within a cool-down: probed, reconciled, serving again
	p, _ = aside.Remember(ctx, c, "price", load, aside.Tags("product:1"))
	fmt.Println("after it:", p, "(the invalidation was replayed on the primary)")
	// Output:
	// cached: 10
	//   serving: primary -> secondary
	// invalidated during the outage: true
	// during the outage: 12
	//   serving: secondary -> reconciling
	//   serving: reconciling -> primary
	// after it: 12 (the invalidation was replayed on the primary)
}

func ExampleNewMigrator() {
	ctx := context.Background()
	old, _ := memory.New(memory.Options{})
	next, _ := memory.New(memory.Options{}) // redis.NewFromURL(...) in real life
	m, err := dual.NewMigrator(old, next, dual.MigrateOptions{
		ShadowReads:   1, // compare both stores on every read
		PrimaryName:   "memory",
		SecondaryName: "redis",
	})
	if err != nil {
		panic(err)
	}
	c, _ := aside.New(aside.Options{Provider: m})
	defer c.Close()
	for i := range 4 {
		_, _ = aside.Remember(ctx, c, fmt.Sprint("user:", i%2), func(context.Context) (string, error) {
			return "Ada", nil
		})
	}
	s, _ := dual.StatsOf(c.Provider())
	for _, side := range []dual.Side{s.Primary, s.Secondary} {
		fmt.Printf("%-6s reads %d, hit rate %.2f, errors %d\n", side.Name, side.Reads, side.HitRate(), side.Errors)
	}
	// Output:
	// memory reads 4, hit rate 0.50, errors 0
	// redis  reads 4, hit rate 0.50, errors 0
}
