-- ARGV: the target's fingerprint, its owner's. KEYS[1]: the prefix.
local P = KEYS[1]
if redis.call('SADD', P .. 'seen', ARGV[1]) == 1 then
  redis.call('HSET', P .. 'owner', ARGV[1], ARGV[2])
  return 1
end
if redis.call('HGET', P .. 'owner', ARGV[1]) == ARGV[2] then return 1 end
return 0
