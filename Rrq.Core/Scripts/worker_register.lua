-- worker_register: a worker announces itself and becomes IDLE.
--
-- KEYS[1] worker:id   KEYS[2] worker:status   KEYS[3] worker:task
-- KEYS[4] worker:info KEYS[5] worker:<id>:log  KEYS[6] worker:<id>:heartbeat  KEYS[7] version
-- ARGV[1] worker id   ARGV[2] info (JSON)
-- ARGV[3] heartbeat expiry in ms ("" for no heartbeat): the key is set here, with the
--         registration, so a worker with a heartbeat is never registered without one.
-- ARGV[4] "REJOIN": only register a worker that was declared LOST (it was cut off from Redis, or
--         frozen, for longer than its heartbeat lasts, and is back), or of which the queue has no record at all (the
--         queue's data was lost: a server restarted empty, a failover to a replica that lacked it); "" for a new worker.
--
-- Returns: 1, or -1 when a live worker with that id is already registered, or -2 when asked to
-- rejoin a worker that was stopped (EXITED: it must exit),
-- or -3 when the queue does not exist (destroyed as the worker started: nothing is written).

--#include now
local w = ARGV[1]
if redis.call('EXISTS', KEYS[7]) == 0 then
  return -3
end
if redis.call('SISMEMBER', KEYS[1], w) == 1 then
  -- The same registration sent again after its reply was lost has the same info (pid, start time).
  return redis.call('HGET', KEYS[4], w) == ARGV[2] and 1 or -1
end
local was = redis.call('HGET', KEYS[2], w)
if ARGV[4] == 'REJOIN' and was and was ~= 'LOST' then
  return -2
end
local time = now()
if ARGV[4] == 'REJOIN' and was then
  redis.call('RPUSH', KEYS[5], time .. ' REJOIN declared lost while out of touch; its task, if any, stays DIED')
elseif ARGV[4] == 'REJOIN' then
  redis.call('RPUSH', KEYS[5], time .. ' REJOIN the queue had no record of this worker (its data was lost)')
end
redis.call('SADD', KEYS[1], w)
redis.call('HSET', KEYS[2], w, 'IDLE')
redis.call('HDEL', KEYS[3], w)
redis.call('HSET', KEYS[4], w, ARGV[2])
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[6], ARGV[3], 'PX', tonumber(ARGV[3]))
  redis.call('RPUSH', KEYS[5], time .. ' HEARTBEAT ' .. ARGV[3])
end
redis.call('RPUSH', KEYS[5], time .. ' ALIVE')
return 1
