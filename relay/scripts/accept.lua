-- Store an accepted message, queue it unless suppressed, and count it against the rate.
-- Atomic: either all of it is written (and, with appendfsync always, on disk) or none.
-- KEYS[1] message hash   KEYS[2] queue stream   KEYS[3] rate counter
-- ARGV[1] message id     ARGV[2] status ("queued" or "suppressed")
-- ARGV[3] rate counter ttl (seconds)
-- ARGV[4..] field, value pairs of the message hash
local fields = {}
for i = 4, #ARGV do
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], unpack(fields))
if ARGV[2] == 'queued' then
  redis.call('XADD', KEYS[2], '*', 'id', ARGV[1])
end
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[3]))
return 1
