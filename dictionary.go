package aside

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/aside-go/aside/codec"
)

// AutoDictionary configures the Cache's automatic zstd dictionary (see
// Options.AutoDictionary). The zero value works; every field's default is
// named on it.
//
// How it works. Until the namespace has a dictionary, the Cache keeps a
// bounded sample of the values it writes (their serialized bytes). Once it
// holds Samples of them (or SampleBytes, or a quarter of Samples after ten
// minutes of sampling), it trains a dictionary in the
// background with codec.Train on four fifths of them and measures it on the
// fifth it held out; if the dictionary stores those at least 2% smaller,
// the Cache stores it in the provider under its ID (and a small record
// naming the namespace's current dictionary), then compresses new entries
// with it. Every entry names its dictionary's ID: another instance that
// reads one fetches that dictionary from the provider by ID on first sight
// (bounded by FetchTimeout, at most one fetch per ID at a time, a failed
// ID not asked again for a while), and adopts it for its own writes when
// it is the namespace's current one, so that a fleet converges on one
// dictionary. An entry whose dictionary cannot be fetched is a miss, never
// an error. When what new entries save drifts more than Drift below what
// the dictionary saved on its held-out sample, the Cache samples again and
// trains a successor; the first instance to publish one wins, the others
// adopt it. Older dictionaries are kept for decoding (at most Keep in all)
// until the entries written with them have expired.
//
// Bounds and healing: samples are bounded by count and bytes (each cut to
// 16 KiB); dictionaries held by Keep and by MaxSize each; fetches by
// FetchTimeout; a stored dictionary or pointer record carries an xxhash64
// checksum, and one that is garbled, truncated or names another ID is
// ignored (counted in Stats.Dictionary.FetchFailures) and replaced by the
// next training. Dictionary records are stored with a TTL of at least a
// day and twice the longest entry lifetime, and refreshed while in use.
type AutoDictionary struct {
	// Samples is how many distinct values to sample before training.
	// Default 1,000; at least codec.MinTrainingSamples.
	Samples int
	// SampleBytes bounds the memory the samples take; training starts when
	// it is reached even with fewer than Samples values. Default 4 MiB.
	SampleBytes int
	// MaxSize is the dictionary size in bytes. Default
	// codec.DefaultDictionarySize (64 KiB); at most codec.MaxDictionarySize.
	MaxSize int
	// Keep is how many dictionaries the Cache holds for decoding at most,
	// the current one included; the oldest retired one goes first. Default 4.
	Keep int
	// MinSize is the serialized size below which a value is stored raw
	// while a dictionary is in use (without one, the codec's 256-byte
	// default applies). Default 64 bytes.
	MinSize int
	// FetchTimeout bounds fetching a dictionary the Cache does not hold.
	// Default 1s. A read that needs one waits at most this long, or less if
	// its context ends first.
	FetchTimeout time.Duration
	// Drift is how much worse than at training the stored/serialized ratio
	// of new entries may get before the Cache trains a successor: 0.15
	// means 15% more bytes. Default 0.15; a successor is trained at most
	// once every 10 minutes.
	Drift float64
}

const (
	defaultDictSamples     = 1000
	defaultDictSampleBytes = 4 << 20
	defaultDictKeep        = 4
	defaultDictMinSize     = 64
	defaultDictFetch       = time.Second
	defaultDictDrift       = 0.15

	// maxSampleLen cuts each sample: the dictionary builder reads only the
	// start of each, and long values would crowd out the others.
	maxSampleLen = 16 << 10
	// minSampleLen: shorter values teach a dictionary nothing.
	minSampleLen = 16
	// minDictGain is how much smaller a new dictionary must store the
	// held-out samples than the codec in use for the Cache to adopt it.
	minDictGain = 0.02
	// sampleFor is how long a Cache samples before it trains on a quarter
	// of Samples, when its namespace has fewer distinct values.
	sampleFor = 10 * time.Minute
	// retrainEvery is the least time between two trainings of a Cache.
	retrainEvery = 10 * time.Minute
	// fetchRetryAfter is how long an ID that could not be fetched is a miss
	// without asking the provider again.
	fetchRetryAfter = 30 * time.Second
	// maxFailedIDs bounds the IDs remembered as failed.
	maxFailedIDs = 256
	// dictStoreTimeout bounds each background write of dictionary records.
	dictStoreTimeout = 2 * time.Second
	// minDictTTL is the shortest TTL of a stored dictionary record.
	minDictTTL = 24 * time.Hour
	// maxDictRecord bounds what the Cache reads as a dictionary record.
	maxDictRecord = codec.MaxDictionarySize + 64
)

// Records stored in the provider. A dictionary record is
//
//	0xAD 0x01, the held-out ratio at training (uint32, parts per million),
//	the zstd dictionary, xxhash64 of every byte before it (little-endian)
//
// and the namespace's pointer record, naming its current dictionary,
//
//	0xAC 0x01, the dictionary ID (uint32), the low 32 bits of xxhash64 of
//	the 6 bytes before them
const (
	dictRecordMagic    = 0xAD
	pointerRecordMagic = 0xAC
	dictRecordVersion  = 1
	pointerRecordLen   = 10
)

func (a *AutoDictionary) resolve() (AutoDictionary, error) {
	r := *a
	switch {
	case r.Samples == 0:
		r.Samples = defaultDictSamples
	case r.Samples < codec.MinTrainingSamples:
		return r, fmt.Errorf("%w: AutoDictionary.Samples %d is below %d", ErrInvalidOption, r.Samples, codec.MinTrainingSamples)
	}
	switch {
	case r.SampleBytes == 0:
		r.SampleBytes = defaultDictSampleBytes
	case r.SampleBytes < 0:
		return r, fmt.Errorf("%w: AutoDictionary.SampleBytes is negative", ErrInvalidOption)
	}
	switch {
	case r.MaxSize == 0:
		r.MaxSize = codec.DefaultDictionarySize
	case r.MaxSize < 0 || r.MaxSize > codec.MaxDictionarySize:
		return r, fmt.Errorf("%w: AutoDictionary.MaxSize %d out of range (0 or 1 to %d)", ErrInvalidOption, r.MaxSize, codec.MaxDictionarySize)
	}
	switch {
	case r.Keep == 0:
		r.Keep = defaultDictKeep
	case r.Keep < 1:
		return r, fmt.Errorf("%w: AutoDictionary.Keep is negative", ErrInvalidOption)
	}
	switch {
	case r.MinSize == 0:
		r.MinSize = defaultDictMinSize
	case r.MinSize < 0:
		return r, fmt.Errorf("%w: AutoDictionary.MinSize is negative", ErrInvalidOption)
	}
	switch {
	case r.FetchTimeout == 0:
		r.FetchTimeout = defaultDictFetch
	case r.FetchTimeout < 0:
		return r, fmt.Errorf("%w: AutoDictionary.FetchTimeout is negative", ErrInvalidOption)
	}
	switch {
	case r.Drift == 0:
		r.Drift = defaultDictDrift
	case r.Drift < 0 || math.IsNaN(r.Drift):
		return r, fmt.Errorf("%w: AutoDictionary.Drift is negative", ErrInvalidOption)
	}
	return r, nil
}

// DictionaryStats describes the Cache's automatic dictionary (all zero
// without one).
type DictionaryStats struct {
	// ID is the dictionary new entries are compressed with; 0 for none.
	ID uint32 `json:"id"`
	// Held is how many dictionaries the Cache decodes with now.
	Held int `json:"held"`
	// Samples is how many sampled values wait for the next training.
	Samples int `json:"samples"`
	// Trained counts dictionaries this process trained and published;
	// Adopted those it took from another instance for its own writes.
	Trained int64 `json:"trained"`
	Adopted int64 `json:"adopted"`
	// Fetched counts dictionaries read from the provider; FetchFailures
	// the fetches that failed, timed out, found nothing or found a
	// garbled record (each one a miss).
	Fetched       int64 `json:"fetched"`
	FetchFailures int64 `json:"fetch_failures"`
}

// dictionaries is a Cache's automatic dictionary. It is the Cache's Codec:
// Marshal compresses with the current dictionary and samples what it
// writes, Unmarshal decodes with every dictionary held.
type dictionaries struct {
	cfg       AutoDictionary
	level     int           // zstd level; 0 is the default
	retrain   time.Duration // least time between trainings: retrainEvery
	ser       codec.Serializer
	app       codec.AppendMarshaler
	plainOpts codec.Options // the codec without a dictionary
	c         *Cache

	cur atomic.Pointer[dictSet]

	// Sampling: collecting is true while samples are wanted.
	collecting atomic.Bool
	mu         sync.Mutex
	samples    [][]byte
	sampleSize int
	seen       map[uint64]struct{} // hashes of samples, to skip duplicates
	// sampledSince is when the first sample now held was taken.
	sampledSince time.Time
	training     bool
	lastTrain    time.Time
	started      bool // the namespace's current dictionary was looked up

	// Drift: serialized and stored bytes of values written with the
	// current dictionary since the window began.
	winRaw, winStored atomic.Int64
	// storedUntil is when the current dictionary's records expire (Unix
	// ns), refreshing marks a refresh under way.
	storedUntil atomic.Int64
	refreshing  atomic.Bool

	fetchMu  sync.Mutex
	fetching map[uint32]chan struct{}
	failed   map[uint32]time.Time

	trained, adopted, fetched, fetchFailures atomic.Int64
}

// dictSet is an immutable view: the codec, and the dictionaries it holds.
type dictSet struct {
	codec  *codec.Codec
	active uint32  // the ID new frames use; 0 for none
	expect float64 // stored/serialized on the held-out sample at training
	held   []heldDict
}

type heldDict struct {
	id      uint32
	data    []byte
	expect  float64
	retired time.Time // zero for the active one
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func newDictionaries(c *Cache, a *AutoDictionary, alg codec.Algorithm) (*dictionaries, error) {
	cfg, err := a.resolve()
	if err != nil {
		return nil, err
	}
	if alg != codec.Zstd {
		return nil, fmt.Errorf("%w: AutoDictionary needs zstd compression, not %s", ErrInvalidOption, alg)
	}
	d := &dictionaries{cfg: cfg, retrain: retrainEvery, ser: codec.Msgpack(), c: c, plainOpts: codec.Options{Compression: codec.Zstd}}
	d.app, _ = d.ser.(codec.AppendMarshaler)
	cd, err := codec.New(d.plainOpts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
	}
	d.cur.Store(&dictSet{codec: cd})
	d.collecting.Store(true)
	return d, nil
}

// Marshal serializes v, frames it with the current dictionary, and feeds
// the sampler and the drift window.
func (d *dictionaries) Marshal(dst []byte, v any) ([]byte, int, error) {
	p := scratchPool.Get().(*[]byte)
	defer func() {
		if cap(*p) <= 1<<20 {
			scratchPool.Put(p)
		}
	}()
	var raw []byte
	var err error
	if d.app != nil {
		raw, err = d.app.AppendMarshal((*p)[:0], v)
		*p = raw[:0]
	} else {
		raw, err = d.ser.Marshal(v)
	}
	if err != nil {
		return dst, 0, err
	}
	set := d.cur.Load()
	start := len(dst)
	out, err := set.codec.AppendFrame(dst, raw)
	if err != nil {
		return dst, len(raw), err
	}
	d.observe(set, raw, len(out)-start)
	return out, len(raw), nil
}

// Unmarshal decodes with every dictionary held. A frame naming another
// one fails with codec.ErrUnknownDictionary; Cache.unmarshal fetches it.
func (d *dictionaries) Unmarshal(data []byte, v any) error {
	return d.cur.Load().codec.Unmarshal(data, v)
}

// observe samples raw when samples are wanted, and measures drift.
func (d *dictionaries) observe(set *dictSet, raw []byte, stored int) {
	if d.collecting.Load() {
		d.sample(raw)
	}
	if set.active == 0 || len(raw) < d.cfg.MinSize {
		return
	}
	d.keepStored(set)
	r := d.winRaw.Add(int64(len(raw)))
	s := d.winStored.Add(int64(stored))
	if r < int64(d.cfg.SampleBytes) {
		return
	}
	// The write that fills the window judges it, and starts a new one.
	if !d.winRaw.CompareAndSwap(r, 0) {
		return
	}
	d.winStored.Add(-s)
	if ratio := float64(s) / float64(r); set.expect > 0 && ratio > set.expect*(1+d.cfg.Drift) {
		d.mu.Lock()
		due := !d.training && time.Since(d.lastTrain) >= d.retrain
		d.mu.Unlock()
		if due {
			d.c.log.Info("cache dictionary drifted: sampling values for a new one",
				"dictionary", set.active, "expected_ratio", set.expect, "ratio", ratio)
			d.collecting.Store(true)
		}
	}
}

// sample keeps a copy of the start of raw, until enough are held.
func (d *dictionaries) sample(raw []byte) {
	if len(raw) < minSampleLen {
		return
	}
	if len(raw) > maxSampleLen {
		raw = raw[:maxSampleLen]
	}
	h := xxhash.Sum64(raw)
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.started {
		// First write: adopt the namespace's dictionary if it has one,
		// rather than training another.
		d.started = true
		d.c.workers.goBackground(d.adoptCurrent)
	}
	if d.training || !d.collecting.Load() {
		return
	}
	if _, dup := d.seen[h]; dup {
		return
	}
	if d.seen == nil {
		d.seen = make(map[uint64]struct{})
	}
	d.seen[h] = struct{}{}
	if len(d.samples) == 0 {
		d.sampledSince = time.Now()
	}
	d.samples = append(d.samples, append([]byte(nil), raw...))
	d.sampleSize += len(raw)
	// Train once the sample is full, or once a namespace with fewer distinct
	// values than Samples has shown a quarter of them for a while.
	full := len(d.samples) >= d.cfg.Samples || d.sampleSize >= d.cfg.SampleBytes
	enough := len(d.samples) >= max(d.cfg.Samples/4, codec.MinTrainingSamples) && time.Since(d.sampledSince) >= sampleFor
	if !full && !enough {
		return
	}
	samples := d.samples
	d.samples, d.sampleSize, d.seen = nil, 0, nil
	d.training = true
	d.collecting.Store(false)
	if !d.c.workers.goBackground(func() { d.train(samples) }) {
		d.training = false
	}
}

// train builds a dictionary from samples and, if it beats the codec in
// use on the held-out fifth, publishes and adopts it.
func (d *dictionaries) train(samples [][]byte) {
	defer func() {
		d.mu.Lock()
		d.training = false
		d.lastTrain = time.Now()
		d.mu.Unlock()
	}()
	var learn, test [][]byte
	for i, s := range samples {
		if i%5 == 4 {
			test = append(test, s)
		} else {
			learn = append(learn, s)
		}
	}
	dict, err := codec.Train(learn, codec.TrainOptions{MaxSize: d.cfg.MaxSize, Level: d.level})
	if err != nil {
		d.c.log.Warn("cache dictionary training failed; values stay compressed without one", "err", err)
		return
	}
	id, err := codec.DictionaryID(dict)
	if err != nil {
		return
	}
	cand, err := codec.New(codec.Options{Compression: codec.Zstd, Level: d.level, MinSize: d.cfg.MinSize, Dictionary: dict})
	if err != nil {
		return
	}
	set := d.cur.Load()
	with, without := measureFrames(cand, test), measureFrames(set.codec, test)
	if with.stored >= without.stored*(1-minDictGain) {
		d.c.log.Info("cache dictionary not adopted: it does not beat the codec in use on held-out samples",
			"held_out", len(test), "stored_with", with.stored, "stored_without", without.stored)
		return
	}
	expect := with.ratio()
	ctx, cancel := context.WithTimeout(d.c.bgCtx, dictStoreTimeout)
	defer cancel()
	// Publish: the dictionary under its ID, then the pointer, from what the
	// pointer named before (so that of two instances training at once, one
	// wins and the other adopts the winner).
	ttl := d.recordTTL()
	if err := d.c.p.Set(ctx, d.dictKey(id), encodeDictRecord(dict, expect), ttl); err != nil {
		d.c.failed(ctx, "cache dictionary could not be stored; not adopting it", "", err)
		return
	}
	ptrKey := d.pointerKey()
	next := encodePointer(id)
	prev, added, err := d.c.p.Add(ctx, ptrKey, next, ttl)
	if err == nil && !added {
		// Another instance published one since this one last looked: adopt
		// it instead, unless it cannot be read (garbled, expired), in which
		// case this one replaces it.
		if cur, ok := decodePointer(prev); ok && cur != set.active && d.fetchAndAdopt(ctx, cur) {
			d.c.log.Info("cache dictionary trained, but another instance published one first; adopted it", "dictionary", cur)
			_, _ = d.c.p.Delete(ctx, d.dictKey(id))
			return
		}
		var swapped bool
		swapped, err = d.c.p.CompareAndSwap(ctx, ptrKey, prev, next, ttl)
		if err == nil && !swapped {
			err = errors.New("the pointer record changed meanwhile")
		}
	}
	if err != nil {
		d.c.failed(ctx, "cache dictionary pointer could not be stored; not adopting the dictionary", "", err)
		return
	}
	d.trained.Add(1)
	d.adopt(heldDict{id: id, data: dict, expect: expect}, time.Now().Add(ttl))
	d.c.log.Info("cache dictionary trained and adopted", "dictionary", id, "size", len(dict),
		"samples", len(learn), "held_out", len(test), "held_out_ratio", expect, "ratio_without", without.ratio())
}

// frameSizes is what a codec stores for a set of serialized values.
type frameSizes struct{ raw, stored float64 }

func (f frameSizes) ratio() float64 {
	if f.raw == 0 {
		return 0
	}
	return f.stored / f.raw
}

func measureFrames(c *codec.Codec, payloads [][]byte) frameSizes {
	var f frameSizes
	var buf []byte
	for _, p := range payloads {
		out, err := c.AppendFrame(buf[:0], p)
		if err != nil {
			continue
		}
		buf = out
		f.raw += float64(len(p))
		f.stored += float64(len(out))
	}
	return f
}

// adoptCurrent looks up the namespace's current dictionary and adopts it.
func (d *dictionaries) adoptCurrent() {
	ctx, cancel := context.WithTimeout(d.c.bgCtx, d.cfg.FetchTimeout)
	defer cancel()
	raw, err := d.c.p.Get(ctx, d.pointerKey())
	if err != nil {
		return // none yet, or the store is down: sampling goes on
	}
	if id, ok := decodePointer(raw); ok && id != d.cur.Load().active {
		d.fetchAndAdopt(ctx, id)
	}
}

// fetchAndAdopt fetches dictionary id and makes it the one new entries
// use; false if it cannot be fetched.
func (d *dictionaries) fetchAndAdopt(ctx context.Context, id uint32) bool {
	h, ok := d.held(id)
	if !ok {
		var err error
		if h, _, err = d.load(ctx, id); err != nil {
			d.fetchFailures.Add(1)
			return false
		}
		d.fetched.Add(1)
	}
	d.adopted.Add(1)
	d.adopt(h, time.Time{})
	return true
}

func (d *dictionaries) held(id uint32) (heldDict, bool) {
	for _, h := range d.cur.Load().held {
		if h.id == id {
			return h, true
		}
	}
	return heldDict{}, false
}

// adopt makes h the dictionary new entries use; the one before is retired
// and kept for decoding.
func (d *dictionaries) adopt(h heldDict, storedUntil time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.cur.Load()
	if old.active == h.id {
		return
	}
	now := time.Now()
	h.retired = time.Time{}
	held := []heldDict{h}
	for _, o := range old.held {
		if o.id == h.id {
			continue
		}
		if o.retired.IsZero() {
			o.retired = now
		}
		held = append(held, o)
	}
	if !d.install(h.id, h.expect, held) {
		return
	}
	d.winRaw.Store(0)
	d.winStored.Store(0)
	if storedUntil.IsZero() {
		d.storedUntil.Store(0) // unknown: the next write refreshes the records
	} else {
		d.storedUntil.Store(storedUntil.UnixNano())
	}
	d.collecting.Store(false)
	d.samples, d.sampleSize, d.seen = nil, 0, nil
}

// addHeld adds a fetched dictionary for decoding only.
func (d *dictionaries) addHeld(h heldDict) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.cur.Load()
	if slices.ContainsFunc(old.held, func(o heldDict) bool { return o.id == h.id }) {
		return
	}
	h.retired = time.Now()
	d.install(old.active, old.expect, append(slices.Clip(old.held), h))
}

// install builds the codec for held (active first, if any), dropping
// dictionaries retired longer ago than entries live, then the oldest
// retired ones beyond Keep. Called with mu held.
func (d *dictionaries) install(active uint32, expect float64, held []heldDict) bool {
	life := time.Duration(d.c.maxLife.Load())
	held = slices.DeleteFunc(held, func(h heldDict) bool {
		return !h.retired.IsZero() && time.Since(h.retired) > life
	})
	slices.SortStableFunc(held, func(a, b heldDict) int {
		switch {
		case a.retired.IsZero():
			return -1
		case b.retired.IsZero():
			return 1
		}
		return b.retired.Compare(a.retired) // most recently retired first
	})
	if len(held) > d.cfg.Keep {
		held = held[:d.cfg.Keep]
	}
	o := d.plainOpts
	o.Level = d.level
	for _, h := range held {
		if h.id == active {
			o.Dictionary = h.data
			o.MinSize = d.cfg.MinSize
		} else {
			o.Dictionaries = append(o.Dictionaries, h.data)
		}
	}
	cd, err := codec.New(o)
	if err != nil {
		d.c.log.Warn("cache dictionary set could not be built", "err", err)
		return false
	}
	d.cur.Store(&dictSet{codec: cd, active: active, expect: expect, held: held})
	return true
}

// fetch makes sure dictionary id is held, fetching it from the provider:
// one fetch per ID at a time, bounded by FetchTimeout and ctx, an ID that
// failed not asked again for fetchRetryAfter. It reports whether id is held.
func (d *dictionaries) fetch(ctx context.Context, id uint32) bool {
	if _, ok := d.held(id); ok {
		return true
	}
	d.fetchMu.Lock()
	if at, ok := d.failed[id]; ok && time.Since(at) < fetchRetryAfter {
		d.fetchMu.Unlock()
		return false
	}
	done, running := d.fetching[id]
	if !running {
		if d.fetching == nil {
			d.fetching = make(map[uint32]chan struct{})
		}
		done = make(chan struct{})
		d.fetching[id] = done
	}
	d.fetchMu.Unlock()
	if running {
		select {
		case <-done:
		case <-ctx.Done():
			return false
		}
		_, ok := d.held(id)
		return ok
	}
	// The fetch runs on its own clock, so that its caller leaving does not
	// fail the others waiting; Close ends it.
	fctx, cancel := context.WithTimeout(d.c.bgCtx, d.cfg.FetchTimeout)
	var ok bool
	started := d.c.workers.goBackground(func() {
		defer cancel()
		defer close(done)
		h, current, err := d.load(fctx, id)
		d.fetchMu.Lock()
		delete(d.fetching, id)
		if err != nil {
			if len(d.failed) >= maxFailedIDs {
				clear(d.failed)
			}
			if d.failed == nil {
				d.failed = make(map[uint32]time.Time)
			}
			d.failed[id] = time.Now()
		}
		d.fetchMu.Unlock()
		if err != nil {
			d.fetchFailures.Add(1)
			d.c.log.Warn("cache dictionary could not be fetched; its entries read as misses", "dictionary", id, "err", err)
			return
		}
		d.fetched.Add(1)
		if current {
			d.adopted.Add(1)
			d.adopt(h, time.Time{})
		} else {
			d.addHeld(h)
		}
		ok = true
	})
	if !started { // closed
		cancel()
		d.fetchMu.Lock()
		delete(d.fetching, id)
		d.fetchMu.Unlock()
		close(done)
		return false
	}
	select {
	case <-done:
		return ok
	case <-ctx.Done():
		return false
	}
}

// load reads dictionary id and the pointer record in one round trip, and
// reports whether the pointer names id.
func (d *dictionaries) load(ctx context.Context, id uint32) (heldDict, bool, error) {
	vals, err := d.c.p.GetMulti(ctx, []string{d.dictKey(id), d.pointerKey()})
	if err != nil {
		return heldDict{}, false, err
	}
	if len(vals) != 2 || vals[0] == nil {
		return heldDict{}, false, errors.New("not in the store")
	}
	dict, expect, err := decodeDictRecord(vals[0], id)
	if err != nil {
		return heldDict{}, false, err
	}
	cur, _ := decodePointer(vals[1])
	return heldDict{id: id, data: dict, expect: expect}, cur == id, nil
}

// keepStored refreshes the current dictionary's records in the background
// when they would expire before entries written now.
func (d *dictionaries) keepStored(set *dictSet) {
	until := d.storedUntil.Load()
	if until != 0 && time.Now().Add(time.Duration(d.c.maxLife.Load())+time.Hour).UnixNano() < until {
		return
	}
	if !d.refreshing.CompareAndSwap(false, true) {
		return
	}
	h, ok := d.held(set.active)
	if !ok || !d.c.workers.goBackground(func() {
		defer d.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(d.c.bgCtx, dictStoreTimeout)
		defer cancel()
		ttl := d.recordTTL()
		if err := d.c.p.Set(ctx, d.dictKey(h.id), encodeDictRecord(h.data, h.expect), ttl); err != nil {
			d.c.failed(ctx, "cache dictionary refresh failed", "", err)
			return
		}
		// Extend the pointer only while it still names this dictionary.
		ptr := encodePointer(h.id)
		_, _ = d.c.p.CompareAndSwap(ctx, d.pointerKey(), ptr, ptr, ttl)
		d.storedUntil.Store(time.Now().Add(ttl).UnixNano())
	}) {
		d.refreshing.Store(false)
	}
}

// recordTTL outlives every entry the Cache writes now: twice the longest
// lifetime it has written, plus an hour, and at least a day.
func (d *dictionaries) recordTTL() time.Duration {
	return max(2*time.Duration(d.c.maxLife.Load())+time.Hour, minDictTTL)
}

func (d *dictionaries) dictKey(id uint32) string {
	return d.c.keys.Prefix() + "d:" + strconv.FormatUint(uint64(id), 10)
}

func (d *dictionaries) pointerKey() string { return d.c.keys.Prefix() + "d:current" }

func (d *dictionaries) stats() DictionaryStats {
	set := d.cur.Load()
	d.mu.Lock()
	n := len(d.samples)
	d.mu.Unlock()
	return DictionaryStats{
		ID: set.active, Held: len(set.held), Samples: n,
		Trained: d.trained.Load(), Adopted: d.adopted.Load(),
		Fetched: d.fetched.Load(), FetchFailures: d.fetchFailures.Load(),
	}
}

func encodeDictRecord(dict []byte, expect float64) []byte {
	b := make([]byte, 0, 6+len(dict)+8)
	b = append(b, dictRecordMagic, dictRecordVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(min(max(expect, 0), 4)*1e6))
	b = append(b, dict...)
	return binary.LittleEndian.AppendUint64(b, xxhash.Sum64(b))
}

// decodeDictRecord checks a dictionary record read for id and returns its
// dictionary, a copy the caller owns.
func decodeDictRecord(b []byte, id uint32) ([]byte, float64, error) {
	if len(b) < 6+8 || len(b) > maxDictRecord || b[0] != dictRecordMagic || b[1] != dictRecordVersion {
		return nil, 0, errors.New("not a dictionary record")
	}
	end := len(b) - 8
	if binary.LittleEndian.Uint64(b[end:]) != xxhash.Sum64(b[:end]) {
		return nil, 0, errors.New("dictionary record checksum mismatch")
	}
	dict := append([]byte(nil), b[6:end]...)
	got, err := codec.DictionaryID(dict)
	if err != nil {
		return nil, 0, err
	}
	if got != id {
		return nil, 0, fmt.Errorf("record under ID %d holds dictionary %d", id, got)
	}
	return dict, float64(binary.LittleEndian.Uint32(b[2:])) / 1e6, nil
}

func encodePointer(id uint32) []byte {
	b := make([]byte, 0, pointerRecordLen)
	b = append(b, pointerRecordMagic, dictRecordVersion)
	b = binary.LittleEndian.AppendUint32(b, id)
	return binary.LittleEndian.AppendUint32(b, uint32(xxhash.Sum64(b)))
}

func decodePointer(b []byte) (uint32, bool) {
	if len(b) != pointerRecordLen || b[0] != pointerRecordMagic || b[1] != dictRecordVersion ||
		binary.LittleEndian.Uint32(b[6:]) != uint32(xxhash.Sum64(b[:6])) {
		return 0, false
	}
	id := binary.LittleEndian.Uint32(b[2:])
	return id, id != 0
}

// unmarshal decodes a stored payload into v. With an automatic dictionary,
// a frame naming a dictionary the Cache does not hold makes it fetch that
// dictionary (bounded, see dictionaries.fetch) and try again; if it cannot,
// the error stands and the caller reads a miss.
func (c *Cache) unmarshal(ctx context.Context, payload []byte, v any, b *FailureBudget) error {
	err := c.codec.Unmarshal(payload, v)
	if err == nil || c.dicts == nil || !errors.Is(err, codec.ErrUnknownDictionary) || b.Spent() {
		return err
	}
	id, ok := codec.FrameDictionaryID(payload)
	if !ok || !c.dicts.fetch(ctx, id) {
		return err
	}
	return c.codec.Unmarshal(payload, v)
}

func (c *Cache) dictionaryStats() DictionaryStats {
	if c.dicts == nil {
		return DictionaryStats{}
	}
	return c.dicts.stats()
}

// Dictionary returns the ID and bytes of the automatic dictionary new
// entries are compressed with (0 and nil without one), for tools: export
// it, inspect it, give it to a codec. The slice must not be modified.
func (c *Cache) Dictionary() (id uint32, dict []byte) {
	if c.dicts == nil {
		return 0, nil
	}
	set := c.dicts.cur.Load()
	for _, h := range set.held {
		if h.id == set.active {
			return h.id, h.data
		}
	}
	return 0, nil
}
