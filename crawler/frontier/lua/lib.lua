-- Shared by every script (prepended to it): the key prefix, Redis's clock, scheduling a host, ending a lease.
local P = KEYS[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function schedule(host, per_host, now)
  if redis.call('ZSCORE', P .. 'ready', host) then return end
  if redis.call('LLEN', P .. 'q:' .. host) == 0 then return end
  if tonumber(redis.call('HGET', P .. 'busy', host) or '0') >= per_host then return end
  local nxt = tonumber(redis.call('HGET', P .. 'next', host) or '0')
  redis.call('ZADD', P .. 'ready', math.max(now, nxt), host)
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
