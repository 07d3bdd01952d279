-- ARGV: the target's fingerprint, its owner's (signed decimals).
seen_begin()
local new = seen_add(ARGV[1])
seen_end()
if new == 1 then
  redis.call('HSET', P .. 'owner', ARGV[1], ARGV[2])
  return 1
end
if redis.call('HGET', P .. 'owner', ARGV[1]) == ARGV[2] then return 1 end
return 0
