-- worker_lost: declare a worker LOST because its heartbeat key has expired, and its running task
-- DIED. Re-checks both facts inside the script, so when many sweepers find the same worker only
-- the first acts, and a worker that beat again in the meantime is left alone. A task that already
-- finished is never turned DIED.
--
-- KEYS[1] worker:id      KEYS[2] worker:status   KEYS[3] worker:task
-- KEYS[4] worker:<id>:log KEYS[5] worker:<id>:heartbeat
-- KEYS[6] task:status    KEYS[7] task:worker     KEYS[8] task:time_complete
-- ARGV[1] worker id      ARGV[2] channel to publish "<task id> DIED" on
--
-- Returns: {0} nothing done (not live, or its heartbeat is there); {1, orphaned task id or ''}.
local w = ARGV[1]
if redis.call('SISMEMBER', KEYS[1], w) == 0 or redis.call('EXISTS', KEYS[5]) == 1 then
  return {0}
end
local t = redis.call('TIME')
local now = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
redis.call('SREM', KEYS[1], w)
redis.call('HSET', KEYS[2], w, 'LOST')
local orphan = ''
local id = redis.call('HGET', KEYS[3], w)
if id then
  if redis.call('HGET', KEYS[6], id) == 'RUNNING' and redis.call('HGET', KEYS[7], id) == w then
    redis.call('HSET', KEYS[6], id, 'DIED')
    redis.call('HSET', KEYS[8], id, now)
    redis.call('PUBLISH', ARGV[2], id .. ' DIED')
    redis.call('RPUSH', KEYS[4], now .. ' TASK_DIED ' .. id)
    orphan = id
  end
  redis.call('HDEL', KEYS[3], w)
end
redis.call('RPUSH', KEYS[4], now .. ' LOST')
return {1, orphan}
