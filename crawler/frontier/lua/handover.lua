-- On a Redis Cluster, before a request redirected to a host of another part is queued there
-- (move.lua): its lease here is checked (0: it ran out or was given back, so whoever has the
-- request now moves it) and renewed, so it cannot run out while the request moves; retry.lua
-- ends it once the request is queued there. ARGV: the lease id, its new length (ms).
if redis.call('HEXISTS', P .. 'lease', ARGV[1]) == 0 then return 0 end
redis.call('ZADD', P .. 'leases', now_ms() + tonumber(ARGV[2]), ARGV[1])
return 1
