-- On a Redis Cluster, the crawl's budget (--max-pages) is reserved here, in the crawl's own slot,
-- before the parts are asked to accept URLs, and what they turned away is given back.
-- Without a budget (-1), URLs accepted are counted all the same (a later process may have one).
-- ARGV: n (> 0: reserve up to n URLs; < 0: give -n back), the budget. Returns what was reserved.
local n, budget = tonumber(ARGV[1]), tonumber(ARGV[2])
local key = P .. 'accepted'
if budget < 0 then return redis.call('INCRBY', key, n) end
if n < 0 then
  redis.call('DECRBY', key, -n)
  return 0
end
local room = budget - tonumber(redis.call('GET', key) or '0')
if room < n then n = math.max(room, 0) end
if n > 0 then redis.call('INCRBY', key, n) end
return n
