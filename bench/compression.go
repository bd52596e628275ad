package main

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/klauspost/compress/dict"

	"github.com/aside-go/aside/codec"
)

// kind is a payload the report measures: one value, or for the dictionary
// section a held-out set of values measured in turn.
type kind struct {
	name   string
	about  string
	values []any
	target func() any // a fresh pointer to decode into
}

func kindOf[T any](name, about string, vs ...T) kind {
	k := kind{name: name, about: about, target: func() any { return new(T) }}
	for _, v := range vs {
		k.values = append(k.values, v)
	}
	return k
}

// setup is a codec configuration under test.
type setup struct {
	name  string
	codec *codec.Codec
}

// measured is one kind under one setup. Sizes are means per value.
type measured struct {
	kind, setup string
	raw, stored float64 // serialized (msgpack) and stored (framed) bytes
	enc, dec    testing.BenchmarkResult
}

func (m measured) savings() float64 { return 100 * (1 - m.stored/m.raw) }

// Dictionary training: half of each small corpus trains, the other half is
// measured. The ID is fixed so frames are reproducible within a run.
const (
	dictSamples = 400 // per small kind; half train, half held out
	dictMaxSize = 4 << 10
	dictID      = 0x5AB1DE
)

// corpus holds every payload of the report, generated from fixed seeds.
type corpus struct {
	kinds      []kind // the main table
	heldOut    []kind // small values the dictionary never saw
	dictionary []byte
	trainBytes int // serialized bytes the dictionary was trained on
}

func newCorpus() (*corpus, error) {
	users, products := seeded(1), seeded(2)
	var us []User
	var ps []Product
	for i := range dictSamples {
		us = append(us, newUser(users, int64(i+1)))
		ps = append(ps, newProduct(products, int64(i+1)))
	}
	half := dictSamples / 2
	var samples [][]byte
	cb := &corpus{}
	for _, v := range append(anys(us[:half]), anys(ps[:half])...) {
		b, err := codec.Msgpack().Marshal(v)
		if err != nil {
			return nil, err
		}
		samples = append(samples, b)
		cb.trainBytes += len(b)
	}
	d, err := dict.BuildZstdDict(samples, dict.Options{MaxDictSize: dictMaxSize, HashBytes: 6, ZstdDictID: dictID})
	if err != nil {
		return nil, fmt.Errorf("training the zstd dictionary: %w", err)
	}
	cb.dictionary = d
	cb.heldOut = []kind{
		kindOf("user", "User, held out", us[half:]...),
		kindOf("product", "one Product (GET /products/:id), held out", ps[half:]...),
	}
	cb.kinds = []kind{
		kindOf("user", "the issue's User{ID, Name, Email, Roles, Bio} with an ~85-char bio (the first held-out user)", us[half]),
		kindOf("users page", "a page of 50 users with paging fields", newUsersPage(seeded(3), 50)),
		kindOf("API 2 KiB", "products response (name, description, price, tags) whose JSON is ~2 KiB, as its struct", newProductsResponse(seeded(4), 2<<10)),
		kindOf("API 64 KiB", "the same response type at ~64 KiB of JSON", newProductsResponse(seeded(5), 64<<10)),
		kindOf("HTML page", "a server-rendered product listing, ~32 KiB string", newHTMLPage(seeded(6), 32<<10)),
		kindOf("log text", "~16 KiB of logfmt request logs with random request IDs", newLogText(seeded(7), 16<<10)),
		kindOf("random", "16 KiB of random bytes: stands for JPEGs, gzip bodies, ciphertext", newRandomBytes(seeded(8), 16<<10)),
	}
	return cb, nil
}

func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// setups returns the codecs of the main table: each algorithm with the
// default options, and zstd with the trained dictionary and MinSize 1 (a
// dictionary is for the small values the default MinSize leaves raw).
func (cb *corpus) setups() ([]setup, error) {
	var out []setup
	for _, a := range []codec.Algorithm{codec.Zstd, codec.S2, codec.Gzip, codec.None} {
		c, err := codec.New(codec.Options{Compression: a})
		if err != nil {
			return nil, err
		}
		out = append(out, setup{a.String(), c})
	}
	c, err := codec.New(codec.Options{Dictionary: cb.dictionary, MinSize: 1})
	if err != nil {
		return nil, err
	}
	return append(out, setup{"zstd+dict", c}), nil
}

// dictSetups returns the codecs of the dictionary section.
func (cb *corpus) dictSetups() ([]setup, error) {
	var out []setup
	for _, o := range []struct {
		name string
		opts codec.Options
	}{
		{"zstd, default MinSize 256", codec.Options{}},
		{"zstd, MinSize 1", codec.Options{MinSize: 1}},
		{"zstd+dict, MinSize 1", codec.Options{MinSize: 1, Dictionary: cb.dictionary}},
	} {
		c, err := codec.New(o.opts)
		if err != nil {
			return nil, err
		}
		out = append(out, setup{o.name, c})
	}
	return out, nil
}

// frames encodes every value of k, checks that each decodes back to an
// equal value, and returns the frames with the mean sizes.
func frames(k kind, c *codec.Codec) (fs [][]byte, raw, stored float64, err error) {
	for _, v := range k.values {
		f, n, err := c.Marshal(nil, v)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("%s: marshal: %w", k.name, err)
		}
		t := k.target()
		if err := c.Unmarshal(f, t); err != nil {
			return nil, 0, 0, fmt.Errorf("%s: unmarshal: %w", k.name, err)
		}
		if !reflect.DeepEqual(reflect.ValueOf(t).Elem().Interface(), v) {
			return nil, 0, 0, fmt.Errorf("%s: the value changed in a round trip through the codec", k.name)
		}
		fs = append(fs, f)
		raw += float64(n)
		stored += float64(len(f))
	}
	n := float64(len(k.values))
	return fs, raw / n, stored / n, nil
}

// encodeBench measures Marshal of k's values in turn into a reused buffer.
// Throughput is of serialized bytes, so encode and decode MB/s compare.
func encodeBench(k kind, c *codec.Codec, raw float64) func(*testing.B) {
	return func(b *testing.B) {
		b.SetBytes(int64(raw))
		b.ReportAllocs()
		var buf []byte
		var err error
		i := 0
		for b.Loop() {
			if buf, _, err = c.Marshal(buf[:0], k.values[i%len(k.values)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
}

// decodeBench measures Unmarshal of the frames in turn into a fresh value,
// as a cache hit does.
func decodeBench(k kind, c *codec.Codec, fs [][]byte, raw float64) func(*testing.B) {
	return func(b *testing.B) {
		b.SetBytes(int64(raw))
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := c.Unmarshal(fs[i%len(fs)], k.target()); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
}

// measure sizes and times every kind under every setup.
func measure(kinds []kind, setups []setup, t timing) ([]measured, error) {
	var out []measured
	for _, k := range kinds {
		for _, s := range setups {
			fs, raw, stored, err := frames(k, s.codec)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", s.name, err)
			}
			out = append(out, measured{
				kind: k.name, setup: s.name, raw: raw, stored: stored,
				enc: t.run(t.codec, encodeBench(k, s.codec, raw)),
				dec: t.run(t.codec, decodeBench(k, s.codec, fs, raw)),
			})
		}
	}
	return out, nil
}

// mixShare is one class of entries in the typical cache mix.
type mixShare struct {
	kind    string
	per1000 int
}

// typicalMix: 70% small entities, 25% lists and pages, 5% large responses.
var typicalMix = []mixShare{{"user", 700}, {"users page", 125}, {"API 2 KiB", 125}, {"API 64 KiB", 50}}

// mixTotal is 1,000 entries of typicalMix under one setup.
type mixTotal struct {
	setup       string
	raw, stored float64
}

func mix(ms []measured, setups []setup) ([]mixTotal, error) {
	var out []mixTotal
	for _, s := range setups {
		t := mixTotal{setup: s.name}
		for _, share := range typicalMix {
			m, ok := find(ms, share.kind, s.name)
			if !ok {
				return nil, fmt.Errorf("mix: no measurement of %s with %s", share.kind, s.name)
			}
			t.raw += float64(share.per1000) * m.raw
			t.stored += float64(share.per1000) * m.stored
		}
		out = append(out, t)
	}
	return out, nil
}

func find(ms []measured, kind, setup string) (measured, bool) {
	for _, m := range ms {
		if m.kind == kind && m.setup == setup {
			return m, true
		}
	}
	return measured{}, false
}
