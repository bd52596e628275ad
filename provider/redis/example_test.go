package redis_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider/redis"
)

// A provider over a client the application already has.
func ExampleNew() {
	rdb := goredis.NewClient(&goredis.Options{
		Addr:                  "cache.internal:6379",
		ContextTimeoutEnabled: true, // let the provider's timeout reach the socket
	})
	defer rdb.Close()

	p, err := redis.New(rdb, redis.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	_ = p.Set(context.Background(), "greeting", []byte("hello"), time.Minute)
}

// Configuration from the environment goes through FromURL; its errors never
// show the password.
func ExampleFromURL() {
	_, err := redis.FromURL("http://app:hunter2@cache.internal:6379", nil, redis.Options{})
	fmt.Println(errors.Is(err, redis.ErrInvalidURL))
	fmt.Println(err)
	// Output:
	// true
	// aside: redis: invalid Redis URL: the scheme must be redis:// or rediss:// (TLS); expected redis://[[user]:password@]host[:port][/db] (rediss:// for TLS)
}
