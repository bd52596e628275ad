package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/redis"
)

// spreadKeys returns n keys under prefix and checks that they hash to slots
// owned by every master of the cluster, so that multi-key calls span nodes.
func spreadKeys(t *testing.T, raw *goredis.ClusterClient, prefix string, n int) []string {
	t.Helper()
	ctx := ctxFor(t)
	keys := make([]string, n)
	masters := map[string]bool{}
	slots := map[int64]bool{}
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%d", prefix, i)
		m, err := raw.MasterForKey(ctx, keys[i])
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
		slot, err := raw.ClusterKeySlot(ctx, keys[i]).Result()
		if err != nil {
			t.Fatal(err)
		}
		slots[slot] = true
	}
	if len(masters) != len(testCluster(t).Nodes) || len(slots) < 2 {
		t.Fatalf("%d keys hash to %d masters and %d slots; the test needs every master", n, len(masters), len(slots))
	}
	return keys
}

func TestClusterMultiKeyCallsSpanSlotsWithoutCrossslot(t *testing.T) {
	p := newClustered(t, redis.Options{Timeout: 2 * time.Second})
	raw := clusterClient(t)
	ctx := ctxFor(t)
	keys := spreadKeys(t, raw, "slots:", 12)
	// A hash tag puts two keys in one slot; the provider must not mind.
	keys = append(keys, "{user:1}:entry", "{user:1}:tag")

	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	items := make([]provider.Item, len(keys))
	for i, k := range keys {
		v := []byte{0, byte(i), '\r', '\n', 0xff}
		if i == 1 {
			v = big
		}
		items[i] = provider.Item{Key: k, Value: v, TTL: time.Minute}
	}
	if err := p.SetMulti(ctx, items); err != nil {
		t.Fatalf("SetMulti across slots: %v", err)
	}

	withMissing := append([]string{"slots:missing"}, keys...)
	got, err := p.GetMulti(ctx, withMissing)
	if err != nil {
		t.Fatalf("GetMulti across slots: %v", err)
	}
	if got[0] != nil {
		t.Fatalf("GetMulti of a missing key = %q, want nil", got[0])
	}
	for i, it := range items {
		if !bytes.Equal(got[i+1], it.Value) {
			t.Fatalf("GetMulti[%d] (%q) returned %d bytes, want the %d stored", i+1, it.Key, len(got[i+1]), len(it.Value))
		}
	}

	// Leases on keys of different masters.
	for _, k := range keys[:3] {
		lease := k + ":lease"
		if _, added, err := p.Add(ctx, lease, []byte("a"), time.Minute); err != nil || !added {
			t.Fatalf("Add(%q) = added %v, %v", lease, added, err)
		}
		if ok, err := p.CompareAndSwap(ctx, lease, []byte("a"), []byte("b"), time.Minute); err != nil || !ok {
			t.Fatalf("CompareAndSwap(%q) = %v, %v", lease, ok, err)
		}
		keys = append(keys, lease)
	}

	n, err := p.Delete(ctx, append(keys, "slots:missing")...)
	if err != nil {
		t.Fatalf("Delete across slots: %v", err)
	}
	if n != len(keys) {
		t.Fatalf("Delete removed %d keys, want %d", n, len(keys))
	}
	got, err = p.GetMulti(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != nil {
			t.Fatalf("key %q survived Delete", keys[i])
		}
	}
}

func TestClusterDeletePatternVisitsEveryMaster(t *testing.T) {
	// A small ScanCount makes each master take several SCAN batches.
	p := newClustered(t, redis.Options{ScanCount: 20})
	raw := clusterClient(t)
	ctx := ctxFor(t)
	doomed := spreadKeys(t, raw, "pattern:doomed:", 300)
	kept := spreadKeys(t, raw, "pattern:kept:", 30)
	var items []provider.Item
	for _, k := range append(append([]string{}, doomed...), kept...) {
		items = append(items, provider.Item{Key: k, Value: []byte("v"), TTL: time.Minute})
	}
	if err := p.SetMulti(ctx, items); err != nil {
		t.Fatal(err)
	}

	n, err := p.DeletePattern(ctx, "pattern:doomed:*")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(doomed) {
		t.Fatalf("DeletePattern removed %d keys, want %d", n, len(doomed))
	}
	var left, others atomic.Int64
	err = raw.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		d, err := m.Keys(ctx, "pattern:doomed:*").Result()
		left.Add(int64(len(d)))
		if err != nil {
			return err
		}
		k, err := m.Keys(ctx, "pattern:kept:*").Result()
		others.Add(int64(len(k)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if left.Load() != 0 || others.Load() != int64(len(kept)) {
		t.Fatalf("after DeletePattern: %d matching keys left, %d of %d others kept", left.Load(), others.Load(), len(kept))
	}
	if _, err := p.Delete(ctx, kept...); err != nil {
		t.Fatal(err)
	}
}

func TestClusterLenSumsEveryMaster(t *testing.T) {
	p := newClustered(t, redis.Options{})
	raw := clusterClient(t)
	ctx := ctxFor(t)
	keys := spreadKeys(t, raw, "len:", 30)
	var want atomic.Int64
	count := func() int64 {
		want.Store(0)
		err := raw.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
			n, err := m.DBSize(ctx).Result()
			want.Add(n)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return want.Load()
	}
	before := count()
	for _, k := range keys {
		if err := p.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	n, err := p.Len(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != before+int64(len(keys)) || n != count() {
		t.Fatalf("Len = %d, want %d (DBSIZE summed over masters)", n, before+int64(len(keys)))
	}
	if _, err := p.Delete(ctx, keys...); err != nil {
		t.Fatal(err)
	}
}
