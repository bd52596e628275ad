package memory

import (
	"context"
	"testing"
)

func TestSizeCountsWhatTheBoundCharges(t *testing.T) {
	p, err := New(Options{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx := context.Background()
	used, limit, err := p.Size(ctx)
	if err != nil || used != 0 || limit != 1<<20 {
		t.Fatalf("empty: Size() = %d, %d, %v; want 0, %d, nil", used, limit, err, 1<<20)
	}
	if err := p.Set(ctx, "key", make([]byte, 128), 0); err != nil {
		t.Fatal(err)
	}
	used, _, err = p.Size(ctx)
	if want := weigh("key", make([]byte, 128)); err != nil || used != want {
		t.Fatalf("after one write: Size() = %d, %v; want %d (a write that returned is counted)", used, err, want)
	}
	if _, err := p.Delete(ctx, "key"); err != nil {
		t.Fatal(err)
	}
	if used, _, _ = p.Size(ctx); used != 0 {
		t.Fatalf("after the delete: used = %d, want 0", used)
	}
	_ = p.Close()
	if _, _, err := p.Size(ctx); err == nil {
		t.Fatal("Size on a closed provider returned no error")
	}
}
