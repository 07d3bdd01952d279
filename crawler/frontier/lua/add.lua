-- ARGV: per_host, queue (1/0), limit (-1: none), the fingerprints (signed decimals, space-separated),
-- a JSON list of [host, request JSON, front (1/0)] in the same order, and the crawl's budget
-- (--max-pages; -1: none): URLs accepted by every process are counted in 'accepted', never
-- past the budget; for a crawl begun by 0.1, its fingerprints in that form (8 bytes each, in
-- the same order): a URL its seen set has is seen.
local per_host, queue, limit, fps = tonumber(ARGV[1]), ARGV[2] == '1', tonumber(ARGV[3]), ARGV[4]
local items = cjson.decode(ARGV[5])
local budget = tonumber(ARGV[6] or '-1')
local legacy = ARGV[7]
if budget >= 0 then
  local room = budget - tonumber(redis.call('GET', P .. 'accepted') or '0')
  if room < 0 then room = 0 end
  if limit < 0 or room < limit then limit = room end
end
local out, n, hosts, i = {}, 0, {}, 0
seen_begin()
for fp in string.gmatch(fps, '%S+') do
  i = i + 1
  if limit >= 0 and n >= limit then break end
  if seen_add(fp) == 1 and not (legacy and
      redis.call('SISMEMBER', P .. 'seen', string.sub(legacy, 8 * i - 7, 8 * i)) == 1) then
    n = n + 1
    out[#out + 1] = i - 1
    if queue then
      local item = items[i]
      local host = item[1]
      if item[3] == 1 then
        redis.call('LPUSH', P .. 'q:' .. host, item[2])
        hosts[host] = hosts[host] or {}
      else  -- pushed below, one RPUSH a host
        local tail = hosts[host]
        if tail == nil then tail = {}; hosts[host] = tail end
        tail[#tail + 1] = item[2]
      end
    end
  end
end
for host, tail in pairs(hosts) do
  for j = 1, #tail, 1000 do
    redis.call('RPUSH', P .. 'q:' .. host, unpack(tail, j, math.min(j + 999, #tail)))
  end
end
seen_end()
if n > 0 then redis.call('INCRBY', P .. 'accepted', n) end
if next(hosts) ~= nil then
  redis.call('INCRBY', P .. 'queued', #out)
  local now = now_ms()
  for host in pairs(hosts) do schedule(host, per_host, now, true) end
end
return out
