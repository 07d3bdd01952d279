local host, wait = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local nxt = math.max(now + wait, tonumber(redis.call('HGET', P .. 'next', host) or '0'))
redis.call('HSET', P .. 'next', host, nxt)
if redis.call('ZSCORE', P .. 'ready', host) then redis.call('ZADD', P .. 'ready', nxt, host) end
return 1
