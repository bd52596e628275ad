package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
)

func ExampleNew() {
	ctx := context.Background()
	p, err := memory.New(memory.Options{MaxBytes: 32 << 20})
	if err != nil {
		panic(err)
	}
	defer p.Close()

	_ = p.Set(ctx, "user:42", []byte(`{"name":"Ada"}`), time.Minute)
	v, _ := p.Get(ctx, "user:42")
	fmt.Printf("%s\n", v)

	// Add stores only if absent, and shows what is there otherwise.
	existing, added, _ := p.Add(ctx, "user:42", []byte(`{"name":"Bob"}`), time.Minute)
	fmt.Printf("added=%v existing=%s\n", added, existing)

	_, err = p.Get(ctx, "user:7")
	fmt.Println(errors.Is(err, provider.ErrNotFound))
	// Output:
	// {"name":"Ada"}
	// added=false existing={"name":"Ada"}
	// true
}
