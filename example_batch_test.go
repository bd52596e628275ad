package aside_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aside-go/aside"
)

func ExampleRememberMany() {
	c, err := aside.New(aside.Options{}) // in-memory
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()

	// The database: one query for many IDs (WHERE id IN (...)).
	users := map[int64]User{1: {ID: 1, Name: "Ada"}, 2: {ID: 2, Name: "Grace"}, 3: {ID: 3, Name: "Edsger"}}
	loadUsers := func(ctx context.Context, ids []int64) (map[int64]User, error) {
		slices.Sort(ids)
		fmt.Println("SELECT ... WHERE id IN", ids)
		found := map[int64]User{}
		for _, id := range ids {
			if u, ok := users[id]; ok {
				found[id] = u
			}
		}
		return found, nil
	}
	key := func(id int64) string { return "user:" + strconv.FormatInt(id, 10) }
	opts := []aside.Option{
		aside.TTL(10 * time.Minute),
		// Each entry carries its own key as a tag: "user:2" on user 2's.
		aside.TagsFor(func(key string) []string { return []string{key} }),
		// Remember for a minute that user 99 does not exist.
		aside.AbsentTTL(time.Minute),
	}

	page, _ := aside.RememberMany(ctx, c, []int64{1, 2, 99}, key, loadUsers, opts...)
	fmt.Println(page[1].Name, page[2].Name, len(page))

	// Users 1 and 2 (and the absence of 99) come from the cache; only 3 loads.
	page, _ = aside.RememberMany(ctx, c, []int64{1, 2, 3, 99}, key, loadUsers, opts...)
	fmt.Println(page[1].Name, page[2].Name, page[3].Name, len(page))

	// After user 2 changes, its tag ends its entry, and only it reloads.
	users[2] = User{ID: 2, Name: "Grace Hopper"}
	_ = c.InvalidateTags(ctx, "user:2")
	page, _ = aside.RememberMany(ctx, c, []int64{1, 2, 3}, key, loadUsers, opts...)
	fmt.Println(page[2].Name)

	s := c.Stats()
	fmt.Printf("batch hits=%d misses=%d loads=%d\n", s.BatchHits, s.BatchMisses, s.Loads)
	// Output:
	// SELECT ... WHERE id IN [1 2 99]
	// Ada Grace 2
	// SELECT ... WHERE id IN [3]
	// Ada Grace Edsger 3
	// SELECT ... WHERE id IN [2]
	// Grace Hopper
	// batch hits=5 misses=5 loads=3
}

func ExampleGetMany() {
	c, _ := aside.New(aside.Options{})
	defer c.Close()
	ctx := context.Background()

	_ = aside.SetMany(ctx, c, map[string]string{"greeting:en": "hello", "greeting:fr": "bonjour"}, aside.TTL(time.Minute))
	got, err := aside.GetMany[string](ctx, c, []string{"greeting:en", "greeting:fr", "greeting:de"})
	fmt.Println(got["greeting:en"], got["greeting:fr"], len(got), err)
	// Output:
	// hello bonjour 2 <nil>
}
