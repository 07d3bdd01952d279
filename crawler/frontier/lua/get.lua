local per_host, lease_ms, max_lost, worker, delay_ms =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local now = now_ms()
redis.call('HSET', P .. 'workers', worker, now)
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. 'leases', '-inf', now, 'LIMIT', 0, 100)) do
  local payload = redis.call('HGET', P .. 'lease', id)
  local host = drop_lease(id, per_host, now)
  if payload and host then
    local again, lost = lost_again(payload)
    if lost > max_lost then
      redis.call('RPUSH', P .. 'dead', again)
    else
      requeue(host, again, 0, per_host, now)
    end
  end
end
local queued = tonumber(redis.call('GET', P .. 'queued') or '0')
local first = redis.call('ZRANGE', P .. 'ready', 0, 0, 'WITHSCORES')
if #first == 0 then
  if queued == 0 and redis.call('ZCARD', P .. 'leases') == 0 then
    return {'done', 0, queued, tonumber(redis.call('GET', P .. 'lid') or '0')}  -- lid: for a cluster's end
  end
  local lease = redis.call('ZRANGE', P .. 'leases', 0, 0, 'WITHSCORES')
  local wait = 1000
  if #lease > 0 then wait = math.max(0, tonumber(lease[2]) - now) end
  return {'wait', wait, queued}
end
local out = {'lease', 0, queued}
local count = tonumber(ARGV[6])
local lid = redis.call('INCRBY', P .. 'lid', count) - count  -- ids for this call (unused ones are skipped)
local delays, leased = {}, 0
for _ = 1, count do
  local host, at = first[1], tonumber(first[2])
  if at > now then
    if #out == 3 then return {'wait', at - now, queued} end
    break
  end
  local q = P .. 'q:' .. host
  local payload = redis.call('LPOP', q)
  redis.call('ZREM', P .. 'ready', host)
  if payload then
    leased = leased + 1
    local busy = redis.call('HINCRBY', P .. 'busy', host, 1)
    local delay = delays[host]
    if delay == nil then
      delay = tonumber(redis.call('HGET', P .. 'delay', host) or delay_ms)
      delays[host] = delay
    end
    local nxt = math.max(now + delay, tonumber(redis.call('HGET', P .. 'next', host) or '0'))
    redis.call('HSET', P .. 'next', host, nxt)
    -- schedule(), knowing what it would look up: the host just left the ready set.
    if busy < per_host and redis.call('LLEN', q) > 0 then
      redis.call('ZADD', P .. 'ready', math.max(now, nxt), host)
    end
    local id = lid + leased
    redis.call('HSET', P .. 'lease', id, payload)
    redis.call('HSET', P .. 'lhost', id, host)
    redis.call('HSET', P .. 'slot', id, 1)
    redis.call('ZADD', P .. 'leases', now + lease_ms, id)
    out[#out + 1] = id
    out[#out + 1] = payload
  end
  first = redis.call('ZRANGE', P .. 'ready', 0, 0, 'WITHSCORES')
  if #first == 0 then break end
end
if leased > 0 then queued = redis.call('DECRBY', P .. 'queued', leased) end
out[3] = queued
if #out == 3 then return {'wait', 0, queued} end
return out
