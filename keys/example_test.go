package keys_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aside-go/aside/keys"
)

func Example() {
	b, err := keys.New(keys.Options{Namespace: "shop"})
	if err != nil {
		panic(err)
	}
	entry, _ := b.Entry("user:42")
	tag, _ := b.Tag("users")
	glob, _ := b.EntryPattern("user:*")
	fmt.Println(entry)
	fmt.Println(tag)
	fmt.Println(glob)
	fmt.Println(keys.Match(glob, entry))
	// Output:
	// aside:shop:v1:e:user:42
	// aside:shop:v1:t:users
	// aside:shop:v1:e:user:*
	// true
}

func ExampleBuilder_Entry() {
	b, _ := keys.New(keys.Options{Namespace: "a:b", Version: 3})
	for _, k := range []string{"product:7:reviews", "cart:{42}", "100%", "line\r\n", "50% off #1"} {
		s, _ := b.Entry(k)
		fmt.Println(s)
	}
	_, err := b.Entry("")
	fmt.Println(errors.Is(err, keys.ErrEmpty))
	// Output:
	// aside:a%3Ab:v3:e:product:7:reviews
	// aside:a%3Ab:v3:e:cart:%7B42%7D
	// aside:a%3Ab:v3:e:100%25
	// aside:a%3Ab:v3:e:line%0D%0A
	// aside:a%3Ab:v3:e:50%25 off %231
	// true
}

func ExampleBuilder_Entry_hashed() {
	b, _ := keys.New(keys.Options{MaxLen: keys.MinMaxLen})
	s, _ := b.Entry("report:" + strings.Repeat("x", 200))
	fmt.Println(s)
	fmt.Println(len(s) - len(b.Prefix()+"e:"))
	// Output:
	// aside::v1:e:report:xxxxxxxxxxxxxxxxxxxxxxxxxxxx#7021edc6ed2209ddda15d08364e27ee38df8e5dcc75489251fc60fc925a5d241
	// 100
}

func ExampleBuilder_Tag() {
	b, _ := keys.New(keys.Options{Namespace: "shop", Version: 2})
	t, _ := b.Tag("product:7")
	e, _ := b.Entry("product:7")
	fmt.Println(t)
	fmt.Println(e)
	// Output:
	// aside:shop:v2:t:product:7
	// aside:shop:v2:e:product:7
}

func ExampleBuilder_EntryPattern() {
	b, _ := keys.New(keys.Options{Namespace: "shop*"})
	for _, g := range []string{"user:*", "cart:{*}", `literal\*star`, "sku:[a-c]?", "[%]"} {
		s, err := b.EntryPattern(g)
		if err != nil {
			fmt.Println(errors.Is(err, keys.ErrInvalidPattern))
			continue
		}
		fmt.Println(s)
	}
	// Output:
	// aside:shop\*:v1:e:user:*
	// aside:shop\*:v1:e:cart:%7B*%7D
	// aside:shop\*:v1:e:literal\*star
	// aside:shop\*:v1:e:sku:[a-c]?
	// true
}

func ExampleMatch() {
	fmt.Println(keys.Match("user:*", "user:42"))
	fmt.Println(keys.Match("user:?", "user:42"))
	fmt.Println(keys.Match("h[ae]llo", "hello"))
	fmt.Println(keys.Match("h[^e]llo", "hello"))
	fmt.Println(keys.Match(`a\*`, "a*"))
	// Output:
	// true
	// false
	// true
	// false
	// true
}

func ExampleEscape() {
	esc := keys.Escape(nil, "caf\u00e9 {50%}\n\xff")
	fmt.Println(string(esc))
	back, _ := keys.Unescape(nil, string(esc))
	fmt.Printf("%q\n", back)
	// Output:
	// café %7B50%25%7D%0A%FF
	// "café {50%}\n\xff"
}
