-- Record a report that arrived by mail about a sent message: a bounce or a complaint.
-- KEYS[1] message hash  KEYS[2] suppression set  KEYS[3] day counters  KEYS[4] timeline
-- KEYS[5] account log ('' for none)
-- ARGV[1] kind: bounced | complained  ARGV[2] '1' to suppress the recipient
-- ARGV[3] counter name  ARGV[4] event JSON  ARGV[5] recipient (lower case)
-- ARGV[6] bounce type: hard | soft ('' for a complaint)  ARGV[7] time (epoch s)
-- Returns 1 when recorded, 0 when the message record is gone (nothing written).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
if ARGV[1] == 'bounced' then
  -- A later report of a message that was delivered: its final word is the bounce.
  redis.call('HSET', KEYS[1], 'status', 'bounced', 'bounce', ARGV[6], 'bounced_at', ARGV[7])
else
  redis.call('HSET', KEYS[1], 'complained_at', ARGV[7])
end
if ARGV[2] == '1' then
  redis.call('SADD', KEYS[2], ARGV[5])
end
record_event(KEYS[3], KEYS[4], KEYS[5], ARGV[3], ARGV[4])
return 1
