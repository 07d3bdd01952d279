local per_host = tonumber(ARGV[1])
local now, done = nil, 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('HDEL', P .. 'lease', id) == 1 then  -- still leased (not run out, not given back)
    done = done + 1
    redis.call('ZREM', P .. 'leases', id)
    if redis.call('HDEL', P .. 'slot', id) == 1 then  -- its slot was not released: do it now
      local host = redis.call('HGET', P .. 'lhost', id)
      redis.call('HINCRBY', P .. 'busy', host, -1)
      now = now or now_ms()
      schedule(host, per_host, now)
    end
    redis.call('HDEL', P .. 'lhost', id)
  end
end
if done > 0 then redis.call('INCRBY', P .. 'done', done) end
return 1
