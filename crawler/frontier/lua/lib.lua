-- Shared by every script (prepended to it): the key prefix, Redis's clock, scheduling a host, ending a lease.
local P = KEYS[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function schedule(host, per_host, now, queued)  -- queued: the host's queue is known not empty
  if redis.call('ZSCORE', P .. 'ready', host) then return end
  if not queued and redis.call('LLEN', P .. 'q:' .. host) == 0 then return end
  if tonumber(redis.call('HGET', P .. 'busy', host) or '0') >= per_host then return end
  local nxt = tonumber(redis.call('HGET', P .. 'next', host) or '0')
  redis.call('ZADD', P .. 'ready', math.max(now, nxt), host)
end
local function requeue(host, payload, wait, per_host, now)  -- at the head of its host's queue, not before wait ms
  redis.call('LPUSH', P .. 'q:' .. host, payload)
  redis.call('INCR', P .. 'queued')
  if wait > 0 then
    local nxt = math.max(now + wait, tonumber(redis.call('HGET', P .. 'next', host) or '0'))
    redis.call('HSET', P .. 'next', host, nxt)
    if redis.call('ZSCORE', P .. 'ready', host) then redis.call('ZADD', P .. 'ready', nxt, host) end
  end
  schedule(host, per_host, now)
end
local function drop_lease(id, per_host, now)
  local host = redis.call('HGET', P .. 'lhost', id)
  redis.call('ZREM', P .. 'leases', id)
  redis.call('HDEL', P .. 'lease', id)
  redis.call('HDEL', P .. 'lhost', id)
  if host and redis.call('HDEL', P .. 'slot', id) == 1 then
    redis.call('HINCRBY', P .. 'busy', host, -1)
    schedule(host, per_host, now)
  end
  return host
end
-- The seen set: 64-bit fingerprints (signed decimals) in small sets of integers, which Redis keeps
-- as packed arrays of 8 bytes a member (up to set-max-intset-entries, 512 by default). Linear
-- hashing keeps them small as the crawl grows: bucket b of level L (key 's:L:b') holds the
-- fingerprints whose top L bits are b; past SEEN_LOAD fingerprints a bucket on average, the
-- bucket at the split pointer is split in two at level L + 1. State: hash 'seenstate'.
local SEEN_LOAD = 160
local TWO63, TOP = 2 ^ 63, 2 ^ 64 - 2 ^ 12
local seen_level, seen_split, seen_count, seen_here, seen_next, seen_div, seen_div2, seen_was
local function seen_at(level, split)  -- the level's key prefixes and divisors, computed once a call
  seen_level, seen_split = level, split
  seen_here, seen_next = P .. 's:' .. level .. ':', P .. 's:' .. (level + 1) .. ':'
  seen_div, seen_div2 = 2 ^ (64 - level), 2 ^ (63 - level)
end
local function seen_begin()
  local s = redis.call('HMGET', P .. 'seenstate', 'level', 'split', 'count')
  seen_at(tonumber(s[1] or '0'), tonumber(s[2] or '0'))
  seen_count = tonumber(s[3] or '0')
  seen_was = seen_count
end
local function seen_top(fp)  -- the fingerprint as an unsigned number (its top 53 bits exact)
  local u = tonumber(fp) + TWO63
  if u > TOP then u = TOP end
  return u
end
local function seen_bucket(fp)
  local u = seen_top(fp)
  local b = math.floor(u / seen_div)
  if b < seen_split then return seen_next .. math.floor(u / seen_div2) end
  return seen_here .. b
end
local function seen_add(fp)  -- 1 when new
  local added = redis.call('SADD', seen_bucket(fp), fp)
  seen_count = seen_count + added
  return added
end
local function seen_end()
  while seen_count > SEEN_LOAD * (2 ^ seen_level + seen_split) do
    local old = seen_here .. seen_split
    local low, high = {}, {}
    for _, fp in ipairs(redis.call('SMEMBERS', old)) do
      if math.floor(seen_top(fp) / seen_div2) == 2 * seen_split then
        low[#low + 1] = fp
      else
        high[#high + 1] = fp
      end
    end
    redis.call('DEL', old)
    for half, members in pairs({[0] = low, [1] = high}) do
      local key = seen_next .. (2 * seen_split + half)
      for i = 1, #members, 1000 do
        redis.call('SADD', key, unpack(members, i, math.min(i + 999, #members)))
      end
    end
    if seen_split + 1 == 2 ^ seen_level then seen_at(seen_level + 1, 0) else seen_split = seen_split + 1 end
  end
  if seen_count ~= seen_was then  -- (a split happens only when the count grows)
    redis.call('HSET', P .. 'seenstate', 'level', seen_level, 'split', seen_split, 'count', seen_count)
  end
end
-- A queued request that lost its lease once more: its text with the count raised, and the count.
-- A compact entry ('~LOST|...', see crawler/frontier/codec.py) keeps it in front; JSON in 'lost'.
local function lost_again(payload)
  local lost, rest = string.match(payload, '^~(%d*)|(.*)$')
  if rest then
    lost = (tonumber(lost) or 0) + 1
    return '~' .. lost .. '|' .. rest, lost
  end
  local r = cjson.decode(payload)
  r['lost'] = (r['lost'] or 0) + 1
  return cjson.encode(r), r['lost']
end
