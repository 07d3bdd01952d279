local per_host = tonumber(ARGV[1])
local now = now_ms()
for i = 2, #ARGV do
  local payload = redis.call('HGET', P .. 'lease', ARGV[i])
  local host = drop_lease(ARGV[i], per_host, now)
  if payload and host then requeue(host, payload, 0, per_host, now) end
end
return 1
