package redis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/aside-go/aside/internal/luascript"
	"github.com/aside-go/aside/provider"
)

// getAddScript runs luascript.GetAddMulti (see there).
var getAddScript = goredis.NewScript(luascript.GetAddMulti)

// casMultiScript runs luascript.CompareAndSwapMulti (see there).
var casMultiScript = goredis.NewScript(luascript.CompareAndSwapMulti)

// maxScriptKeys bounds the keys of one batch script: Redis runs a script
// alone, so a huge batch is cut into scripts of this size, sent in one
// pipeline (still one round trip), to let other clients in between.
const maxScriptKeys = 256

// GetAddMulti reads every fetch's key and, where it is missing and the fetch
// has a value to add, stores it, in one round trip. On a standalone or
// Sentinel client it is one Lua script (one command, EVALSHA) per 256 keys,
// all in one pipeline: the read and the adds of a key are atomic, and the
// whole batch is one billed command per script. On a Cluster or Ring, where
// a script may not span slots, it is one pipeline of GET and SET NX GET PX
// commands that go-redis splits per node and sends concurrently: one round
// trip to each node, one command per key.
func (p *Provider) GetAddMulti(ctx context.Context, fetches []provider.Fetch) ([]provider.AddResult, error) {
	if p.closed.Load() {
		return nil, errClosed
	}
	for _, f := range fetches {
		var err error
		if f.Add == nil {
			err = checkKey(f.Key)
		} else {
			err = p.checkWrite(f.Key, f.Add, f.TTL)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(fetches) == 0 {
		return []provider.AddResult{}, nil
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var res []provider.AddResult
	if p.watch {
		own := make([]provider.Fetch, len(fetches))
		for i, f := range fetches {
			own[i] = provider.Fetch{Key: f.Key, Add: bytes.Clone(f.Add), TTL: f.TTL}
		}
		res, err = watch(p, ctx, func(ctx context.Context) ([]provider.AddResult, error) { return p.getAddMulti(ctx, own) })
	} else {
		res, err = p.getAddMulti(ctx, fetches)
	}
	if err != nil {
		return nil, fail(ctx, "get add multi", err)
	}
	return res, nil
}

func (p *Provider) getAddMulti(ctx context.Context, fetches []provider.Fetch) ([]provider.AddResult, error) {
	res := make([]provider.AddResult, len(fetches))
	if p.sharded {
		pipe := p.c.Pipeline()
		gets := make([]*goredis.StringCmd, len(fetches))
		adds := make([]*goredis.StatusCmd, len(fetches))
		for i, f := range fetches {
			if f.Add == nil {
				gets[i] = pipe.Get(ctx, f.Key)
			} else {
				adds[i] = pipe.SetArgs(ctx, f.Key, f.Add, goredis.SetArgs{Mode: "NX", Get: true, TTL: roundTTL(f.TTL)})
			}
		}
		_, execErr := pipe.Exec(ctx)
		for i := range fetches {
			var v []byte
			var err error
			if gets[i] != nil {
				v, err = gets[i].Bytes()
			} else {
				v, err = adds[i].Bytes()
				res[i].Added = errors.Is(err, goredis.Nil)
			}
			switch {
			case errors.Is(err, goredis.Nil):
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
	var calls []*scriptCall
	for lo := 0; lo < len(fetches); lo += maxScriptKeys {
		chunk := fetches[lo:min(lo+maxScriptKeys, len(fetches))]
		c := &scriptCall{s: getAddScript, keys: make([]string, len(chunk)), args: make([]any, 0, 2*len(chunk))}
		for i, f := range chunk {
			c.keys[i] = f.Key
			if f.Add == nil {
				c.args = append(c.args, "-1", "")
			} else {
				c.args = append(c.args, strconv.FormatInt(ttlMillis(f.TTL), 10), f.Add)
			}
		}
		calls = append(calls, c)
	}
	if err := p.runScripts(ctx, calls); err != nil {
		return nil, err
	}
	i := 0
	for _, c := range calls {
		vals, err := c.cmd.Slice()
		if err != nil {
			return nil, err
		}
		if len(vals) != len(c.keys) {
			return nil, fmt.Errorf("the batch read script answered %d values for %d keys", len(vals), len(c.keys))
		}
		for _, v := range vals {
			switch v := v.(type) {
			case nil:
				res[i].Added = fetches[i].Add != nil
			case string:
				res[i].Existing = []byte(v)
			default:
				return nil, fmt.Errorf("the batch read script answered a %T", v)
			}
			i++
		}
	}
	return res, nil
}

// CompareAndSwapMulti applies CompareAndSwap to every swap in one round
// trip. On a standalone or Sentinel client it is one Lua script (one
// command) per 256 keys, all in one pipeline; on a Cluster or Ring, one
// pipeline of the single-key CompareAndSwap script per key, split per node
// and sent concurrently. A script the server has not cached (after a
// restart or SCRIPT FLUSH) costs one more round trip, once.
func (p *Provider) CompareAndSwapMulti(ctx context.Context, swaps []provider.Swap) ([]bool, error) {
	if p.closed.Load() {
		return nil, errClosed
	}
	for _, sw := range swaps {
		if err := p.checkWrite(sw.Key, sw.New, sw.TTL); err != nil {
			return nil, err
		}
	}
	if len(swaps) == 0 {
		return []bool{}, nil
	}
	ctx, cancel, err := p.bound(ctx, p.o.Timeout)
	if err != nil {
		return nil, err
	}
	defer cancel()
	var res []bool
	if p.watch {
		own := make([]provider.Swap, len(swaps))
		for i, sw := range swaps {
			own[i] = provider.Swap{Key: sw.Key, Old: bytes.Clone(sw.Old), New: bytes.Clone(sw.New), TTL: sw.TTL}
		}
		res, err = watch(p, ctx, func(ctx context.Context) ([]bool, error) { return p.casMulti(ctx, own) })
	} else {
		res, err = p.casMulti(ctx, swaps)
	}
	if err != nil {
		return nil, fail(ctx, "compare and swap multi", err)
	}
	return res, nil
}

func (p *Provider) casMulti(ctx context.Context, swaps []provider.Swap) ([]bool, error) {
	var calls []*scriptCall
	if p.sharded {
		calls = make([]*scriptCall, len(swaps))
		for i, sw := range swaps {
			calls[i] = &scriptCall{s: casScript, keys: []string{sw.Key}, args: []any{sw.Old, sw.New, ttlMillis(sw.TTL)}}
		}
	} else {
		for lo := 0; lo < len(swaps); lo += maxScriptKeys {
			chunk := swaps[lo:min(lo+maxScriptKeys, len(swaps))]
			c := &scriptCall{s: casMultiScript, keys: make([]string, len(chunk)), args: make([]any, 0, 3*len(chunk))}
			for i, sw := range chunk {
				c.keys[i] = sw.Key
				c.args = append(c.args, sw.Old, sw.New, ttlMillis(sw.TTL))
			}
			calls = append(calls, c)
		}
	}
	if err := p.runScripts(ctx, calls); err != nil {
		return nil, err
	}
	res := make([]bool, 0, len(swaps))
	for _, c := range calls {
		if p.sharded {
			n, err := c.cmd.Int64()
			if err != nil {
				return nil, err
			}
			res = append(res, n == 1)
			continue
		}
		ns, err := c.cmd.Int64Slice()
		if err != nil {
			return nil, err
		}
		if len(ns) != len(c.keys) {
			return nil, fmt.Errorf("the batch swap script answered %d results for %d keys", len(ns), len(c.keys))
		}
		for _, n := range ns {
			res = append(res, n == 1)
		}
	}
	return res, nil
}

// scriptCall is one script run of a pipeline.
type scriptCall struct {
	s    *goredis.Script
	keys []string
	args []any
	cmd  *goredis.Cmd
}

// runScripts runs calls in one pipeline of EVALSHA, and the ones a server
// answered NOSCRIPT (it had not cached the script) in a second pipeline of
// EVAL, which caches it. go-redis's Script.Run falls back the same way, but
// only outside a pipeline. It returns the first error left; each call's
// reply is in its cmd.
func (p *Provider) runScripts(ctx context.Context, calls []*scriptCall) error {
	pipe := p.c.Pipeline()
	for _, c := range calls {
		c.cmd = c.s.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx)
	var retry []*scriptCall
	for _, c := range calls {
		if goredis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			retry = append(retry, c)
		}
	}
	if len(retry) > 0 {
		pipe = p.c.Pipeline()
		for _, c := range retry {
			c.cmd = c.s.Eval(ctx, pipe, c.keys, c.args...)
		}
		_, _ = pipe.Exec(ctx)
	}
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
	}
	return nil
}
