package emulator

import (
	"fmt"
	"strings"
)

// unsupported are the commands Upstash's REST API does not serve, refused
// whatever the options: they hold state on a connection (which a stateless
// HTTP request does not have, and which would leak into the emulator's
// pooled Redis connections), block, or stream. Upstash's REST compatibility
// table: "Connection: only PING and ECHO", "Pub/Sub: only PUBLISH and
// PUBSUB", no blocking list, sorted-set or stream reads, no
// WATCH/UNWATCH/DISCARD, no cluster commands. MULTI and EXEC exist only as
// the /multi-exec endpoint.
var unsupported = map[string]bool{
	// connection
	"auth": true, "hello": true, "select": true, "quit": true, "reset": true,
	"readonly": true, "readwrite": true, "asking": true,
	// transactions
	"multi": true, "exec": true, "discard": true, "watch": true, "unwatch": true,
	// pub/sub subscriptions
	"subscribe": true, "psubscribe": true, "ssubscribe": true,
	"unsubscribe": true, "punsubscribe": true, "sunsubscribe": true,
	// blocking
	"blpop": true, "brpop": true, "brpoplpush": true, "blmove": true, "blmpop": true,
	"bzpopmin": true, "bzpopmax": true, "bzmpop": true, "wait": true, "waitaof": true,
	// replication, streaming
	"monitor": true, "sync": true, "psync": true, "replconf": true,
	// cluster
	"cluster": true,
}

// dangerous are refused unless Options.AllowDangerous.
var dangerous = map[string]bool{
	"flushall": true, "flushdb": true, "config": true, "shutdown": true,
	"debug": true, "replicaof": true, "slaveof": true, "migrate": true,
	"acl": true, "module": true, "save": true, "bgsave": true,
	"bgrewriteaof": true, "swapdb": true, "failover": true,
}

// clientDangerous are the CLIENT subcommands AllowDangerous lets through;
// every other CLIENT subcommand changes the state of the emulator's own
// connection (REPLY, TRACKING, SETNAME, CACHING, NO-EVICT...) and is refused.
var clientDangerous = map[string]bool{
	"kill": true, "list": true, "info": true, "id": true, "getname": true,
	"pause": true, "unpause": true,
}

// readOnlyExtra are allowed to the read-only token although Redis files them
// under no @read category: PING and ECHO (Upstash's connection commands) and
// the read-only script and function calls, which Redis runs with writes
// disabled.
var readOnlyExtra = map[string]bool{
	"ping": true, "echo": true,
	"eval_ro": true, "evalsha_ro": true, "fcall_ro": true,
}

// readOnlyDenied are read commands Upstash's read-only token refuses: "Some
// powerful read commands (e.g. SCAN, KEYS) are also restricted". KEYS is
// refused through its @dangerous category already.
var readOnlyDenied = map[string]bool{"scan": true, "keys": true}

// refusal is a command the emulator answers itself, without Redis.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

// notAvailable is Upstash's answer to a command its REST API does not serve.
func notAvailable(name string) *refusal {
	return &refusal{fmt.Sprintf("ERR Command is not available: '%s'", strings.ToUpper(name))}
}

// noPerm is the answer to a command the read-only token may not run, in the
// words Upstash uses.
func noPerm(name string) *refusal {
	return &refusal{fmt.Sprintf("NOPERM this user has no permissions to run the '%s' command or its subcommand", strings.ToLower(name))}
}

// policy decides whether args may reach Redis, before any read-only check
// (which needs Redis's command table). It returns nil or a *refusal.
func policy(args []string, allowDangerous bool) *refusal {
	name := strings.ToLower(args[0])
	switch {
	case unsupported[name]:
		return notAvailable(name)
	case name == "xread" || name == "xreadgroup":
		for _, a := range args[1:] {
			if strings.EqualFold(a, "streams") {
				break
			}
			if strings.EqualFold(a, "block") {
				return notAvailable(name + " block")
			}
		}
	case name == "client":
		sub := ""
		if len(args) > 1 {
			sub = strings.ToLower(args[1])
		}
		if !allowDangerous || !clientDangerous[sub] {
			return dangerousRefusal(strings.TrimSpace(name+" "+sub), allowDangerous)
		}
	case dangerous[name] && !allowDangerous:
		return dangerousRefusal(name, false)
	}
	return nil
}

func dangerousRefusal(name string, allowDangerous bool) *refusal {
	if allowDangerous {
		return notAvailable(name)
	}
	return &refusal{fmt.Sprintf("ERR Command is not available: '%s' (the emulator refuses dangerous commands; allow them with Options.AllowDangerous or -allow-dangerous)", strings.ToUpper(name))}
}
