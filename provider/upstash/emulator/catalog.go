package emulator

import (
	"context"
	"fmt"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// commandMeta is what the emulator needs to know of one Redis command.
type commandMeta struct {
	read      bool // in ACL category @read
	dangerous bool // in ACL category @dangerous
	denyOOM   bool // flag denyoom: may grow memory (refused when the DB is "full")
}

// catalog is Redis's own command table (COMMAND), read once, the first time
// a read-only token or a DB-capacity fault needs it. Reading it from the
// server, not from a list written here, keeps the read-only rules right for
// whatever Redis version is behind the emulator. Bound: one entry per
// command and subcommand of that server (a few hundred).
type catalog struct {
	mu     sync.Mutex
	byName map[string]commandMeta // "get", "object|encoding"
}

// load returns the table, reading it from Redis when it has not been read
// yet. A failure is returned and tried again on the next call.
func (c *catalog) load(ctx context.Context, rdb goredis.UniversalClient) (map[string]commandMeta, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName != nil {
		return c.byName, nil
	}
	reply, err := rdb.Do(ctx, "command").Slice()
	if err != nil {
		return nil, fmt.Errorf("reading Redis's command table: %w", err)
	}
	m := make(map[string]commandMeta, len(reply)*2)
	for _, e := range reply {
		addCommandEntry(m, e, "")
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("reading Redis's command table: COMMAND returned no command")
	}
	c.byName = m
	return m, nil
}

// addCommandEntry adds one COMMAND entry and its subcommands (Redis 7):
// [name, arity, flags, first, last, step, acl-categories, tips, key-specs,
// subcommands].
func addCommandEntry(m map[string]commandMeta, e any, parent string) {
	fields, ok := e.([]any)
	if !ok || len(fields) < 3 {
		return
	}
	name, ok := fields[0].(string)
	if !ok {
		return
	}
	name = strings.ToLower(name)
	var meta commandMeta
	for _, f := range asStrings(fields[2]) {
		if f == "denyoom" {
			meta.denyOOM = true
		}
	}
	if len(fields) > 6 {
		for _, cat := range asStrings(fields[6]) {
			switch cat {
			case "@read":
				meta.read = true
			case "@dangerous":
				meta.dangerous = true
			}
		}
	}
	m[name] = meta
	if parent == "" && len(fields) > 9 {
		if subs, ok := fields[9].([]any); ok {
			for _, s := range subs {
				addCommandEntry(m, s, name)
			}
		}
	}
}

func asStrings(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, strings.ToLower(s))
		}
	}
	return out
}

// lookup finds a command, or its subcommand for container commands
// ("object encoding" as "object|encoding").
func lookup(m map[string]commandMeta, args []string) (commandMeta, bool) {
	name := strings.ToLower(args[0])
	if len(args) > 1 {
		if meta, ok := m[name+"|"+strings.ToLower(args[1])]; ok {
			return meta, true
		}
	}
	meta, ok := m[name]
	return meta, ok
}

// readOnlyAllows reports whether the read-only token may run args: a command
// of Redis's @read category that is not @dangerous, less SCAN and KEYS, plus
// PING, ECHO and the _RO script calls.
func readOnlyAllows(m map[string]commandMeta, args []string) bool {
	name := strings.ToLower(args[0])
	if readOnlyExtra[name] {
		return true
	}
	if readOnlyDenied[name] {
		return false
	}
	meta, ok := lookup(m, args)
	return ok && meta.read && !meta.dangerous
}
