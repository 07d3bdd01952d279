-- ARGV: the target's fingerprint, its owner's (signed decimals); for a crawl begun by 0.1,
-- both in that form too (its seen set and owners are asked as well).
seen_begin()
local new = seen_add(ARGV[1])
seen_end()
local old, old_owner = ARGV[3], ARGV[4]
if old and redis.call('SISMEMBER', P .. 'seen', old) == 1 then  -- seen by the 0.1 run
  if redis.call('HGET', P .. 'owner', old) == old_owner then return 1 end
  if redis.call('HGET', P .. 'owner', ARGV[1]) == ARGV[2] then return 1 end
  return 0
end
if new == 1 then
  redis.call('HSET', P .. 'owner', ARGV[1], ARGV[2])
  return 1
end
if redis.call('HGET', P .. 'owner', ARGV[1]) == ARGV[2] then return 1 end
return 0
