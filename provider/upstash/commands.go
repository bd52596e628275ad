package upstash

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aside-go/aside/provider"
)

// Get returns the value under key with one GET.
func (p *Provider) Get(ctx context.Context, key string) ([]byte, error) {
	if p.closed.Load() {
		return nil, errClosed
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	v, err := p.run(ctx, newCmd("GET", len(key)+4).key(key).done(), true)
	if err != nil {
		return nil, fail(ctx, "get", err)
	}
	switch v.kind {
	case kNull:
		return nil, provider.ErrNotFound
	case kStr:
		if out, ok := decodeValue(v.str); ok {
			return out, nil
		}
		return nil, provider.ErrWrongType // text another client wrote
	}
	return nil, fail(ctx, "get", errShape("GET", v))
}

// GetMulti returns the values of keys in order, nil for a missing key, with
// one MGET. A key holding text this provider does not write (another
// client's) reads as missing, as MGET reads a key of another type.
func (p *Provider) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if p.closed.Load() {
		return nil, errClosed
	}
	n := 0
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
		n += len(k) + 4
	}
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	c := newCmd("MGET", n)
	for _, k := range keys {
		c.key(k)
	}
	v, err := p.run(ctx, c.done(), true)
	if err != nil {
		return nil, fail(ctx, "get multi", err)
	}
	if v.kind != kArr || len(v.arr) != len(keys) {
		return nil, fail(ctx, "get multi", fmt.Errorf("%w: MGET of %d keys answered %s of %d", ErrProtocol, len(keys), v.kind, len(v.arr)))
	}
	out := make([][]byte, len(keys))
	for i, e := range v.arr {
		if e.kind == kStr {
			out[i], _ = decodeValue(e.str)
		}
	}
	return out, nil
}

// Set stores value under key with one SET key value [PX ttl].
func (p *Provider) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if p.closed.Load() {
		return errClosed
	}
	if err := p.checkWrite(key, value, ttl); err != nil {
		return err
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return err
	}
	defer cancel()
	c := newCmd("SET", len(key)+encodedValueLen(len(value))+24).key(key).val(value)
	if ms := ttlMillis(ttl); ms > 0 {
		c.str("PX").num(ms)
	}
	if _, err := p.run(ctx, c.done(), false); err != nil {
		return fail(ctx, "set", err)
	}
	return nil
}

// Add stores value under key if it is absent, with one
// SET key value NX GET [PX ttl]: a null reply means it stored, a string is
// the value already there.
func (p *Provider) Add(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, bool, error) {
	if p.closed.Load() {
		return nil, false, errClosed
	}
	if err := p.checkWrite(key, value, ttl); err != nil {
		return nil, false, err
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	c := newCmd("SET", len(key)+encodedValueLen(len(value))+32).key(key).val(value).str("NX").str("GET")
	if ms := ttlMillis(ttl); ms > 0 {
		c.str("PX").num(ms)
	}
	v, err := p.run(ctx, c.done(), false)
	if err != nil {
		return nil, false, fail(ctx, "add", err)
	}
	existing, added, err := addResult(v)
	if err != nil {
		return nil, false, fail(ctx, "add", err)
	}
	return existing, added, nil
}

// addResult reads the reply to SET NX GET.
func addResult(v value) ([]byte, bool, error) {
	switch v.kind {
	case kNull:
		return nil, true, nil
	case kStr:
		if existing, ok := decodeValue(v.str); ok {
			return existing, false, nil
		}
		return nil, false, provider.ErrWrongType
	}
	return nil, false, errShape("SET NX GET", v)
}

// CompareAndSwap replaces old with new under key, and its TTL, with one
// script call (EVALSHA) comparing the stored text with old's.
func (p *Provider) CompareAndSwap(ctx context.Context, key string, old, new []byte, ttl time.Duration) (bool, error) {
	if p.closed.Load() {
		return false, errClosed
	}
	if err := p.checkWrite(key, new, ttl); err != nil {
		return false, err
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return false, err
	}
	defer cancel()
	v, err := p.eval(ctx, p.cas, []string{key}, func(b []byte) []byte {
		b = appendValue(append(b, ','), old)
		b = appendValue(append(b, ','), new)
		return strconv.AppendInt(append(b, ','), ttlMillis(ttl), 10)
	})
	if err != nil {
		return false, fail(ctx, "compare and swap", err)
	}
	if v.kind != kInt {
		return false, fail(ctx, "compare and swap", errShape("the swap script", v))
	}
	return v.num == 1, nil
}

// Delete removes keys with one DEL and returns how many existed.
func (p *Provider) Delete(ctx context.Context, keys ...string) (int, error) {
	if p.closed.Load() {
		return 0, errClosed
	}
	n := 0
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return 0, err
		}
		n += len(k) + 4
	}
	if len(keys) == 0 {
		return 0, nil
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return 0, err
	}
	defer cancel()
	c := newCmd("DEL", n)
	for _, k := range keys {
		c.key(k)
	}
	v, err := p.run(ctx, c.done(), false)
	if err != nil {
		return 0, fail(ctx, "delete", err)
	}
	if v.kind != kInt {
		return 0, fail(ctx, "delete", errShape("DEL", v))
	}
	return int(v.num), nil
}

// SetMulti applies items with one billed command: one SET for a single
// item, else one script call that sets every item with its own TTL (rather
// than a pipeline of SETs, which Upstash bills per SET). Items whose values
// would make that call larger than Options.MaxBatchBytes go in further
// script calls.
func (p *Provider) SetMulti(ctx context.Context, items []provider.Item) error {
	if p.closed.Load() {
		return errClosed
	}
	for _, it := range items {
		if err := p.checkWrite(it.Key, it.Value, it.TTL); err != nil {
			return err
		}
	}
	if len(items) == 0 {
		return nil
	}
	if len(items) == 1 {
		return p.Set(ctx, items[0].Key, items[0].Value, items[0].TTL)
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return err
	}
	defer cancel()
	err = p.multi(ctx, items, func(ctx context.Context, part []provider.Item) error {
		v, err := p.eval(ctx, p.setMulti, itemKeys(part), itemArgs(part))
		if err == nil && (v.kind != kInt || v.num != int64(len(part))) {
			err = errShape("the set script", v)
		}
		return err
	})
	if err != nil {
		return fail(ctx, "set multi", err)
	}
	return nil
}

// AddMulti adds items with one billed command: one SET NX GET for a single
// item, else one script call running SET NX GET for each item in order.
func (p *Provider) AddMulti(ctx context.Context, items []provider.Item) ([]provider.AddResult, error) {
	if p.closed.Load() {
		return nil, errClosed
	}
	for _, it := range items {
		if err := p.checkWrite(it.Key, it.Value, it.TTL); err != nil {
			return nil, err
		}
	}
	if len(items) == 0 {
		return []provider.AddResult{}, nil
	}
	if len(items) == 1 {
		existing, added, err := p.Add(ctx, items[0].Key, items[0].Value, items[0].TTL)
		if err != nil {
			return nil, err
		}
		return []provider.AddResult{{Added: added, Existing: existing}}, nil
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	out := make([]provider.AddResult, 0, len(items))
	err = p.multi(ctx, items, func(ctx context.Context, part []provider.Item) error {
		v, err := p.eval(ctx, p.addMulti, itemKeys(part), itemArgs(part))
		if err != nil {
			return err
		}
		if v.kind != kArr || len(v.arr) != len(part) {
			return errShape("the add script", v)
		}
		for _, e := range v.arr {
			existing, added, err := addResult(e)
			if err != nil {
				return err
			}
			out = append(out, provider.AddResult{Added: added, Existing: existing})
		}
		return nil
	})
	if err != nil {
		return nil, fail(ctx, "add multi", err)
	}
	return out, nil
}

// multi runs do on items in parts whose script call stays within
// Options.MaxBatchBytes, one after the other, in order: one part (one
// billed command) unless the values are large.
func (p *Provider) multi(ctx context.Context, items []provider.Item, do func(context.Context, []provider.Item) error) error {
	return inParts(ctx, p.o.MaxBatchBytes, items, func(it provider.Item) int { return len(it.Key) + encodedValueLen(len(it.Value)) + 32 }, do)
}

// inParts runs do on xs in parts of at most max bytes by size (a part holds
// one element at least), one after the other, in order.
func inParts[T any](ctx context.Context, max int, xs []T, size func(T) int, do func(context.Context, []T) error) error {
	start, total := 0, 0
	for i, x := range xs {
		n := size(x)
		if i > start && total+n > max {
			if err := do(ctx, xs[start:i]); err != nil {
				return err
			}
			start, total = i, 0
		}
		total += n
	}
	return do(ctx, xs[start:])
}

func itemKeys(items []provider.Item) []string {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.Key
	}
	return keys
}

// itemArgs appends each item's value and TTL in milliseconds.
func itemArgs(items []provider.Item) func([]byte) []byte {
	return func(b []byte) []byte {
		for _, it := range items {
			b = appendValue(append(b, ','), it.Value)
			b = strconv.AppendInt(append(b, ','), ttlMillis(it.TTL), 10)
		}
		return b
	}
}

// Len returns the number of keys in the database with one DBSIZE (every
// key, not only the cache's).
func (p *Provider) Len(ctx context.Context) (int64, error) {
	if p.closed.Load() {
		return 0, errClosed
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return 0, err
	}
	defer cancel()
	v, err := p.run(ctx, newCmd("DBSIZE", 0).done(), true)
	if err != nil {
		return 0, fail(ctx, "len", err)
	}
	if v.kind != kInt {
		return 0, fail(ctx, "len", errShape("DBSIZE", v))
	}
	return v.num, nil
}

func checkKey(key string) error {
	if len(key) == 0 || len(key) > provider.MaxKeyLen {
		return provider.ErrInvalidKey
	}
	return nil
}

func (p *Provider) checkWrite(key string, value []byte, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if ttl < 0 {
		return provider.ErrInvalidTTL
	}
	if len(value) > p.o.MaxValueSize {
		return fmt.Errorf("%w: %d bytes is more than Options.MaxValueSize (%d)", provider.ErrTooLarge, len(value), p.o.MaxValueSize)
	}
	return nil
}

// ttlMillis is ttl in whole milliseconds, a remainder rounded up so that a
// key never expires earlier than asked. 0 stays 0 (no expiry).
func ttlMillis(ttl time.Duration) int64 {
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms
}
