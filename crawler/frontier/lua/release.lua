local per_host = tonumber(ARGV[1])
local now = now_ms()
for i = 2, #ARGV do
  local host = redis.call('HGET', P .. 'lhost', ARGV[i])
  if host and redis.call('HDEL', P .. 'slot', ARGV[i]) == 1 then
    redis.call('HINCRBY', P .. 'busy', host, -1)
    schedule(host, per_host, now)
  end
end
return 1
