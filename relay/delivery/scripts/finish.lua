-- Record the outcome of a delivery attempt and acknowledge its queue entry, atomically.
-- KEYS[1] message hash  KEYS[2] queue stream  KEYS[3] retry set  KEYS[4] suppression set
-- KEYS[5] day counters  KEYS[6] message timeline  KEYS[7] account log ('' for none)
-- KEYS[8] hosted copy  KEYS[9] original links
-- ARGV[1] outcome: delivered | bounced | deferred | suppressed
-- ARGV[2] stream entry id  ARGV[3] consumer group  ARGV[4] message id
-- ARGV[5] counter name  ARGV[6] event JSON  ARGV[7] recipient (lower case)
-- ARGV[8] '1' for a hard bounce  ARGV[9] next attempt (epoch s, deferred only)
-- ARGV[10] retention of a finished message (s)  ARGV[11] retention of the hosted copy (s)
-- ARGV[12] hosted copy bytes ('' for none)  ARGV[13] the outcome's time (epoch s)
-- ARGV[14..] original links
-- DELIVERY_LATENCY and LATENCY_BUCKETS (set by the caller chunk): a histogram of the time
-- from acceptance to delivery, across all accounts, for /metrics.
-- Returns 1 when recorded, 0 when the message was already finished (by a worker that took
-- it over, or before a crash between this script and the ack): then only the ack happens,
-- so an outcome is never counted twice.

local function ack()
  redis.call('XACK', KEYS[2], ARGV[3], ARGV[2])
  redis.call('XDEL', KEYS[2], ARGV[2])
end

local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' and status ~= 'deferred' then
  ack()
  return 0
end
local outcome = ARGV[1]
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if outcome == 'deferred' then
  redis.call('HSET', KEYS[1], 'status', 'deferred', 'next_attempt', ARGV[9])
  redis.call('ZADD', KEYS[3], ARGV[9], ARGV[4])
else
  redis.call('HSET', KEYS[1], 'status', outcome, outcome .. '_at', ARGV[13])
  redis.call('HDEL', KEYS[1], 'data', 'next_attempt')
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[10]))
  if outcome == 'bounced' then
    redis.call('HSET', KEYS[1], 'bounce', ARGV[8] == '1' and 'hard' or 'soft')
    if ARGV[8] == '1' then
      redis.call('SADD', KEYS[4], ARGV[7])
    end
  elseif outcome == 'delivered' then
    local latency = tonumber(ARGV[13]) - (tonumber(redis.call('HGET', KEYS[1], 'received')) or
                                          tonumber(ARGV[13]))
    local bucket = '+Inf'
    for _, bound in ipairs(LATENCY_BUCKETS) do
      if latency <= bound then
        bucket = tostring(bound)
        break
      end
    end
    redis.call('HINCRBY', DELIVERY_LATENCY, 'le:' .. bucket, 1)
    redis.call('HINCRBY', DELIVERY_LATENCY, 'count', 1)
    redis.call('HINCRBYFLOAT', DELIVERY_LATENCY, 'sum', latency)
    if ARGV[12] ~= '' then
      redis.call('SET', KEYS[8], ARGV[12], 'EX', tonumber(ARGV[11]))
    end
    redis.call('DEL', KEYS[9])
    if #ARGV >= 14 then
      redis.call('RPUSH', KEYS[9], unpack(ARGV, 14))
      redis.call('EXPIRE', KEYS[9], tonumber(ARGV[11]))
    end
  end
end
record_event(KEYS[5], KEYS[6], KEYS[7], ARGV[5], ARGV[6])
ack()
return 1
