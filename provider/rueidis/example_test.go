package rueidis_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	rue "github.com/redis/rueidis"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider/rueidis"
)

// A Cache over Redis through rueidis, from a URL; nothing is sent to Redis
// until the first call.
func ExampleNewFromURL() {
	p, err := rueidis.NewFromURL("redis://:password@cache.internal:6379/0", rueidis.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	c, err := aside.New(aside.Options{Provider: p, Namespace: "shop"})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	defer p.Close()
	_ = aside.Set(context.Background(), c, "greeting", "hello", aside.TTL(time.Minute))
}

// A provider over a rueidis client the application already has.
func ExampleNew() {
	client, err := rue.NewClient(rue.ClientOption{InitAddress: []string{"cache.internal:6379"}, DisableRetry: true})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	p, err := rueidis.New(client, rueidis.Options{})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	_ = p.Set(context.Background(), "greeting", []byte("hello"), time.Minute)
}

// Configuration from the environment goes through FromURL; its errors never
// show the password.
func ExampleFromURL() {
	_, err := rueidis.FromURL("http://app:hunter2@cache.internal:6379", nil, rueidis.Options{})
	fmt.Println(errors.Is(err, rueidis.ErrInvalidURL))
	fmt.Println(err)
	// Output:
	// true
	// aside: rueidis: invalid Redis URL: the scheme must be redis:// or rediss:// (TLS); expected redis://[[user]:password@]host[:port][/db] (rediss:// for TLS)
}
