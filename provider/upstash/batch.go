package upstash

import (
	"context"
	"strconv"

	"github.com/aside-go/aside/provider"
)

var (
	_ provider.MultiGetAdder = (*Provider)(nil)
	_ provider.MultiSwapper  = (*Provider)(nil)
)

// GetAddMulti reads every fetch's key and, where it is missing and the
// fetch has a value to add, stores it: one script call (EVALSHA), so one
// request and one billed command for the whole batch, where a pipeline of
// GET and SET NX GET would bill one command per key. Fetches whose values
// would make the call larger than Options.MaxBatchBytes go in further
// calls. A key holding text this provider does not write, or a value of
// another type, fails the call with provider.ErrWrongType when its fetch
// adds, and reads as missing when it only reads.
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
	out := make([]provider.AddResult, 0, len(fetches))
	size := func(f provider.Fetch) int { return len(f.Key) + encodedValueLen(len(f.Add)) + 32 }
	err = inParts(ctx, p.o.MaxBatchBytes, fetches, size, func(ctx context.Context, part []provider.Fetch) error {
		keys := make([]string, len(part))
		for i, f := range part {
			keys[i] = f.Key
		}
		v, err := p.eval(ctx, p.getAdd, keys, func(b []byte) []byte {
			for _, f := range part {
				if f.Add == nil {
					b = append(b, `,"-1",""`...)
					continue
				}
				b = strconv.AppendInt(append(b, ','), ttlMillis(f.TTL), 10)
				b = appendValue(append(b, ','), f.Add)
			}
			return b
		})
		if err != nil {
			return err
		}
		if v.kind != kArr || len(v.arr) != len(part) {
			return errShape("the batch read script", v)
		}
		for i, e := range v.arr {
			var r provider.AddResult
			switch e.kind {
			case kNull:
				r.Added = part[i].Add != nil
			case kStr:
				existing, ok := decodeValue(e.str)
				switch {
				case ok:
					r.Existing = existing
				case part[i].Add != nil:
					return provider.ErrWrongType // text another client wrote
				}
			default:
				return errShape("the batch read script", v)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fail(ctx, "get add multi", err)
	}
	return out, nil
}

// CompareAndSwapMulti applies CompareAndSwap to every swap with one script
// call (EVALSHA): one request and one billed command for the whole batch,
// where a pipeline of the single-key script would bill one per key. Swaps
// whose values would make the call larger than Options.MaxBatchBytes go in
// further calls.
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
	out := make([]bool, 0, len(swaps))
	size := func(sw provider.Swap) int {
		return len(sw.Key) + encodedValueLen(len(sw.Old)) + encodedValueLen(len(sw.New)) + 32
	}
	err = inParts(ctx, p.o.MaxBatchBytes, swaps, size, func(ctx context.Context, part []provider.Swap) error {
		keys := make([]string, len(part))
		for i, sw := range part {
			keys[i] = sw.Key
		}
		v, err := p.eval(ctx, p.casMulti, keys, func(b []byte) []byte {
			for _, sw := range part {
				b = appendValue(append(b, ','), sw.Old)
				b = appendValue(append(b, ','), sw.New)
				b = strconv.AppendInt(append(b, ','), ttlMillis(sw.TTL), 10)
			}
			return b
		})
		if err != nil {
			return err
		}
		if v.kind != kArr || len(v.arr) != len(part) {
			return errShape("the batch swap script", v)
		}
		for _, e := range v.arr {
			if e.kind != kInt {
				return errShape("the batch swap script", v)
			}
			out = append(out, e.num == 1)
		}
		return nil
	})
	if err != nil {
		return nil, fail(ctx, "compare and swap multi", err)
	}
	return out, nil
}
