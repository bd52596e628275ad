package circuit_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/circuit"
	"github.com/aside-go/aside/provider/memory"
)

// flaky stands in for a network store that can go down: reads fail while
// down is set.
type flaky struct {
	*memory.Provider
	down atomic.Bool
}

func (f *flaky) Get(ctx context.Context, key string) ([]byte, error) {
	if f.down.Load() {
		return nil, errors.New("dial tcp 10.0.0.7:6379: connect: connection refused")
	}
	return f.Provider.Get(ctx, key)
}

func ExampleWrap() {
	ctx := context.Background()
	m, err := memory.New(memory.Options{})
	if err != nil {
		panic(err)
	}
	store := &flaky{Provider: m}
	p, breaker, err := circuit.Wrap(store, circuit.Options{
		OnStateChange: func(from, to circuit.State) {
			fmt.Println("circuit:", from, "->", to)
		},
	})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	_ = p.Set(ctx, "greeting", []byte("hello"), time.Minute)

	// The store goes down: five failures in a row open the circuit.
	store.down.Store(true)
	for range circuit.DefaultFailures {
		_, err = p.Get(ctx, "greeting")
	}
	fmt.Println("last failure:", err)

	// Calls now fail at once, without reaching the store.
	_, err = p.Get(ctx, "greeting")
	fmt.Println("refused:", errors.Is(err, provider.ErrUnavailable))

	// The store comes back; after the cool-down the next call is a probe.
	store.down.Store(false)
	time.Sleep(circuit.DefaultCoolDown + 10*time.Millisecond)
	v, err := p.Get(ctx, "greeting")
	fmt.Printf("probe: %s, %v\n", v, err)
	fmt.Printf("%+v\n", breaker.Stats())
	// Output:
	// circuit: closed -> open
	// last failure: dial tcp 10.0.0.7:6379: connect: connection refused
	// refused: true
	// circuit: open -> half-open
	// circuit: half-open -> closed
	// probe: hello, <nil>
	// {State:closed Opens:1 Rejected:1}
}
