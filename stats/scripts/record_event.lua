-- record_event(day, timeline, log, name, json): the write of one event, O(1).
-- A library chunk: relay scripts that change state prepend it and call it, so the state
-- change and its event commit in one atomic script. Keys may be '' where an event has no
-- such part. RETENTION_DAY, RETENTION_TIMELINE, LOG_MAXLEN, TOTALS and REJECTIONS are set by
-- the caller chunk. TOTALS and REJECTIONS count across all accounts, for /metrics.
local function record_event(day, timeline, log, name, json)
  redis.call('HINCRBY', TOTALS, name, 1)
  if name == 'rejected' then
    local ok, event = pcall(cjson.decode, json)
    if ok and type(event.detail) == 'table' then
      local code = string.sub(tostring(event.detail.reply or ''), 1, 3)
      redis.call('HINCRBY', REJECTIONS, code .. ' ' .. tostring(event.detail.reason or ''), 1)
    end
  end
  if day ~= '' then
    redis.call('HINCRBY', day, name, 1)
    redis.call('EXPIRE', day, RETENTION_DAY)
  end
  if timeline ~= '' then
    redis.call('RPUSH', timeline, json)
    redis.call('EXPIRE', timeline, RETENTION_TIMELINE)
  end
  if log ~= '' then
    redis.call('XADD', log, 'MAXLEN', '~', LOG_MAXLEN, '*', 'event', json)
  end
end
