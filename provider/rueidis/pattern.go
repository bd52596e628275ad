package rueidis

import (
	"context"
	"sync/atomic"

	rue "github.com/redis/rueidis"
	"golang.org/x/sync/errgroup"
)

// DeletePattern deletes the keys matching the Redis glob pattern and returns
// how many it removed. On every master (every master of a Cluster, the one
// server otherwise) it loops SCAN cursor MATCH pattern COUNT
// Options.ScanCount and UNLINKs each batch of keys found, through a pipeline
// of single-key UNLINKs that rueidis routes per slot. The masters are worked
// on concurrently. Each SCAN and each UNLINK batch is bounded by
// Options.ScanTimeout; the whole call by the caller's context only. It never
// uses KEYS and is not atomic: keys written while it runs may survive. An
// empty pattern matches no key.
func (p *Provider) DeletePattern(ctx context.Context, pattern string) (int, error) {
	if p.closed.Load() {
		return 0, errClosed
	}
	if pattern == "" {
		// SCAN without MATCH would visit, and so delete, every key.
		return 0, nil
	}
	nodes, err := p.masters(ctx)
	if err != nil {
		return 0, err
	}
	var total atomic.Int64
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
func (p *Provider) deleteOn(ctx context.Context, node rue.Client, pattern string, total *atomic.Int64) error {
	var cursor uint64
	for {
		page, err := do(p, ctx, p.o.ScanTimeout, "delete pattern: scan", func(ctx context.Context, _ rue.Client) (scanPage, error) {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(int64(p.o.ScanCount)).Build()).AsScanEntry()
			return scanPage{e.Elements, e.Cursor}, err
		})
		if err != nil {
			return err
		}
		if len(page.keys) > 0 {
			n, err := do(p, ctx, p.o.ScanTimeout, "delete pattern: unlink", func(ctx context.Context, c rue.Client) (int64, error) {
				return unlink(ctx, c, page.keys)
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

// Len returns the number of keys in the database: DBSIZE on one server, the
// sum of DBSIZE over every master of a Cluster. DBSIZE is O(1) on each node.
// The count covers every key of the database(s), not only the cache's, and
// may include expired keys Redis has not reclaimed yet. Each node's DBSIZE is
// bounded by Options.Timeout, and so is the listing of a Cluster's masters.
func (p *Provider) Len(ctx context.Context) (int64, error) {
	if p.closed.Load() {
		return 0, errClosed
	}
	nodes, err := p.masters(ctx)
	if err != nil {
		return 0, err
	}
	var total atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for _, n := range nodes {
		g.Go(func() error {
			v, err := do(p, gctx, p.o.Timeout, "len", func(ctx context.Context, _ rue.Client) (int64, error) {
				return n.Do(ctx, n.B().Dbsize().Build()).AsInt64()
			})
			total.Add(v)
			return err
		})
	}
	err = g.Wait()
	return total.Load(), err
}

// masters returns the client itself for a standalone or Sentinel client,
// and a client for each master of a Cluster: rueidis lists replicas too,
// so each node is asked its ROLE (concurrently, bounded by Timeout).
func (p *Provider) masters(ctx context.Context) ([]rue.Client, error) {
	return do(p, ctx, p.o.Timeout, "list masters", func(ctx context.Context, c rue.Client) ([]rue.Client, error) {
		if c.Mode() != rue.ClientModeCluster {
			return []rue.Client{c}, nil
		}
		nodes := c.Nodes()
		list := make([]rue.Client, 0, len(nodes))
		for _, n := range nodes {
			list = append(list, n)
		}
		master := make([]bool, len(list))
		var g errgroup.Group
		for i, n := range list {
			g.Go(func() error {
				role, err := n.Do(ctx, n.B().Role().Build()).ToArray()
				if err != nil {
					return err
				}
				if len(role) > 0 {
					s, _ := role[0].ToString()
					master[i] = s == "master"
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		var out []rue.Client
		for i, n := range list {
			if master[i] {
				out = append(out, n)
			}
		}
		return out, nil
	})
}
