-- Keep a live worker's claims alive: reset the idle time of each entry it still owns, so
-- no other worker takes over a slow delivery. An entry another worker took over is left
-- alone and reported, so its first owner does not go on to send it.
-- KEYS[1] queue stream  ARGV[1] consumer group  ARGV[2] consumer  ARGV[3..] entry ids
-- Returns the entry ids this consumer no longer owns.
local lost = {}
for i = 3, #ARGV do
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if pending[1] and pending[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
