local per_host, id, host, payload, wait = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local now = now_ms()
-- A lease that is gone was retried already (this call again, its first reply lost) or ran out
-- and went back to the queue: pushing the request again would queue it twice.
if id ~= '0' and redis.call('HEXISTS', P .. 'lease', id) == 0 then return 0 end
drop_lease(id, per_host, now)
redis.call('LPUSH', P .. 'q:' .. host, payload)
redis.call('INCR', P .. 'queued')
if wait > 0 then
  local nxt = math.max(now + wait, tonumber(redis.call('HGET', P .. 'next', host) or '0'))
  redis.call('HSET', P .. 'next', host, nxt)
  if redis.call('ZSCORE', P .. 'ready', host) then redis.call('ZADD', P .. 'ready', nxt, host) end
end
schedule(host, per_host, now)
return 1
