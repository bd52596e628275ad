package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/luascript"
	"github.com/aside-go/aside/provider"
)

// casScript runs luascript.CompareAndSwap (see there).
var casScript = goredis.NewScript(luascript.CompareAndSwap)

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
	var v []byte
	if p.watch {
		v, err = watch(p, ctx, func(ctx context.Context) ([]byte, error) { return p.c.Get(ctx, key).Bytes() })
	} else {
		v, err = p.c.Get(ctx, key).Bytes()
	}
	if err != nil {
		return nil, fail(ctx, "get", err)
	}
	return v, nil
}

// GetMulti returns the values of keys in order, nil for a missing key.
//
// On a standalone or Sentinel client it is one MGET, which answers nil for a
// key holding another type than a string: GetMulti reports that key as
// missing. On a Cluster or Ring it is one pipeline of GETs that go-redis
// splits per node and sends to the nodes concurrently: one round trip to each
// node holding a key, all in parallel, so the wall time is that of the
// slowest node, and no command spans two slots; there a key of another type
// fails the call with provider.ErrWrongType.
func (p *Provider) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if p.closed.Load() {
		return nil, errClosed
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return nil, err
		}
	}
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var vs [][]byte
	if p.watch {
		ks := slices.Clone(keys) // the straggling goroutine must not read the caller's slice
		vs, err = watch(p, ctx, func(ctx context.Context) ([][]byte, error) { return p.getMulti(ctx, ks) })
	} else {
		vs, err = p.getMulti(ctx, keys)
	}
	if err != nil {
		return nil, fail(ctx, "get multi", err)
	}
	return vs, nil
}

func (p *Provider) getMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if !p.sharded {
		vals, err := p.c.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, err
		}
		if len(vals) != len(keys) {
			return nil, fmt.Errorf("MGET answered %d values for %d keys", len(vals), len(keys))
		}
		for i, v := range vals {
			if s, ok := v.(string); ok {
				out[i] = []byte(s)
			}
		}
		return out, nil
	}
	if len(keys) == 1 {
		v, err := p.c.Get(ctx, keys[0]).Bytes()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return nil, err
		}
		out[0] = v
		return out, nil
	}
	pipe := p.c.Pipeline()
	cmds := make([]*goredis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	_, execErr := pipe.Exec(ctx)
	for i, c := range cmds {
		v, err := c.Bytes()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	if execErr != nil && !errors.Is(execErr, goredis.Nil) {
		return nil, execErr
	}
	return out, nil
}

// Set stores value under key with SET key value PX ttl (no PX when ttl is 0).
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
	if p.watch {
		v := bytes.Clone(value)
		_, err = watch(p, ctx, func(ctx context.Context) (struct{}, error) {
			return struct{}{}, p.c.Set(ctx, key, v, roundTTL(ttl)).Err()
		})
	} else {
		err = p.c.Set(ctx, key, value, roundTTL(ttl)).Err()
	}
	if err != nil {
		return fail(ctx, "set", err)
	}
	return nil
}

// Add stores value under key only if it is absent, with one
// SET key value NX GET PX ttl (Redis 7.0 or later). A nil reply means the
// key was absent and is now set; otherwise the reply is the value already
// there, which stays untouched.
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
	var existing []byte
	if p.watch {
		v := bytes.Clone(value)
		existing, err = watch(p, ctx, func(ctx context.Context) ([]byte, error) { return p.add(ctx, key, v, ttl) })
	} else {
		existing, err = p.add(ctx, key, value, ttl)
	}
	switch {
	case errors.Is(err, goredis.Nil):
		return nil, true, nil
	case err != nil:
		return nil, false, fail(ctx, "add", err)
	}
	return existing, false, nil
}

func (p *Provider) add(ctx context.Context, key string, value []byte, ttl time.Duration) ([]byte, error) {
	return p.c.SetArgs(ctx, key, value, goredis.SetArgs{Mode: "NX", Get: true, TTL: roundTTL(ttl)}).Bytes()
}

// CompareAndSwap replaces old with new under key, and its TTL with ttl, in
// one Lua script over that one key (EVALSHA, falling back to EVAL when the
// server has not cached the script).
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
	ms := ttlMillis(ttl)
	var n int64
	if p.watch {
		o, v := bytes.Clone(old), bytes.Clone(new)
		n, err = watch(p, ctx, func(ctx context.Context) (int64, error) {
			return casScript.Run(ctx, p.c, []string{key}, o, v, ms).Int64()
		})
	} else {
		n, err = casScript.Run(ctx, p.c, []string{key}, old, new, ms).Int64()
	}
	if err != nil {
		return false, fail(ctx, "compare and swap", err)
	}
	return n == 1, nil
}

// Delete removes keys with UNLINK and returns how many existed. On a
// standalone or Sentinel client it is one UNLINK of all keys; on a Cluster
// or Ring, one pipeline of single-key UNLINKs split per node, so no command
// spans two slots.
func (p *Provider) Delete(ctx context.Context, keys ...string) (int, error) {
	if p.closed.Load() {
		return 0, errClosed
	}
	for _, k := range keys {
		if err := checkKey(k); err != nil {
			return 0, err
		}
	}
	if len(keys) == 0 {
		return 0, nil
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return 0, err
	}
	defer cancel()
	var n int64
	if p.watch {
		ks := slices.Clone(keys)
		n, err = watch(p, ctx, func(ctx context.Context) (int64, error) { return p.unlink(ctx, ks) })
	} else {
		n, err = p.unlink(ctx, keys)
	}
	if err != nil {
		return int(n), fail(ctx, "delete", err)
	}
	return int(n), nil
}

// unlink removes keys, which on a sharded client may live on several nodes.
// On error it still reports how many keys the commands that ran removed.
func (p *Provider) unlink(ctx context.Context, keys []string) (int64, error) {
	if !p.sharded || len(keys) == 1 {
		return p.c.Unlink(ctx, keys...).Result()
	}
	pipe := p.c.Pipeline()
	cmds := make([]*goredis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Unlink(ctx, k)
	}
	_, execErr := pipe.Exec(ctx)
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, execErr
}

// SetMulti applies items with one pipeline of SET ... PX commands: one round
// trip on a standalone or Sentinel client; on a Cluster or Ring, one round
// trip to each node concerned, all in parallel. Never MSET, which has no TTL
// and would span slots.
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
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return err
	}
	defer cancel()
	if p.watch {
		own := make([]provider.Item, len(items))
		for i, it := range items {
			own[i] = provider.Item{Key: it.Key, Value: bytes.Clone(it.Value), TTL: it.TTL}
		}
		_, err = watch(p, ctx, func(ctx context.Context) (struct{}, error) { return struct{}{}, p.setMulti(ctx, own) })
	} else {
		err = p.setMulti(ctx, items)
	}
	if err != nil {
		return fail(ctx, "set multi", err)
	}
	return nil
}

// AddMulti applies Add to every item with one pipeline of SET NX GET PX
// commands: one round trip on a standalone or Sentinel client; on a Cluster
// or Ring, one round trip to each node concerned, in parallel.
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
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var res []provider.AddResult
	if p.watch {
		own := make([]provider.Item, len(items))
		for i, it := range items {
			own[i] = provider.Item{Key: it.Key, Value: bytes.Clone(it.Value), TTL: it.TTL}
		}
		res, err = watch(p, ctx, func(ctx context.Context) ([]provider.AddResult, error) { return p.addMulti(ctx, own) })
	} else {
		res, err = p.addMulti(ctx, items)
	}
	if err != nil {
		return nil, fail(ctx, "add multi", err)
	}
	return res, nil
}

func (p *Provider) addMulti(ctx context.Context, items []provider.Item) ([]provider.AddResult, error) {
	pipe := p.c.Pipeline()
	cmds := make([]*goredis.StatusCmd, len(items))
	for i, it := range items {
		cmds[i] = pipe.SetArgs(ctx, it.Key, it.Value, goredis.SetArgs{Mode: "NX", Get: true, TTL: roundTTL(it.TTL)})
	}
	_, execErr := pipe.Exec(ctx)
	res := make([]provider.AddResult, len(items))
	for i, c := range cmds {
		v, err := c.Bytes()
		switch {
		case errors.Is(err, goredis.Nil):
			res[i].Added = true
		case err != nil:
			return nil, err
		default:
			res[i].Existing = v
		}
	}
	if execErr != nil && !errors.Is(execErr, goredis.Nil) {
		return nil, execErr
	}
	return res, nil
}

func (p *Provider) setMulti(ctx context.Context, items []provider.Item) error {
	if len(items) == 1 {
		return p.c.Set(ctx, items[0].Key, items[0].Value, roundTTL(items[0].TTL)).Err()
	}
	pipe := p.c.Pipeline()
	for _, it := range items {
		pipe.Set(ctx, it.Key, it.Value, roundTTL(it.TTL))
	}
	_, err := pipe.Exec(ctx)
	return err
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

// ttlMillis is ttl in whole milliseconds, a remainder rounded up so a key
// never expires earlier than asked. 0 stays 0 (no expiry).
func ttlMillis(ttl time.Duration) int64 {
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms
}

// roundTTL is ttl rounded up to a whole millisecond, for go-redis, which
// truncates (and sends EX instead of PX for whole seconds, which is exact).
func roundTTL(ttl time.Duration) time.Duration {
	ms := ttlMillis(ttl)
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return time.Duration(math.MaxInt64 / int64(time.Millisecond) * int64(time.Millisecond))
	}
	return time.Duration(ms) * time.Millisecond
}
