package upstash_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/upstash"
	"github.com/aside-go/aside/provider/upstash/emulator"
)

// A batch larger than the script's MGET chunk (1000 keys, below Lua's
// limit on unpack) is still one billed command, and every key is answered
// in order: present, added, read only.
func TestGetAddMultiOfThousandsOfKeysIsOneCommand(t *testing.T) {
	f := newFixture(t, emulator.Options{})
	p := f.provider(t, upstash.Options{Timeout: 10 * time.Second})
	ctx := ctxFor(t)
	pre := prefix(t)
	const n = 2500
	var items []provider.Item
	fetches := make([]provider.Fetch, n)
	for i := range fetches {
		k := fmt.Sprintf("%s%04d", pre, i)
		fetches[i] = provider.Fetch{Key: k}
		switch i % 3 {
		case 0:
			items = append(items, provider.Item{Key: k, Value: []byte(fmt.Sprint(i)), TTL: time.Minute})
		case 1:
			fetches[i].Add, fetches[i].TTL = []byte(fmt.Sprint(-i)), time.Minute
		}
	}
	require.NoError(t, p.SetMulti(ctx, items))
	var res []provider.AddResult
	cmds, byName := billed(t, f, func() {
		var err error
		res, err = p.GetAddMulti(ctx, fetches)
		require.NoError(t, err)
	})
	require.EqualValues(t, 1, cmds, "%v", byName)
	require.Len(t, res, n)
	for i, r := range res {
		switch i % 3 {
		case 0:
			require.Equal(t, provider.AddResult{Existing: []byte(fmt.Sprint(i))}, r, "fetch %d", i)
		case 1:
			require.Equal(t, provider.AddResult{Added: true}, r, "fetch %d", i)
		case 2:
			require.Equal(t, provider.AddResult{}, r, "fetch %d", i)
		}
	}
	swaps := make([]provider.Swap, 0, n/3+1)
	for i := 1; i < n; i += 3 {
		swaps = append(swaps, provider.Swap{Key: fetches[i].Key, Old: fetches[i].Add, New: []byte("loaded"), TTL: time.Minute})
	}
	var ok []bool
	cmds, byName = billed(t, f, func() {
		var err error
		ok, err = p.CompareAndSwapMulti(ctx, swaps)
		require.NoError(t, err)
	})
	require.EqualValues(t, 1, cmds, "%v", byName)
	for i, swapped := range ok {
		require.True(t, swapped, "swap %d", i)
	}
	_, err := p.DeletePattern(ctx, pre+"*")
	require.NoError(t, err)
}
