package codec_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/aside-go/aside/codec"
)

// User is the value the root package's Remember hit target is measured on.
type User struct {
	ID    int64
	Name  string
	Email string
	Roles []string
	Bio   string
}

func sampleUser() User {
	return User{
		ID:    42,
		Name:  "Ada Lovelace",
		Email: "ada@example.com",
		Roles: []string{"admin", "editor"},
		Bio:   "Mathematician and writer, known for her work on Babbage's proposed Analytical Engine.",
	}
}

// Item is one record of the realistic benchmark payloads.
type Item struct {
	ID          int64             `msgpack:"id"`
	SKU         string            `msgpack:"sku"`
	Title       string            `msgpack:"title"`
	Description string            `msgpack:"description"`
	Price       float64           `msgpack:"price"`
	Tags        []string          `msgpack:"tags"`
	Attrs       map[string]string `msgpack:"attrs"`
	InStock     bool              `msgpack:"in_stock"`
}

var words = strings.Fields(`the quick brown fox jumps over lazy dog cache aside value store
	redis memory cluster latency throughput request response handler user order product
	price discount shipping warehouse customer account session token region update delete
	create list search filter sort page limit offset total count status active pending`)

var itemsCache sync.Map // size -> []Item

// items returns deterministic, JSON-like records whose msgpack form is about
// size bytes: repetitive field names, words from a small vocabulary, numbers.
// Callers must not modify the result.
func items(size int) []Item {
	if v, ok := itemsCache.Load(size); ok {
		return v.([]Item)
	}
	v, _ := itemsCache.LoadOrStore(size, makeItems(size))
	return v.([]Item)
}

func makeItems(size int) []Item {
	r := rand.New(rand.NewPCG(1, 2))
	sentence := func(n int) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
		}
		return b.String()
	}
	var out []Item
	for total := 0; ; {
		it := Item{
			ID:          r.Int64N(1e9),
			SKU:         fmt.Sprintf("SKU-%06d", r.IntN(1e6)),
			Title:       sentence(3),
			Description: sentence(8 + r.IntN(8)),
			Price:       float64(r.IntN(100000)) / 100,
			Tags:        []string{words[r.IntN(len(words))], words[r.IntN(len(words))]},
			Attrs:       map[string]string{"color": words[r.IntN(len(words))], "size": "M"},
			InStock:     r.IntN(2) == 0,
		}
		b, err := msgpack.Marshal(it)
		if err != nil {
			panic(err)
		}
		if total+len(b) > size && len(out) > 0 {
			return out
		}
		out = append(out, it)
		total += len(b)
	}
}

var benchSizes = []struct {
	name string
	size int
}{{"256B", 256}, {"4KiB", 4 << 10}, {"64KiB", 64 << 10}}

var benchAlgs = []codec.Algorithm{codec.Zstd, codec.S2, codec.Gzip, codec.None}

func BenchmarkMarshal(b *testing.B) {
	for _, a := range benchAlgs {
		for _, s := range benchSizes {
			b.Run(a.String()+"/"+s.name, func(b *testing.B) {
				c := codec.Must(codec.Options{Compression: a, MinSize: 1})
				v := items(s.size)
				frame, raw, err := c.Marshal(nil, v)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(raw))
				b.ReportAllocs()
				b.ResetTimer()
				buf := make([]byte, 0, len(frame)+64)
				for b.Loop() {
					if buf, _, err = c.Marshal(buf[:0], v); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(raw)/float64(len(frame)), "ratio")
			})
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, a := range benchAlgs {
		for _, s := range benchSizes {
			b.Run(a.String()+"/"+s.name, func(b *testing.B) {
				c := codec.Must(codec.Options{Compression: a, MinSize: 1})
				frame, raw, err := c.Marshal(nil, items(s.size))
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(raw))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					var v []Item
					if err := c.Unmarshal(frame, &v); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(raw)/float64(len(frame)), "ratio")
			})
		}
	}
}

// BenchmarkUnmarshalUser is the codec's share of a Remember hit: the User
// frame is below MinSize, so it is raw.
func BenchmarkUnmarshalUser(b *testing.B) {
	c := codec.Must(codec.Options{})
	frame, raw, err := c.Marshal(nil, sampleUser())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(raw))
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var u User
			if err := c.Unmarshal(frame, &u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				var u User
				if err := c.Unmarshal(frame, &u); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func BenchmarkMarshalUser(b *testing.B) {
	c := codec.Must(codec.Options{})
	u := sampleUser()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, _, err = c.Marshal(buf[:0], u); err != nil {
			b.Fatal(err)
		}
	}
}

var checksumSink uint64

// BenchmarkChecksum measures what the version 2 checksum costs a read: the
// same raw frame decoded with its checksum (v2) and without (the version 1
// frame with the same header and payload), for a User-sized value and a
// 64 KiB one, decoded into a []byte so that the checksum's share shows.
func BenchmarkChecksum(b *testing.B) {
	c := codec.Must(codec.Options{Compression: codec.None})
	for _, s := range []struct {
		name string
		size int
	}{{"128B", 128}, {"64KiB", 64 << 10}} {
		frame, _, err := c.Marshal(nil, randomBytes(s.size))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(s.name+"/xxhash64", func(b *testing.B) {
			b.SetBytes(int64(len(frame)))
			for b.Loop() {
				checksumSink = xxhash.Sum64(frame)
			}
		})
		for _, f := range []struct {
			name  string
			frame []byte
		}{{"v2", frame}, {"v1", asVersion1(frame)}} {
			b.Run(s.name+"/"+f.name, func(b *testing.B) {
				b.SetBytes(int64(len(f.frame)))
				b.ReportAllocs()
				var v []byte
				for b.Loop() {
					if err := c.Unmarshal(f.frame, &v); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
