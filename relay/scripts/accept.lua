-- Accept a message: store it, queue it unless its recipient is suppressed for the
-- account, count it against the rate, and record `accepted` (and `suppressed`) events.
-- One atomic script: all of it is written (and, with appendfsync always, on disk) or none.
-- KEYS[1] message hash  KEYS[2] queue stream  KEYS[3] rate counter  KEYS[4] suppression set
-- KEYS[5] day counters  KEYS[6] message timeline  KEYS[7] the account's rules version
-- KEYS[8] the account's message index  KEYS[9] the account's index for this recipient
-- ARGV[1] message id  ARGV[2] recipient (lower case)  ARGV[3] rate counter ttl
-- ARGV[4] accepted event JSON  ARGV[5] suppressed event JSON
-- ARGV[6] the rules version the transaction was judged by  ARGV[7] raw message
-- ARGV[8] when it was received (Unix seconds)  ARGV[9..] field, value pairs of the message hash
-- Returns 0 (queued), 1 (suppressed: stored, not queued) or -1 (rules changed: nothing
-- written; judge the transaction again by the current rules).

-- Idempotent: a client library that resends the call after a broken connection must not
-- queue the message twice. Message ids are unique, so an existing hash means "done".
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HGET', KEYS[1], 'status') == 'suppressed' and 1 or 0
end
if (redis.call('GET', KEYS[7]) or '') ~= ARGV[6] then
  return -1
end
local suppressed = redis.call('SISMEMBER', KEYS[4], ARGV[2]) == 1
local fields = {}
for i = 9, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
if suppressed then
  redis.call('HSET', KEYS[1], 'status', 'suppressed', unpack(fields))
else
  redis.call('HSET', KEYS[1], 'status', 'queued', 'data', ARGV[7], unpack(fields))
  redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
end
-- Each counter is a window's own key: its expiry is set once, when the window opens.
if redis.call('INCR', KEYS[3]) == 1 then
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[3]))
end
-- The search indexes of /v1/messages, kept as long as the timeline (RETENTION_TIMELINE,
-- from the record_event library): older members are dropped, so each index stays bounded.
local received = tonumber(ARGV[8])
for _, index in ipairs({KEYS[8], KEYS[9]}) do
  redis.call('ZADD', index, received, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', index, '-inf', '(' .. (received - RETENTION_TIMELINE))
  redis.call('EXPIRE', index, RETENTION_TIMELINE)
end
record_event(KEYS[5], KEYS[6], '', 'accepted', ARGV[4])
if suppressed then
  record_event(KEYS[5], KEYS[6], '', 'suppressed', ARGV[5])
  return 1
end
return 0
