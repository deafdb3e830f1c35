-- Move deferred messages whose next attempt is due back into the queue, atomically, so two
-- workers running this at once never queue one message twice.
-- KEYS[1] retry set  KEYS[2] queue stream  ARGV[1] now (epoch s)  ARGV[2] most to move
-- Returns how many were moved.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('XADD', KEYS[2], '*', 'id', id)
end
return #due
