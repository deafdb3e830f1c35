-- Record a batch of events: day counters, the message timeline, the problem log.
-- Every event costs O(1). Keys may be "" where an event has no such part.
-- For each event i (0-based), KEYS[3i+1] day hash, KEYS[3i+2] timeline list,
-- KEYS[3i+3] log stream; ARGV[1] day ttl, ARGV[2] timeline ttl, ARGV[3] log maxlen,
-- then per event ARGV[4+2i] event name, ARGV[5+2i] event JSON.
local day_ttl, timeline_ttl, log_maxlen = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
for i = 0, (#KEYS / 3) - 1 do
  local day, timeline, log = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local name, json = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  if day ~= '' then
    redis.call('HINCRBY', day, name, 1)
    redis.call('EXPIRE', day, day_ttl)
  end
  if timeline ~= '' then
    redis.call('RPUSH', timeline, json)
    redis.call('EXPIRE', timeline, timeline_ttl)
  end
  if log ~= '' then
    redis.call('XADD', log, 'MAXLEN', '~', log_maxlen, '*', 'event', json)
  end
end
return #KEYS / 3
