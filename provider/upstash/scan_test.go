package upstash_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

func TestScanWalksTheMatchingKeysReadOnly(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{ScanCount: 7})
	ctx := context.Background()
	pre := prefix(t)
	var want []string
	for i := range 40 {
		k := fmt.Sprintf("%sscan:%02d", pre, i)
		want = append(want, k)
		if err := p.Set(ctx, k, []byte{byte(i)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Set(ctx, pre+"other", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	before := p.Usage()
	var got []string
	cursor := "0"
	for {
		keys, next, err := p.Scan(ctx, cursor, pre+"scan:*")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, keys...)
		if cursor = next; cursor == "0" {
			break
		}
	}
	slices.Sort(got)
	got = slices.Compact(got) // SCAN may return a key twice
	if !slices.Equal(got, want) {
		t.Fatalf("Scan found %d keys, want the %d matching ones", len(got), len(want))
	}
	if vals, err := p.GetMulti(ctx, []string{want[3]}); err != nil || len(vals) != 1 || vals[0][0] != 3 {
		t.Fatalf("values unchanged: %v %v", vals, err)
	}
	if used := p.Usage().Commands - before.Commands; used < 2 {
		t.Fatalf("each SCAN is a billed command; counted %d", used)
	}
}
