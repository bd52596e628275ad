package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/aside-go/aside"
	"github.com/aside-go/aside/codec"
)

// realKind is one kind of value of the npm corpus: the held-out values,
// with their JSON (the baseline every ratio divides by).
type realKind struct {
	name, about string
	values      []any
	jsons       [][]byte
	target      func() any
}

func realKindOf[T any](name, about string, vs []T) (realKind, error) {
	k := realKind{name: name, about: about, target: func() any { return new(T) }}
	for _, v := range vs {
		j, err := json.Marshal(v)
		if err != nil {
			return k, err
		}
		k.values = append(k.values, v)
		k.jsons = append(k.jsons, j)
	}
	return k, nil
}

func (k realKind) jsonTotal() (n int) {
	for _, j := range k.jsons {
		n += len(j)
	}
	return n
}

// realSetup stores a value one way: encode returns the stored bytes,
// decode reads them back into a fresh value.
type realSetup struct {
	name     string
	baseline bool // the plain JSON + zstd every ratio is compared with
	encode   func(v any, json []byte) ([]byte, error)
	decode   func(stored []byte, into any) error
}

// codecSetup is a Codec as the Cache uses it.
func codecSetup(name string, c *codec.Codec) realSetup {
	return realSetup{
		name:   name,
		encode: func(v any, _ []byte) ([]byte, error) { f, _, err := c.Marshal(nil, v); return f, err },
		decode: c.Unmarshal,
	}
}

// jsonZstdSetup is what a service does without aside: json.Marshal, then a
// standard zstd frame at the default level (dict: with a dictionary
// trained the same way on the JSON of the training half).
func jsonZstdSetup(name string, dict []byte) (realSetup, error) {
	if dict == nil {
		return realSetup{
			name: name, baseline: true,
			encode: func(_ any, j []byte) ([]byte, error) { return codec.AppendCompressed(nil, j, codec.Zstd, 0) },
			decode: func(b []byte, into any) error {
				j, err := codec.AppendDecompressed(nil, b, codec.Zstd)
				if err != nil {
					return err
				}
				return json.Unmarshal(j, into)
			},
		}, nil
	}
	// A dictionary needs a Codec; give it a JSON Serializer so that what it
	// compresses is the JSON text.
	c, err := codec.New(codec.Options{Serializer: jsonSerializer{}, Dictionary: dict, MinSize: 64})
	if err != nil {
		return realSetup{}, err
	}
	s := codecSetup(name, c)
	return s, nil
}

// jsonSerializer is encoding/json as a codec.Serializer, for the measured
// alternative to msgpack.
type jsonSerializer struct{}

func (jsonSerializer) Marshal(v any) ([]byte, error)   { return json.Marshal(v) }
func (jsonSerializer) Unmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// realResult is one kind under one setup, summed over the held-out values.
type realResult struct {
	kind, setup    string
	baseline       bool
	n              int
	json, stored   int     // bytes in all
	medianRatio    float64 // of stored/JSON per value
	enc, dec       testing.BenchmarkResult
	meanJSON       float64
	autoDictionary bool
}

func (r realResult) ratio() float64 { return float64(r.stored) / float64(r.json) }

// encMBps and decMBps are in JSON bytes per second, so that every row
// compares with the baseline's.
func (r realResult) encMBps() float64 { return mbpsOf(r.enc, r.meanJSON) }
func (r realResult) decMBps() float64 { return mbpsOf(r.dec, r.meanJSON) }

func mbpsOf(b testing.BenchmarkResult, bytesPerOp float64) float64 {
	v := ns(b)
	if v == 0 {
		return 0
	}
	return bytesPerOp * 1e3 / v
}

// realData is the report's section on the npm corpus.
type realData struct {
	corpus     *npmCorpus
	kinds      []realKind
	setups     []realSetup
	results    []realResult
	dictionary []byte // the automatic dictionary the Cache trained
	dictID     uint32
	dictTook   time.Duration // from the first write to a trained dictionary
	trainVals  int
	trainBytes int
}

// Setup names the report and its test refer to.
const (
	setupBaseline = "JSON text + zstd (baseline)"
	setupDefault  = "aside default: msgpack + zstd 3"
	setupAutoDict = "aside + automatic dictionary"
	setupJSONDict = "JSON text + zstd + dictionary"
	kindLarge     = "npm documents"
	kindSmall     = "npm releases"
)

func newRealData(ctx context.Context) (*realData, error) {
	c, err := loadNPM()
	if err != nil {
		return nil, err
	}
	rd := &realData{corpus: c}
	large, err := realKindOf(kindLarge, "whole package documents (packuments: every version's manifest, dist-tags, publish times), as a Go struct", c.heldDocs)
	if err != nil {
		return nil, err
	}
	small, err := realKindOf(kindSmall, "one version each (name, version, description, license, author, repository, dependencies, publish time, tarball), as a Go struct: a typical small API object", c.heldReleases)
	if err != nil {
		return nil, err
	}
	rd.kinds = []realKind{large, small}
	if err := rd.trainAutomatic(ctx); err != nil {
		return nil, err
	}
	return rd, rd.buildSetups()
}

// trainAutomatic writes the training half through a real Cache with an
// automatic dictionary, in a shuffled order as a live cache would see it,
// and waits for the dictionary it trains.
func (rd *realData) trainAutomatic(ctx context.Context) error {
	c, err := aside.New(aside.Options{Namespace: "npm", AutoDictionary: &aside.AutoDictionary{}})
	if err != nil {
		return err
	}
	defer c.Close()
	type item struct {
		key string
		v   any
	}
	var items []item
	for _, p := range rd.corpus.trainDocs {
		items = append(items, item{"doc:" + p.Name, p})
	}
	for _, r := range rd.corpus.trainReleases {
		items = append(items, item{"release:" + r.Name + "@" + r.Version, r})
	}
	rand.New(rand.NewPCG(20261130, 1)).Shuffle(len(items), func(i, j int) { items[i], items[j] = items[j], items[i] })
	start := time.Now()
	for _, it := range items {
		if err := aside.Set(ctx, c, it.key, it.v); err != nil {
			return err
		}
		if id, _ := c.Dictionary(); id != 0 {
			break
		}
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if id, d := c.Dictionary(); id != 0 {
			rd.dictID, rd.dictionary, rd.dictTook = id, d, time.Since(start)
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("the Cache trained no dictionary from %d values (stats %+v)", len(items), c.Stats().Dictionary)
		}
	}
	st := c.Stats()
	rd.trainVals, rd.trainBytes = int(st.Sets), int(st.RawBytes)
	return nil
}

func (rd *realData) buildSetups() error {
	base, err := jsonZstdSetup(setupBaseline, nil)
	if err != nil {
		return err
	}
	rd.setups = append(rd.setups, base)
	for _, s := range []struct {
		name string
		o    codec.Options
	}{
		{"aside zstd 1", codec.Options{Level: 1}},
		{setupDefault, codec.Options{}},
		{"aside zstd 7", codec.Options{Level: 7}},
		{"aside zstd 19", codec.Options{Level: 19}},
		{"aside s2 1", codec.Options{Compression: codec.S2}},
		{"aside s2 3", codec.Options{Compression: codec.S2, Level: 3}},
		{"aside gzip 5", codec.Options{Compression: codec.Gzip}},
		{"aside none", codec.Options{Compression: codec.None}},
		// The Cache's own settings with its dictionary (AutoDictionary's
		// MinSize default is 64 bytes).
		{setupAutoDict, codec.Options{Dictionary: rd.dictionary, MinSize: 64}},
	} {
		c, err := codec.New(s.o)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		rd.setups = append(rd.setups, codecSetup(s.name, c))
	}
	// The alternative: JSON text with a dictionary trained the same way
	// (codec.Train, on the training half's JSON, cut as the Cache cuts).
	var samples [][]byte
	for _, p := range rd.corpus.trainDocs {
		j, _ := json.Marshal(p)
		samples = append(samples, j[:min(len(j), 16<<10)])
	}
	for _, r := range rd.corpus.trainReleases {
		j, _ := json.Marshal(r)
		samples = append(samples, j)
	}
	rand.New(rand.NewPCG(20261130, 2)).Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
	d, err := codec.Train(samples[:min(len(samples), 800)], codec.TrainOptions{})
	if err != nil {
		return fmt.Errorf("training the JSON dictionary: %w", err)
	}
	js, err := jsonZstdSetup(setupJSONDict, d)
	if err != nil {
		return err
	}
	rd.setups = append(rd.setups, js)
	return nil
}

// measure stores every held-out value under every setup, checks that each
// reads back equal, and times both ways.
func (rd *realData) measure(t timing) error {
	for _, k := range rd.kinds {
		for _, s := range rd.setups {
			r := realResult{kind: k.name, setup: s.name, baseline: s.baseline, n: len(k.values), autoDictionary: s.name == setupAutoDict}
			stored := make([][]byte, len(k.values))
			var ratios []float64
			for i, v := range k.values {
				b, err := s.encode(v, k.jsons[i])
				if err != nil {
					return fmt.Errorf("%s/%s: %w", k.name, s.name, err)
				}
				into := k.target()
				if err := s.decode(b, into); err != nil {
					return fmt.Errorf("%s/%s: decode: %w", k.name, s.name, err)
				}
				if !sameJSON(reflect.ValueOf(into).Elem().Interface(), k.jsons[i]) {
					return fmt.Errorf("%s/%s: value %d changed in a round trip", k.name, s.name, i)
				}
				stored[i] = b
				r.json += len(k.jsons[i])
				r.stored += len(b)
				ratios = append(ratios, float64(len(b))/float64(len(k.jsons[i])))
			}
			slices.Sort(ratios)
			r.medianRatio = ratios[len(ratios)/2]
			r.meanJSON = float64(r.json) / float64(r.n)
			r.enc = t.run(t.codec, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if _, err := s.encode(k.values[i%len(k.values)], k.jsons[i%len(k.values)]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
			r.dec = t.run(t.codec, func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					if err := s.decode(stored[i%len(stored)], k.target()); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
			rd.results = append(rd.results, r)
		}
	}
	return nil
}

// sameJSON compares a decoded value with the JSON it came from: msgpack
// gives numbers in any fields other Go types than JSON does, so the
// comparison is of JSON.
func sameJSON(v any, want []byte) bool {
	got, err := json.Marshal(v)
	if err != nil {
		return false
	}
	var a, b any
	return json.Unmarshal(got, &a) == nil && json.Unmarshal(want, &b) == nil && reflect.DeepEqual(a, b)
}

func (rd *realData) find(kind, setup string) (realResult, bool) {
	for _, r := range rd.results {
		if r.kind == kind && r.setup == setup {
			return r, true
		}
	}
	return realResult{}, false
}
