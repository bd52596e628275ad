package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
)

// DeletePattern deletes the keys matching the Redis glob pattern and returns
// how many it removed. On every master (every master of a Cluster, every
// shard of a Ring, the one server otherwise) it loops SCAN cursor MATCH
// pattern COUNT Options.ScanCount and UNLINKs each batch of keys found; on a
// Cluster the UNLINKs go through a pipeline that go-redis routes per slot, so
// no command spans two slots. The masters are worked on concurrently. Each
// SCAN and each UNLINK batch is bounded by Options.ScanTimeout; the whole
// call by the caller's context only. It never uses KEYS and is not atomic:
// keys written while it runs may survive. An empty pattern matches no key.
func (p *Provider) DeletePattern(ctx context.Context, pattern string) (int, error) {
	if p.closed.Load() {
		return 0, errClosed
	}
	if pattern == "" {
		// SCAN without MATCH would visit, and so delete, every key.
		return 0, nil
	}
	var total atomic.Int64
	if !p.sharded {
		err := p.deleteOn(ctx, p.c, pattern, &total)
		return int(total.Load()), err
	}
	nodes, err := p.masters(ctx)
	if err != nil {
		return 0, err
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range nodes {
		g.Go(func() error { return p.deleteOn(gctx, n, pattern, &total) })
	}
	err = g.Wait()
	return int(total.Load()), err
}

// scanPage is one SCAN reply.
type scanPage struct {
	keys []string
	next uint64
}

// deleteOn scans node for pattern and unlinks what it finds, adding the
// count of removed keys to total as it goes.
func (p *Provider) deleteOn(ctx context.Context, node goredis.Cmdable, pattern string, total *atomic.Int64) error {
	var cursor uint64
	for {
		page, err := run(p, ctx, p.o.ScanTimeout, "delete pattern: scan", func(ctx context.Context) (scanPage, error) {
			keys, next, err := node.Scan(ctx, cursor, pattern, int64(p.o.ScanCount)).Result()
			return scanPage{keys, next}, err
		})
		if err != nil {
			return err
		}
		if len(page.keys) > 0 {
			n, err := run(p, ctx, p.o.ScanTimeout, "delete pattern: unlink", func(ctx context.Context) (int64, error) {
				if p.sharded {
					return p.unlink(ctx, page.keys)
				}
				return node.Unlink(ctx, page.keys...).Result()
			})
			total.Add(n)
			if err != nil {
				return err
			}
		}
		if page.next == 0 {
			return nil
		}
		cursor = page.next
	}
}

// Len returns the number of keys in the database: DBSIZE on a standalone or
// Sentinel client, the sum of DBSIZE over every master of a Cluster (every
// shard of a Ring), asked concurrently. DBSIZE is O(1) on each node. The count
// covers every key of the database(s), not only the cache's, and may include
// expired keys Redis has not reclaimed yet. Bounded by Options.Timeout.
func (p *Provider) Len(ctx context.Context) (int64, error) {
	if p.closed.Load() {
		return 0, errClosed
	}
	return run(p, ctx, p.o.Timeout, "len", func(ctx context.Context) (int64, error) {
		if !p.sharded {
			return p.c.DBSize(ctx).Result()
		}
		var total atomic.Int64
		err := p.forEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			n, err := c.DBSize(ctx).Result()
			total.Add(n)
			return err
		})
		return total.Load(), err
	})
}

// masters returns a client for every master of a sharded client, bounded by
// Options.Timeout (it may reload the cluster's slot map).
func (p *Provider) masters(ctx context.Context) ([]*goredis.Client, error) {
	return run(p, ctx, p.o.Timeout, "delete pattern: list masters", func(ctx context.Context) ([]*goredis.Client, error) {
		var mu sync.Mutex
		var nodes []*goredis.Client
		err := p.forEachMaster(ctx, func(_ context.Context, c *goredis.Client) error {
			mu.Lock()
			nodes = append(nodes, c)
			mu.Unlock()
			return nil
		})
		return nodes, err
	})
}

// forEachMaster calls fn concurrently for each master of a sharded client.
func (p *Provider) forEachMaster(ctx context.Context, fn func(context.Context, *goredis.Client) error) error {
	switch c := p.c.(type) {
	case *goredis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *goredis.Ring:
		return c.ForEachShard(ctx, fn)
	}
	return errors.New("client is not a ClusterClient or a Ring")
}

// run is one bounded call for the paths off the cache's hot path: it bounds
// ctx by d, watches the call when the client ignores ctx on socket I/O, and
// maps the error for op.
func run[T any](p *Provider, ctx context.Context, d time.Duration, op string, fn func(context.Context) (T, error)) (T, error) {
	var v T
	ctx, cancel, err := p.bound(ctx, d)
	if err != nil {
		return v, err
	}
	defer cancel()
	if p.watch {
		v, err = watch(p, ctx, fn)
	} else {
		v, err = fn(ctx)
	}
	if err != nil {
		return v, fail(ctx, op, err)
	}
	return v, nil
}
