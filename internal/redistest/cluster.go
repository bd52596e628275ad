package redistest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// Cluster is a Redis Cluster of masters only, each a [Server] owned by the
// test binary that started it.
type Cluster struct {
	Nodes []*Server
}

// Addrs returns the host:port of every master, for ClusterOptions.Addrs.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr()
	}
	return addrs
}

// StartCluster starts masters cluster-enabled redis-server processes, splits
// the hash slots evenly between them, joins them and waits until every node
// reports cluster_state:ok. It needs no redis-cli.
func StartCluster(masters int) (*Cluster, error) {
	if masters < 1 {
		return nil, errors.New("redistest: a cluster needs at least one master")
	}
	c := &Cluster{}
	for range masters {
		s, err := startServer(true, nil)
		if err != nil {
			_ = c.Close()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
	}
	if err := c.form(); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) form() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*goredis.Client, len(c.Nodes))
	for i, n := range c.Nodes {
		clients[i] = goredis.NewClient(&goredis.Options{Addr: n.Addr(), ContextTimeoutEnabled: true})
	}
	defer func() {
		for _, cl := range clients {
			_ = cl.Close()
		}
	}()

	per := clusterSlots / len(c.Nodes)
	for i, cl := range clients {
		first, last := i*per, (i+1)*per-1
		if i == len(clients)-1 {
			last = clusterSlots - 1
		}
		// Distinct epochs up front spare the nodes an epoch-collision round.
		if err := cl.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fmt.Errorf("redistest: cluster set-config-epoch on %s: %w", c.Nodes[i].Addr(), err)
		}
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", first, last).Err(); err != nil {
			return fmt.Errorf("redistest: cluster addslotsrange on %s: %w", c.Nodes[i].Addr(), err)
		}
	}
	for _, n := range c.Nodes[1:] {
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", n.port, n.bus).Err(); err != nil {
			return fmt.Errorf("redistest: cluster meet %s: %w", n.Addr(), err)
		}
	}
	for {
		if c.ready(ctx, clients) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: cluster of %d did not reach cluster_state:ok: %w", len(c.Nodes), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ready reports whether every node sees every other node and all slots.
func (c *Cluster) ready(ctx context.Context, clients []*goredis.Client) bool {
	want := fmt.Sprintf("cluster_known_nodes:%d", len(clients))
	for _, cl := range clients {
		info, err := cl.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want) {
			return false
		}
		slots, err := cl.ClusterSlots(ctx).Result()
		if err != nil || len(slots) != len(clients) {
			return false
		}
	}
	return true
}

// Close stops every node and removes their directories.
func (c *Cluster) Close() error {
	var errs []error
	for _, n := range c.Nodes {
		errs = append(errs, n.Close())
	}
	return errors.Join(errs...)
}
