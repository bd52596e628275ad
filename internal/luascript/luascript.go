// Package luascript holds the Lua scripts that the two Redis providers
// (provider/redis over go-redis, provider/rueidis) run, so that both run
// the same text: the same SHA1 on the server, the same semantics. Each
// provider wraps them in its client's script type (EVALSHA, then EVAL after
// NOSCRIPT). provider/upstash has its own variants, which carry Upstash's
// allow-key-locking header and handle its base64 values.
package luascript

// CompareAndSwap swaps KEYS[1] from ARGV[1] to ARGV[2] with a TTL of ARGV[3]
// milliseconds (0: no expiry) and answers 1, or answers 0 when the key does
// not hold exactly ARGV[1]. One key, so it runs on a Cluster too.
const CompareAndSwap = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  if ARGV[3] == '0' then
    redis.call('SET', KEYS[1], ARGV[2])
  else
    redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  end
  return 1
end
return 0
`

// GetAddMulti reads every key of KEYS with one MGET and, for a missing key
// i whose ARGV[2i-1] is not "-1", sets it to ARGV[2i] with PX ARGV[2i-1]
// (0: no expiry) and NX. A missing key answers false (a nil reply). Fetches
// apply in order: a key added by an earlier fetch reads as what it added.
// MGET reads a key of another type as missing; SET NX then refuses it, and
// the GET that follows fails with WRONGTYPE. Its keys must share a slot (one
// standalone or Sentinel server).
const GetAddMulti = `
local vals = redis.call('MGET', unpack(KEYS))
local added = {}
for i, k in ipairs(KEYS) do
  if not vals[i] then
    local ttl = ARGV[2*i-1]
    if added[k] then
      vals[i] = added[k]
    elseif ttl ~= '-1' then
      local ok
      if ttl == '0' then
        ok = redis.call('SET', k, ARGV[2*i], 'NX')
      else
        ok = redis.call('SET', k, ARGV[2*i], 'NX', 'PX', ttl)
      end
      if ok then
        added[k] = ARGV[2*i]
      else
        vals[i] = redis.call('GET', k)
      end
    end
  end
end
return vals
`

// CompareAndSwapMulti swaps every key of KEYS from ARGV[3i-2] to ARGV[3i-1]
// with PX ARGV[3i] (0: no expiry) when it holds exactly the old value, in
// order, and answers 1 or 0 per key. Its keys must share a slot.
const CompareAndSwapMulti = `
local out = {}
for i, k in ipairs(KEYS) do
  local b = 3*(i-1)
  if redis.call('GET', k) == ARGV[b+1] then
    if ARGV[b+3] == '0' then
      redis.call('SET', k, ARGV[b+2])
    else
      redis.call('SET', k, ARGV[b+2], 'PX', ARGV[b+3])
    end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
`
