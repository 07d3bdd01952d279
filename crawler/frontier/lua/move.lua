-- On a Redis Cluster, a request redirected to a host of this part from a lease in another part:
-- queued here first (retry.lua then ends the lease there), once per token, so a call tried
-- again after its reply was lost queues nothing more.
-- ARGV: per_host, host, payload, wait (ms), token, how long the token is kept (ms).
local per_host, host, payload, wait = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
if not redis.call('SET', P .. 'moved:' .. ARGV[5], 1, 'NX', 'PX', ARGV[6]) then return 0 end
requeue(host, payload, wait, per_host, now_ms())
return 1
