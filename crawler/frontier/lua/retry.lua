local per_host, id, host, payload, wait = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local now = now_ms()
-- A lease that is gone was retried already (this call again, its first reply lost) or ran out
-- and went back to the queue: pushing the request again would queue it twice.
if id ~= '0' and redis.call('HEXISTS', P .. 'lease', id) == 0 then return 0 end
drop_lease(id, per_host, now)
-- No payload: the request went to another part's queue (move.lua, on a Redis Cluster) and its lease ends here.
if payload ~= '' then requeue(host, payload, wait, per_host, now) end
return 1
