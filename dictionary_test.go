package aside

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aside-go/aside/codec"
	"github.com/aside-go/aside/provider"
	"github.com/aside-go/aside/provider/memory"
)

// listing is a small API object, like the values an automatic dictionary
// is for: ~300 bytes of msgpack sharing field names and vocabulary.
type listing struct {
	ID          int64             `msgpack:"id"`
	Name        string            `msgpack:"name"`
	Description string            `msgpack:"description"`
	License     string            `msgpack:"license"`
	Tarball     string            `msgpack:"tarball"`
	Deps        map[string]string `msgpack:"dependencies"`
}

var listingWords = strings.Fields(`fast small simple tiny utility for parsing strings streams
	buffers arrays objects promises events paths urls colors dates numbers json yaml
	http server client cli terminal node browser module package library`)

func newListing(r *rand.Rand, id int64) listing {
	w := func() string { return listingWords[r.IntN(len(listingWords))] }
	name := w() + "-" + w()
	deps := map[string]string{}
	for range r.IntN(4) {
		deps[w()+"-"+w()] = fmt.Sprintf("^%d.%d.%d", r.IntN(5), r.IntN(20), r.IntN(10))
	}
	return listing{
		ID: id, Name: name,
		Description: fmt.Sprintf("A %s %s %s for %s %s and %s.", w(), w(), w(), w(), w(), w()),
		License:     []string{"MIT", "ISC", "Apache-2.0", "BSD-3-Clause"}[r.IntN(4)],
		Tarball:     fmt.Sprintf("https://registry.npmjs.org/%s/-/%s-%d.%d.%d.tgz", name, name, r.IntN(5), r.IntN(20), r.IntN(10)),
		Deps:        deps,
	}
}

// sharedStore is a provider several Caches use, as instances of one
// service use one Redis; closing a Cache does not close it.
type sharedStore struct{ provider.Provider }

func (sharedStore) Close() error { return nil }

func newSharedStore(t *testing.T) *memory.Provider {
	m, err := memory.New(memory.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func newDictCache(t *testing.T, p provider.Provider, a *AutoDictionary) *Cache {
	t.Helper()
	c, err := New(Options{Provider: p, Namespace: "shop", AutoDictionary: a})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fill writes n listings from id first on and returns them by key.
func fill(t *testing.T, c *Cache, r *rand.Rand, first, n int) map[string]listing {
	t.Helper()
	out := map[string]listing{}
	for i := range n {
		v := newListing(r, int64(first+i))
		k := fmt.Sprintf("listing:%d", first+i)
		require.NoError(t, Set(context.Background(), c, k, v))
		out[k] = v
	}
	return out
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// trainedCache returns a Cache that has trained and published its
// dictionary on the shared store.
func trainedCache(t *testing.T, store provider.Provider, r *rand.Rand) *Cache {
	c := newDictCache(t, sharedStore{store}, &AutoDictionary{Samples: 200, MaxSize: 8 << 10})
	fill(t, c, r, 0, 250)
	waitFor(t, "the first cache trained a dictionary", func() bool { return c.Stats().Dictionary.ID != 0 })
	return c
}

func TestAutoDictionaryTrainsPublishesAndEveryInstanceDecodes(t *testing.T) {
	store := newSharedStore(t)
	r := rand.New(rand.NewPCG(1, 2))
	c1 := trainedCache(t, store, r)
	st := c1.Stats()
	require.Equal(t, int64(1), st.Dictionary.Trained)
	require.Equal(t, 1, st.Dictionary.Held)

	before := c1.Stats()
	held := fill(t, c1, r, 1000, 200) // values the dictionary never saw
	after := c1.Stats()
	withDict := float64(after.EncodedBytes-before.EncodedBytes) / float64(after.RawBytes-before.RawBytes)

	plain := codec.Must(codec.Options{})
	var raw, stored int
	for _, v := range held {
		f, n, err := plain.Marshal(nil, v)
		require.NoError(t, err)
		raw, stored = raw+n, stored+len(f)
	}
	without := float64(stored) / float64(raw)
	t.Logf("held-out listings: %.3f of their serialized size with the dictionary, %.3f without", withDict, without)
	require.Less(t, withDict, without*0.8, "the dictionary saves more than a fifth of what zstd alone stores")

	t.Run("another instance fetches the dictionary on first sight and adopts it", func(t *testing.T) {
		c2 := newDictCache(t, sharedStore{store}, &AutoDictionary{Samples: 200})
		for k, want := range held {
			got, found, err := Get[listing](context.Background(), c2, k)
			require.NoError(t, err)
			require.True(t, found, k)
			require.Equal(t, want, got)
		}
		st := c2.Stats()
		require.Equal(t, int64(1), st.Dictionary.Fetched, "one fetch for all the entries")
		require.Equal(t, c1.Stats().Dictionary.ID, st.Dictionary.ID, "the namespace's current dictionary is adopted for writes")
		require.Zero(t, st.DecodeFailures)
		require.Zero(t, st.Dictionary.Trained)
	})
	t.Run("an instance that starts later adopts the dictionary instead of training its own", func(t *testing.T) {
		c3 := newDictCache(t, sharedStore{store}, &AutoDictionary{Samples: 200})
		fill(t, c3, r, 5000, 10)
		waitFor(t, "the late instance adopted the dictionary", func() bool { return c3.Stats().Dictionary.ID != 0 })
		require.Equal(t, c1.Stats().Dictionary.ID, c3.Stats().Dictionary.ID)
		require.Zero(t, c3.Stats().Dictionary.Trained)
	})
}

func TestAutoDictionaryGarbledRecordIsAMissNotAnError(t *testing.T) {
	store := newSharedStore(t)
	r := rand.New(rand.NewPCG(3, 4))
	c1 := trainedCache(t, store, r)
	id := c1.Stats().Dictionary.ID
	key := c1.dicts.dictKey(id)
	rec, err := store.Get(context.Background(), key)
	require.NoError(t, err)

	for _, tc := range []struct {
		name   string
		garble func([]byte) []byte
	}{
		{"a flipped bit", func(b []byte) []byte { b[len(b)/2] ^= 4; return b }},
		{"a truncated record", func(b []byte) []byte { return b[:len(b)/2] }},
		{"another dictionary's record", func(b []byte) []byte {
			other, err := codec.Train(samplesOf(t, r, 50), codec.TrainOptions{MaxSize: 4 << 10, ID: 99999})
			require.NoError(t, err)
			return encodeDictRecord(other, 0.5)
		}},
		{"an empty value", func([]byte) []byte { return []byte{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, store.Set(context.Background(), key, tc.garble(append([]byte(nil), rec...)), time.Hour))
			c2 := newDictCache(t, sharedStore{store}, &AutoDictionary{Samples: 200})
			for k := range fill(t, c1, r, 1000, 1) {
				_, found, err := Get[listing](context.Background(), c2, k)
				require.NoError(t, err, "never an error")
				require.False(t, found, "a miss")
			}
			require.Equal(t, int64(1), c2.Stats().Dictionary.FetchFailures)
			require.Zero(t, c2.Stats().Dictionary.Fetched)
			require.Zero(t, c2.Stats().Dictionary.Held)
		})
	}
	t.Run("the next training replaces the garbled dictionary as the namespace's current one", func(t *testing.T) {
		c3 := newDictCache(t, sharedStore{store}, &AutoDictionary{Samples: 200, MaxSize: 8 << 10})
		fill(t, c3, r, 20000, 250)
		waitFor(t, "the new instance trained its own dictionary", func() bool { return c3.Stats().Dictionary.ID != 0 })
		got := c3.Stats().Dictionary
		require.NotEqual(t, id, got.ID)
		require.Equal(t, int64(1), got.Trained)
		ptr, err := store.Get(context.Background(), c3.dicts.pointerKey())
		require.NoError(t, err)
		cur, ok := decodePointer(ptr)
		require.True(t, ok)
		require.Equal(t, got.ID, cur, "the pointer names the new dictionary")
	})
}

func samplesOf(t *testing.T, r *rand.Rand, n int) [][]byte {
	var out [][]byte
	for i := range n {
		b, err := codec.Msgpack().Marshal(newListing(r, int64(i)))
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

// stallingStore hangs GetMulti on dictionary records until the call's
// context ends, and counts those calls.
type stallingStore struct {
	sharedStore
	calls atomic.Int64
}

func (s *stallingStore) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if len(keys) > 0 && strings.Contains(keys[0], ":d:") {
		s.calls.Add(1)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.sharedStore.GetMulti(ctx, keys)
}

func TestAutoDictionaryFetchIsBoundedAndNotRepeated(t *testing.T) {
	store := newSharedStore(t)
	r := rand.New(rand.NewPCG(5, 6))
	c1 := trainedCache(t, store, r)
	vals := fill(t, c1, r, 1000, 20)

	stall := &stallingStore{sharedStore: sharedStore{store}}
	c2, err := New(Options{Provider: stall, Namespace: "shop", AutoDictionary: &AutoDictionary{FetchTimeout: 50 * time.Millisecond},
		Breaker: Breaker{Disabled: true}})
	require.NoError(t, err)
	defer c2.Close()
	var wg sync.WaitGroup
	start := time.Now()
	for k := range vals {
		wg.Go(func() {
			_, found, err := Get[listing](context.Background(), c2, k)
			require.NoError(t, err)
			require.False(t, found)
		})
	}
	wg.Wait()
	require.Less(t, time.Since(start), 5*time.Second, "every read waits at most about one FetchTimeout")
	require.Equal(t, int64(1), stall.calls.Load(), "one fetch for all the concurrent reads, none after it failed")
	require.Equal(t, int64(1), c2.Stats().Dictionary.FetchFailures)

	t.Run("a caller's own deadline ends its wait", func(t *testing.T) {
		c3, err := New(Options{Provider: &stallingStore{sharedStore: sharedStore{store}}, Namespace: "shop",
			AutoDictionary: &AutoDictionary{FetchTimeout: time.Minute}, Breaker: Breaker{Disabled: true}})
		require.NoError(t, err)
		defer c3.Close() // ends the fetch still running
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		for k := range vals {
			_, _, err := Get[listing](ctx, c3, k)
			require.True(t, err == nil || errors.Is(err, context.DeadlineExceeded))
			break
		}
		require.Less(t, time.Since(start), time.Minute)
	})
}

func TestAutoDictionaryConcurrentTrainersConverge(t *testing.T) {
	store := newSharedStore(t)
	a := &AutoDictionary{Samples: 150, MaxSize: 8 << 10}
	c1, c2 := newDictCache(t, sharedStore{store}, a), newDictCache(t, sharedStore{store}, a)
	var wg sync.WaitGroup
	for i, c := range []*Cache{c1, c2} {
		wg.Go(func() { fill(t, c, rand.New(rand.NewPCG(uint64(i), 9)), i*10000, 200) })
	}
	wg.Wait()
	waitFor(t, "both instances use one dictionary", func() bool {
		id1, id2 := c1.Stats().Dictionary.ID, c2.Stats().Dictionary.ID
		return id1 != 0 && id1 == id2
	})
	require.Equal(t, int64(1), c1.Stats().Dictionary.Trained+c2.Stats().Dictionary.Trained, "one published; the other adopted it")
}

func TestAutoDictionaryKeepsOldDictionariesForDecoding(t *testing.T) {
	store := newSharedStore(t)
	r := rand.New(rand.NewPCG(7, 8))
	c := newDictCache(t, sharedStore{store}, &AutoDictionary{Keep: 2})
	d := c.dicts
	var frames [][]byte
	var ids []uint32
	v := newListing(r, 1)
	for i := range 3 {
		dict, err := codec.Train(samplesOf(t, r, 60), codec.TrainOptions{MaxSize: 4 << 10, ID: uint32(60000 + i)})
		require.NoError(t, err)
		d.adopt(heldDict{id: uint32(60000 + i), data: dict, expect: 0.5}, time.Now().Add(time.Hour))
		f, _, err := d.Marshal(nil, v)
		require.NoError(t, err)
		id, ok := codec.FrameDictionaryID(f)
		require.True(t, ok)
		require.Equal(t, uint32(60000+i), id, "new entries use the dictionary adopted last")
		frames, ids = append(frames, f), append(ids, id)
	}
	require.Len(t, d.cur.Load().held, 2, "Keep bounds the dictionaries held")
	for i, f := range frames {
		var got listing
		err := d.Unmarshal(f, &got)
		if i == 0 {
			require.ErrorIs(t, err, codec.ErrUnknownDictionary, "the oldest retired dictionary was dropped")
			continue
		}
		require.NoError(t, err, "dictionary %d is still held for decoding", ids[i])
		require.Equal(t, v, got)
	}

	t.Run("a retired dictionary goes once its entries have expired", func(t *testing.T) {
		c.maxLife.Store(int64(time.Millisecond))
		time.Sleep(5 * time.Millisecond)
		dict, err := codec.Train(samplesOf(t, r, 60), codec.TrainOptions{MaxSize: 4 << 10, ID: 60010})
		require.NoError(t, err)
		d.adopt(heldDict{id: 60010, data: dict}, time.Now().Add(time.Hour))
		require.Len(t, d.cur.Load().held, 2, "the one just retired is kept; the expired one went")
		var got listing
		require.ErrorIs(t, d.Unmarshal(frames[1], &got), codec.ErrUnknownDictionary)
		require.NoError(t, d.Unmarshal(frames[2], &got))
	})
}

func TestAutoDictionaryDriftStartsSampling(t *testing.T) {
	store := newSharedStore(t)
	r := rand.New(rand.NewPCG(9, 10))
	c := trainedCache(t, store, r)
	d := c.dicts
	require.False(t, d.collecting.Load(), "no sampling while the dictionary does its job")
	d.retrain = 0
	d.cfg.SampleBytes = 16 << 10
	set := *d.cur.Load()
	set.expect = 0.05 // far better than any value can do: everything drifts
	d.cur.Store(&set)
	fill(t, c, r, 2000, 100)
	require.True(t, d.collecting.Load() || d.stats().Trained > 1, "drift started sampling for a successor")
}

func TestAutoDictionaryOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"a custom Codec", Options{Codec: codec.Must(codec.Options{}), AutoDictionary: &AutoDictionary{}}},
		{"s2 compression", Options{Compression: codec.S2, AutoDictionary: &AutoDictionary{}}},
		{"too few samples", Options{AutoDictionary: &AutoDictionary{Samples: 3}}},
		{"a dictionary over 1 MiB", Options{AutoDictionary: &AutoDictionary{MaxSize: 2 << 20}}},
		{"a negative fetch timeout", Options{AutoDictionary: &AutoDictionary{FetchTimeout: -1}}},
		{"a negative drift", Options{AutoDictionary: &AutoDictionary{Drift: -0.1}}},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			_, err := New(tc.o)
			require.ErrorIs(t, err, ErrInvalidOption)
		})
	}
}

func TestDictionaryRecords(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	dict, err := codec.Train(samplesOf(t, r, 60), codec.TrainOptions{MaxSize: 4 << 10, ID: 70000})
	require.NoError(t, err)
	rec := encodeDictRecord(dict, 0.4321)
	got, expect, err := decodeDictRecord(rec, 70000)
	require.NoError(t, err)
	require.Equal(t, dict, got)
	require.InDelta(t, 0.4321, expect, 1e-6)
	_, _, err = decodeDictRecord(rec, 70001)
	require.Error(t, err, "a record under another ID")
	for i := range rec {
		bad := append([]byte(nil), rec...)
		bad[i] ^= 0x10
		_, _, err := decodeDictRecord(bad, 70000)
		require.Error(t, err, "byte %d flipped", i)
	}

	p := encodePointer(70000)
	id, ok := decodePointer(p)
	require.True(t, ok)
	require.Equal(t, uint32(70000), id)
	for i := range p {
		bad := append([]byte(nil), p...)
		bad[i] ^= 1
		_, ok := decodePointer(bad)
		require.False(t, ok, "byte %d flipped", i)
	}
}
