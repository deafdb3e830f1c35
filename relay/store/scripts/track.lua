-- Record a reader's open, click or unsubscribe of a delivered message, atomically.
-- KEYS[1] message hash  KEYS[2] day counters  KEYS[3] message timeline
-- KEYS[4] original links (click) | suppression set (unsubscribe) | '' (open)
-- ARGV[1] action: open | click | unsubscribe  ARGV[2] account the caller read the message as
-- ARGV[3] event name  ARGV[4] event JSON, not unique  ARGV[5] event JSON, unique
-- ARGV[6] '1' for a prefetch  ARGV[7] when (epoch s)
-- ARGV[8] click: link index; unsubscribe: recipient (lower case)
-- ARGV[9] click: the link the caller read at that index
-- Returns -1 when nothing was recorded (the message or its link is gone, or changed since
-- the caller read it), 1 when the hit was the message's first unique one (or its first
-- unsubscribe), 0 otherwise.

if redis.call('HGET', KEYS[1], 'account') ~= ARGV[2] then
  return -1
end
local action = ARGV[1]
if action == 'click' then
  -- The caller built the event with the link it read; the list is written once per
  -- delivery, so a different value means a redelivery happened in between.
  if redis.call('LINDEX', KEYS[4], tonumber(ARGV[8])) ~= ARGV[9] then
    return -1
  end
end

if action == 'unsubscribe' then
  -- Always honoured, even when the address was taken off the list since: the reader
  -- asked again. Counted once per message.
  redis.call('SADD', KEYS[4], ARGV[8])
  if redis.call('HSETNX', KEYS[1], 'unsubscribed_at', ARGV[7]) == 0 then
    return 0
  end
  record_event(KEYS[2], KEYS[3], '', ARGV[3], ARGV[4])
  return 1
end

local unique = 0
if ARGV[6] ~= '1' then
  unique = redis.call('HSETNX', KEYS[1], 'first_' .. action, ARGV[7])
end
if unique == 1 then
  record_event(KEYS[2], KEYS[3], '', ARGV[3], ARGV[5])
  redis.call('HINCRBY', KEYS[2], ARGV[3] .. '_unique', 1)
else
  record_event(KEYS[2], KEYS[3], '', ARGV[3], ARGV[4])
end
return unique
