package redistest

import (
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"
)

// KillPubSub is CLIENT KILL TYPE pubsub on each of addrs: Redis drops every
// subscriber connection, as on a network cut. (go-redis and rueidis would
// reconnect and resubscribe by themselves; aside's providers must not.)
func KillPubSub(t testing.TB, addrs ...string) {
	t.Helper()
	for _, addr := range addrs {
		c := goredis.NewClient(&goredis.Options{Addr: addr})
		err := c.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err()
		_ = c.Close()
		if err != nil {
			t.Fatalf("CLIENT KILL TYPE pubsub on %s: %v", addr, err)
		}
	}
}

// KillNamedPubSub kills the pub/sub connections of the clients named name
// (CLIENT SETNAME) on the server admin talks to, and returns how many.
func KillNamedPubSub(t testing.TB, admin *goredis.Client, name string) int {
	t.Helper()
	list, err := admin.Do(t.Context(), "CLIENT", "LIST", "TYPE", "pubsub").Text()
	if err != nil {
		t.Fatalf("CLIENT LIST TYPE pubsub: %v", err)
	}
	n := 0
	for line := range strings.SplitSeq(strings.TrimSpace(list), "\n") {
		var id string
		var named bool
		for f := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(f, "id="); ok {
				id = v
			}
			if f == "name="+name {
				named = true
			}
		}
		if named && id != "" {
			k, err := admin.Do(t.Context(), "CLIENT", "KILL", "ID", id).Int()
			if err != nil {
				t.Fatalf("CLIENT KILL ID %s: %v", id, err)
			}
			n += k
		}
	}
	return n
}
