package emulator

import (
	"crypto/sha1"
	"encoding/hex"
	"strings"
	"sync"
)

// keyLockingFlag is Upstash's shebang flag that makes a script lock only the
// keys it declares. Redis 7 rejects it: "ERR Unexpected flag in script
// shebang: allow-key-locking".
const keyLockingFlag = "allow-key-locking"

// Bounds of the table of rewritten scripts. A script dropped from it costs
// one NOSCRIPT, after which the client sends EVAL and it is back.
const (
	maxScripts     = 1024
	maxScriptBytes = 64 << 20
)

// keyCheckPrologue makes a flagged script behave as on Upstash, where every
// key a redis.call touches must be one of KEYS. It shadows the global `redis`
// with a table whose call and pcall first ask Redis which arguments are keys
// (COMMAND GETKEYS, which knows every command's key positions) and refuse an
// undeclared one with Upstash's message. It is one line, put in front of the
// script's first line after the shebang, so Lua's line numbers in error
// messages do not move.
const keyCheckPrologue = `local __upstash_redis = redis ` +
	`local __upstash_keys = {} for _, k in ipairs(KEYS) do __upstash_keys[k] = true end ` +
	`local function __upstash_undeclared(...) ` +
	`local ok, ks = pcall(__upstash_redis.call, 'COMMAND', 'GETKEYS', ...) ` +
	`if ok and type(ks) == 'table' then for _, k in ipairs(ks) do if not __upstash_keys[k] then return k end end end ` +
	`return nil end ` +
	`local __upstash_msg = "ERR Dynamic keys are not allowed in Lua scripts when 'allow-key-locking' flag is set. Key was: " ` +
	`local redis = setmetatable({` +
	`call = function(...) local k = __upstash_undeclared(...) if k then error({err = __upstash_msg .. k}) end return __upstash_redis.call(...) end, ` +
	`pcall = function(...) local k = __upstash_undeclared(...) if k then return __upstash_redis.error_reply(__upstash_msg .. k) end return __upstash_redis.pcall(...) end` +
	`}, {__index = __upstash_redis}) `

// stripKeyLocking returns the script Redis should run instead of script, and
// true, when script's shebang carries allow-key-locking: the flag removed
// (other flags kept, a shebang left with no flag becomes "#!lua") and the
// key check in front of the body. Otherwise it returns script and false.
func stripKeyLocking(script string) (string, bool) {
	if !strings.HasPrefix(script, "#!") {
		return script, false
	}
	line, body, _ := strings.Cut(script, "\n")
	cr := strings.HasSuffix(line, "\r")
	line = strings.TrimSuffix(line, "\r")
	fields := strings.Fields(line[2:])
	if len(fields) == 0 {
		return script, false
	}
	found := false
	kept := fields[:1:1] // the engine, "lua"
	for _, f := range fields[1:] {
		list, ok := strings.CutPrefix(f, "flags=")
		if !ok {
			kept = append(kept, f)
			continue
		}
		var flags []string
		for fl := range strings.SplitSeq(list, ",") {
			if fl == keyLockingFlag {
				found = true
				continue
			}
			flags = append(flags, fl)
		}
		if len(flags) > 0 {
			kept = append(kept, "flags="+strings.Join(flags, ","))
		}
	}
	if !found {
		return script, false
	}
	var b strings.Builder
	b.Grow(len(script) + len(keyCheckPrologue) + 4)
	b.WriteString("#!")
	b.WriteString(strings.Join(kept, " "))
	if cr {
		b.WriteByte('\r')
	}
	b.WriteByte('\n')
	b.WriteString(keyCheckPrologue)
	b.WriteString(body)
	return b.String(), true
}

// scriptSHA is the SHA1 a client computes for EVALSHA: of the script as the
// client wrote it, flag included.
func scriptSHA(script string) string {
	h := sha1.Sum([]byte(script))
	return hex.EncodeToString(h[:])
}

// scripts maps the SHA1 of each flagged script the emulator has seen (by
// EVAL or SCRIPT LOAD) to the script Redis runs in its place, so that
// EVALSHA with the client's SHA works. Redis never holds that SHA, so such an
// EVALSHA is sent as EVAL of the rewritten script: correct inside pipelines
// and transactions, and after Redis lost its script cache. Bound:
// maxScripts entries and maxScriptBytes of script text; past either, random
// entries are dropped.
type scripts struct {
	mu    sync.Mutex
	bySHA map[string]string
	bytes int
}

func (s *scripts) put(sha, rewritten string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bySHA == nil {
		s.bySHA = make(map[string]string)
	}
	if old, ok := s.bySHA[sha]; ok {
		s.bytes -= len(old)
		delete(s.bySHA, sha)
	}
	for k, v := range s.bySHA { // map order is random
		if len(s.bySHA) < maxScripts && s.bytes+len(rewritten) <= maxScriptBytes {
			break
		}
		s.bytes -= len(v)
		delete(s.bySHA, k)
	}
	s.bySHA[sha] = rewritten
	s.bytes += len(rewritten)
}

func (s *scripts) get(sha string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.bySHA[strings.ToLower(sha)]
	return v, ok
}

func (s *scripts) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bySHA = nil
	s.bytes = 0
}

func (s *scripts) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bySHA)
}
