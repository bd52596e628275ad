package upstash

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"
)

// The provider's Lua scripts. Each touches only the keys passed in KEYS, as
// Upstash requires of a script flagged allow-key-locking (which then locks
// only those keys instead of the whole database). Values arrive and are
// stored as their base64 text, so comparisons are of stored text. A TTL
// argument is in milliseconds, "0" for none.

// casScript: KEYS[1]; ARGV: old, new, ttl. Returns 1 when it swapped.
const casScript = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] == '0' then redis.call('SET', KEYS[1], ARGV[2]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
`

// setMultiScript: KEYS[i] gets ARGV[2i-1] with the TTL ARGV[2i]. Returns
// the number of keys set.
const setMultiScript = `for i = 1, #KEYS do
  local v, ttl = ARGV[2*i-1], ARGV[2*i]
  if ttl == '0' then redis.call('SET', KEYS[i], v) else redis.call('SET', KEYS[i], v, 'PX', ttl) end
end
return #KEYS
`

// addMultiScript: SET NX GET of ARGV[2i-1] with the TTL ARGV[2i] under
// KEYS[i], in order. Returns one element per key: nil when it was added,
// else the value already there.
const addMultiScript = `local out = {}
for i = 1, #KEYS do
  local v, ttl = ARGV[2*i-1], ARGV[2*i]
  if ttl == '0' then
    out[i] = redis.call('SET', KEYS[i], v, 'NX', 'GET')
  else
    out[i] = redis.call('SET', KEYS[i], v, 'NX', 'GET', 'PX', ttl)
  end
end
return out
`

// getAddScript: reads every key of KEYS (MGET, a thousand keys at a time,
// below Lua's limit on unpack) and, for a missing key i whose ARGV[2i-1]
// is not "-1", stores ARGV[2i] with SET NX and the TTL ARGV[2i-1]. Returns
// one element per key, in order: nil when the key was added or is missing
// and read only, else the value read. A key fetched twice reads what its
// first fetch added. MGET reads a key of another type as missing; SET NX
// then refuses it and the GET that follows fails with WRONGTYPE.
const getAddScript = `local vals = {}
for lo = 1, #KEYS, 1000 do
  local part = redis.call('MGET', unpack(KEYS, lo, math.min(lo + 999, #KEYS)))
  for j = 1, #part do vals[lo + j - 1] = part[j] end
end
local added = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  if not vals[i] then
    local ttl = ARGV[2*i-1]
    if added[k] then
      vals[i] = added[k]
    elseif ttl ~= '-1' then
      local ok
      if ttl == '0' then ok = redis.call('SET', k, ARGV[2*i], 'NX') else ok = redis.call('SET', k, ARGV[2*i], 'NX', 'PX', ttl) end
      if ok then added[k] = ARGV[2*i] else vals[i] = redis.call('GET', k) end
    end
  end
end
return vals
`

// casMultiScript: swaps KEYS[i] from ARGV[3i-2] to ARGV[3i-1] with the TTL
// ARGV[3i] when it holds exactly the old text, in order. Returns 1 or 0
// per key.
const casMultiScript = `local out = {}
for i = 1, #KEYS do
  local b = 3*(i-1)
  if redis.call('GET', KEYS[i]) == ARGV[b+1] then
    if ARGV[b+3] == '0' then redis.call('SET', KEYS[i], ARGV[b+2]) else redis.call('SET', KEYS[i], ARGV[b+2], 'PX', ARGV[b+3]) end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`

// keyLockingShebang declares that a script touches only its KEYS, so that
// Upstash locks only those keys while it runs.
const keyLockingShebang = "#!lua flags=allow-key-locking\n"

// script is one Lua script and what the provider knows of the server's
// script cache.
type script struct {
	src string
	sha string // hex SHA-1 of src, for EVALSHA
	// loaded is set once the server ran the script: EVALSHA is tried
	// first from then on, EVAL (which loads it) before.
	loaded atomic.Bool
}

func newScript(body string, keyLocking bool) *script {
	src := body
	if keyLocking {
		src = keyLockingShebang + body
	}
	h := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(h[:])}
}

// eval runs s with keys and the arguments args appends (each preceded by
// a comma): one billed command, EVALSHA once the server knows the script
// and EVAL before. A NOSCRIPT answer (the server lost its script cache)
// means nothing ran, so the script is sent again at once with EVAL.
// Scripts write, so a request that failed ambiguously is never sent again.
func (p *Provider) eval(ctx context.Context, s *script, keys []string, args func(b []byte) []byte) (value, error) {
	n := 0
	for _, k := range keys {
		n += len(k) + 8
	}
	tail := strconv.AppendInt(make([]byte, 0, n+64), int64(len(keys)), 10)
	for _, k := range keys {
		tail = appendKey(append(tail, ','), k)
	}
	tail = args(tail)
	build := func(sha bool) []byte {
		var c *cmdBuf
		if sha {
			c = newCmd("EVALSHA", len(tail)+48).str(s.sha)
		} else {
			c = newCmd("EVAL", len(tail)+len(s.src)+16).str(s.src)
		}
		c.b = append(append(c.b, ','), tail...)
		return c.done()
	}
	useSHA := s.loaded.Load()
	o, err := p.send(ctx, &call{cmd: build(useSHA)})
	if err == nil && o.isErr && useSHA && strings.HasPrefix(o.err, "NOSCRIPT") {
		s.loaded.Store(false)
		o, err = p.send(ctx, &call{cmd: build(false)})
	}
	if err != nil {
		return value{}, err
	}
	if o.isErr {
		return value{}, serverError(o.err)
	}
	s.loaded.Store(true)
	return o.val, nil
}
