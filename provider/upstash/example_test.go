package upstash_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/provider/upstash"
)

// fakeUpstash answers single SET and GET commands the way Upstash does, so
// that the examples run offline. Use cmd/upstash-local (or Upstash) for real.
func fakeUpstash() *httptest.Server {
	var mu sync.Mutex
	data := map[string]string{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var cmd []any
		_ = json.NewDecoder(r.Body).Decode(&cmd)
		mu.Lock()
		defer mu.Unlock()
		var result any
		switch cmd[0] {
		case "SET":
			data[cmd[1].(string)], result = cmd[2].(string), "OK"
		case "GET":
			if v, ok := data[cmd[1].(string)]; ok {
				result = v
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"result": result})
	}))
}

func Example() {
	srv := fakeUpstash() // stands in for https://<name>.upstash.io
	defer srv.Close()

	p, err := upstash.New(srv.URL, "AXdemoToken", upstash.Options{})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	ctx := context.Background()
	if err := p.Set(ctx, "greeting", []byte("hello"), time.Minute); err != nil {
		panic(err)
	}
	v, err := p.Get(ctx, "greeting")
	if err != nil {
		panic(err)
	}
	u := p.Usage()
	fmt.Printf("%s: %d billed commands in %d requests\n", v, u.Commands, u.Requests)
	// Output: hello: 2 billed commands in 2 requests
}

// In an application the provider goes under an aside.Cache, usually through
// aside.FromEnv with CACHE_PROVIDER=upstash.
func Example_cache() {
	srv := fakeUpstash()
	defer srv.Close()

	p, err := upstash.New(srv.URL, "AXdemoToken", upstash.Options{})
	if err != nil {
		panic(err)
	}
	c, err := aside.New(aside.Options{Provider: p, Breaker: aside.Breaker{Disabled: true}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := aside.Set(ctx, c, "user:42", "Ada", aside.TTL(time.Minute)); err != nil {
		panic(err)
	}
	name, found, err := aside.Get[string](ctx, c, "user:42")
	fmt.Println(name, found, err)
	// Output: Ada true <nil>
}

// Plain http:// is for the local emulator only: the token would cross the
// network in clear.
func ExampleNew() {
	_, err := upstash.New("http://cache.internal:8079", "token", upstash.Options{})
	fmt.Println(err != nil)
	p, err := upstash.New("http://127.0.0.1:8079", "dev", upstash.Options{}) // go run ./cmd/upstash-local
	fmt.Println(err)
	_ = p.Close()
	// Output:
	// true
	// <nil>
}
