package rueidis

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strconv"

	rue "github.com/redis/rueidis"

	"github.com/aside-go/aside/internal/luascript"
	"github.com/aside-go/aside/provider"
)

var (
	_ provider.MultiGetAdder = (*Provider)(nil)
	_ provider.MultiSwapper  = (*Provider)(nil)
)

// getAddScript runs luascript.GetAddMulti (see there).
var getAddScript = newScript(luascript.GetAddMulti)

// casMultiScript runs luascript.CompareAndSwapMulti (see there).
var casMultiScript = newScript(luascript.CompareAndSwapMulti)

// casOneScript is casScript, for the pipelines of a Cluster.
var casOneScript = newScript(luascript.CompareAndSwap)

// maxScriptKeys bounds the keys of one batch script: Redis runs a script
// alone, so a huge batch is cut into scripts of this size, sent together
// (still one round trip), to let other clients in between.
const maxScriptKeys = 256

// script is a Lua script and its SHA-1, for EVALSHA inside a DoMulti
// (rueidis's Lua.ExecMulti first loads the script on every node, one more
// round trip per call).
type script struct{ src, sha string }

func newScript(src string) script {
	h := sha1.Sum([]byte(src))
	return script{src: src, sha: hex.EncodeToString(h[:])}
}

// scriptCall is one run of a script among those runScripts sends.
type scriptCall struct {
	s    script
	keys []string
	args []string
	r    rue.RedisResult
}

// runScripts runs calls with one DoMulti of EVALSHA (one round trip; on a
// Cluster, one to each node concerned, in parallel), then the ones a server
// answered NOSCRIPT (it had not cached the script: after a restart or
// SCRIPT FLUSH) with one DoMulti of EVAL, which caches it. Each call's
// reply is left in its r.
func runScripts(ctx context.Context, c rue.Client, calls []*scriptCall) {
	cmds := make(rue.Commands, len(calls))
	for i, sc := range calls {
		cmds[i] = c.B().Evalsha().Sha1(sc.s.sha).Numkeys(int64(len(sc.keys))).Key(sc.keys...).Arg(sc.args...).Build()
	}
	var retry []*scriptCall
	for i, r := range c.DoMulti(ctx, cmds...) {
		calls[i].r = r
		if re, ok := rue.IsRedisErr(r.Error()); ok && re.IsNoScript() {
			retry = append(retry, calls[i])
		}
	}
	if len(retry) == 0 {
		return
	}
	cmds = make(rue.Commands, len(retry))
	for i, sc := range retry {
		cmds[i] = c.B().Eval().Script(sc.s.src).Numkeys(int64(len(sc.keys))).Key(sc.keys...).Arg(sc.args...).Build()
	}
	for i, r := range c.DoMulti(ctx, cmds...) {
		retry[i].r = r
	}
}

// fetch is a provider.Fetch the provider owns: its value is a copy.
type fetch struct {
	key, add string
	read     bool // no value to add
	ttl      int64
}

// GetAddMulti reads every fetch's key and, where it is missing and the fetch
// has a value to add, stores it, in one round trip. On one server
// (standalone or Sentinel) it is one Lua script (EVALSHA; one command for
// the server) per 256 keys, all in one DoMulti: the read and the adds of a
// key are atomic, and a key of another type reads as missing unless its
// fetch adds, which fails the call with provider.ErrWrongType. On a Cluster,
// where a script may not span slots, it is one pipeline of single-key
// commands, GET for a read-only fetch and SET NX GET PX otherwise, which
// rueidis splits per node and sends concurrently: one round trip to each
// node, one command per key, and a key of another type fails the call with
// provider.ErrWrongType.
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
	own := make([]fetch, len(fetches)) // a goroutine may outlive the call
	for i, f := range fetches {
		own[i] = fetch{key: f.Key, add: string(f.Add), read: f.Add == nil, ttl: ttlMillis(f.TTL)}
	}
	return do(p, ctx, p.o.Timeout, "get add multi", func(ctx context.Context, c rue.Client) ([]provider.AddResult, error) {
		if c.Mode() == rue.ClientModeCluster {
			return getAddPipeline(ctx, c, own)
		}
		return getAddScripts(ctx, c, own)
	})
}

func getAddPipeline(ctx context.Context, c rue.Client, fetches []fetch) ([]provider.AddResult, error) {
	cmds := make(rue.Commands, len(fetches))
	for i, f := range fetches {
		if f.read {
			cmds[i] = c.B().Get().Key(f.key).Build()
			continue
		}
		s := c.B().Set().Key(f.key).Value(f.add).Nx().Get()
		if f.ttl == 0 {
			cmds[i] = s.Build()
		} else {
			cmds[i] = s.PxMilliseconds(f.ttl).Build()
		}
	}
	res := make([]provider.AddResult, len(fetches))
	for i, r := range c.DoMulti(ctx, cmds...) {
		v, err := r.AsBytes()
		switch {
		case rue.IsRedisNil(err):
			res[i].Added = !fetches[i].read
		case err != nil:
			return nil, err
		default:
			res[i].Existing = v
		}
	}
	return res, nil
}

func getAddScripts(ctx context.Context, c rue.Client, fetches []fetch) ([]provider.AddResult, error) {
	var calls []*scriptCall
	for lo := 0; lo < len(fetches); lo += maxScriptKeys {
		chunk := fetches[lo:min(lo+maxScriptKeys, len(fetches))]
		sc := &scriptCall{s: getAddScript, keys: make([]string, len(chunk)), args: make([]string, 0, 2*len(chunk))}
		for i, f := range chunk {
			sc.keys[i] = f.key
			if f.read {
				sc.args = append(sc.args, "-1", "")
			} else {
				sc.args = append(sc.args, strconv.FormatInt(f.ttl, 10), f.add)
			}
		}
		calls = append(calls, sc)
	}
	runScripts(ctx, c, calls)
	res := make([]provider.AddResult, len(fetches))
	i := 0
	for _, sc := range calls {
		vals, err := sc.r.ToArray()
		if err != nil {
			return nil, err
		}
		if len(vals) != len(sc.keys) {
			return nil, fmt.Errorf("the batch read script answered %d values for %d keys", len(vals), len(sc.keys))
		}
		for _, v := range vals {
			b, err := v.AsBytes()
			switch {
			case rue.IsRedisNil(err):
				res[i].Added = !fetches[i].read
			case err != nil:
				return nil, err
			default:
				res[i].Existing = b
			}
			i++
		}
	}
	return res, nil
}

// swap is a provider.Swap the provider owns.
type swap struct {
	key, old, new, ttl string
}

// CompareAndSwapMulti applies CompareAndSwap to every swap in one round
// trip. On one server it is one Lua script (one command for the server) per
// 256 keys, all in one DoMulti; on a Cluster, one pipeline of the
// single-key CompareAndSwap script per key, split per node and sent
// concurrently. A script the server has not cached (after a restart or
// SCRIPT FLUSH) costs one more round trip, once.
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
	own := make([]swap, len(swaps))
	for i, sw := range swaps {
		own[i] = swap{key: sw.Key, old: string(sw.Old), new: string(sw.New), ttl: strconv.FormatInt(ttlMillis(sw.TTL), 10)}
	}
	return do(p, ctx, p.o.Timeout, "compare and swap multi", func(ctx context.Context, c rue.Client) ([]bool, error) {
		return casMulti(ctx, c, own)
	})
}

func casMulti(ctx context.Context, c rue.Client, swaps []swap) ([]bool, error) {
	cluster := c.Mode() == rue.ClientModeCluster
	var calls []*scriptCall
	if cluster {
		calls = make([]*scriptCall, len(swaps))
		for i, sw := range swaps {
			calls[i] = &scriptCall{s: casOneScript, keys: []string{sw.key}, args: []string{sw.old, sw.new, sw.ttl}}
		}
	} else {
		for lo := 0; lo < len(swaps); lo += maxScriptKeys {
			chunk := swaps[lo:min(lo+maxScriptKeys, len(swaps))]
			sc := &scriptCall{s: casMultiScript, keys: make([]string, len(chunk)), args: make([]string, 0, 3*len(chunk))}
			for i, sw := range chunk {
				sc.keys[i] = sw.key
				sc.args = append(sc.args, sw.old, sw.new, sw.ttl)
			}
			calls = append(calls, sc)
		}
	}
	runScripts(ctx, c, calls)
	res := make([]bool, 0, len(swaps))
	for _, sc := range calls {
		if cluster {
			n, err := sc.r.AsInt64()
			if err != nil {
				return nil, err
			}
			res = append(res, n == 1)
			continue
		}
		ns, err := sc.r.AsIntSlice()
		if err != nil {
			return nil, err
		}
		if len(ns) != len(sc.keys) {
			return nil, fmt.Errorf("the batch swap script answered %d results for %d keys", len(ns), len(sc.keys))
		}
		for _, n := range ns {
			res = append(res, n == 1)
		}
	}
	return res, nil
}
