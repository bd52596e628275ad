package aside_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aside-go/aside"
)

func ExampleRemember() {
	c, err := aside.New(aside.Options{}) // in-memory, zstd, 1h default TTL
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()

	loadUser := func(ctx context.Context) (User, error) {
		fmt.Println("loading user 42 from the database")
		return User{ID: 42, Name: "Ada Lovelace"}, nil
	}
	for range 2 {
		u, err := aside.Remember(ctx, c, "user:42", loadUser, aside.TTL(10*time.Minute), aside.Tags("user:42"))
		if err != nil {
			panic(err)
		}
		fmt.Println(u.Name)
	}
	_ = c.InvalidateTags(ctx, "user:42") // after the user changes
	u, _ := aside.Remember(ctx, c, "user:42", loadUser, aside.Tags("user:42"))
	fmt.Println(u.Name)
	s := c.Stats()
	fmt.Printf("hits=%d misses=%d loads=%d\n", s.Hits, s.Misses, s.Loads)
	// Output:
	// loading user 42 from the database
	// Ada Lovelace
	// Ada Lovelace
	// loading user 42 from the database
	// Ada Lovelace
	// hits=1 misses=2 loads=2
}

func ExampleGet() {
	c, _ := aside.New(aside.Options{})
	defer c.Close()
	ctx := context.Background()

	_ = aside.Set(ctx, c, "greeting", "hello", aside.TTL(time.Minute))
	v, found, err := aside.Get[string](ctx, c, "greeting")
	fmt.Println(v, found, err)
	_, found, _ = aside.Get[string](ctx, c, "nothing")
	fmt.Println(found)
	// Output:
	// hello true <nil>
	// false
}

func ExampleFromEnv() {
	os.Setenv("CACHE_PROVIDER", "memory")
	os.Setenv("CACHE_DEFAULT_TTL", "3600")
	os.Setenv("CACHE_NAMESPACE", "shop")
	defer os.Unsetenv("CACHE_PROVIDER")
	defer os.Unsetenv("CACHE_DEFAULT_TTL")
	defer os.Unsetenv("CACHE_NAMESPACE")

	c, err := aside.FromEnv()
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.Ping(context.Background()))

	_, err = aside.OptionsFromEnv(map[string]string{"CACHE_DEFAULT_TTL": "soon"})
	fmt.Println(err)
	// Output:
	// <nil>
	// aside: bad configuration: CACHE_DEFAULT_TTL="soon": want seconds (3600) or a duration (1h)
}

func ExampleRedaction() {
	type Account struct {
		Email    string
		Password string
		APIKey   string
		Nickname string `aside:"redact"`
	}
	ctx := context.Background()
	load := func(context.Context) (Account, error) {
		return Account{Email: "ada@example.com", Password: "hunter2", APIKey: "sk-42", Nickname: "countess"}, nil
	}

	// The default: sensitive fields are dropped before anything is stored,
	// and the miss returns what later hits will return.
	c, _ := aside.New(aside.Options{})
	defer c.Close()
	a, _ := aside.Remember(ctx, c, "account:1", load)
	fmt.Printf("%+v\n", a)

	// A custom rule: mask instead of drop, and treat "email" as sensitive too.
	masked, _ := aside.New(aside.Options{Redaction: &aside.Redaction{Mode: aside.RedactMask, Add: []string{"email"}}})
	defer masked.Close()
	a, _ = aside.Remember(ctx, masked, "account:1", load)
	fmt.Printf("%+v\n", a)
	// Output:
	// {Email:ada@example.com Password: APIKey: Nickname:}
	// {Email:[REDACTED] Password:[REDACTED] APIKey:[REDACTED] Nickname:[REDACTED]}
}
