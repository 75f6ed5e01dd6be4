-- task_finish: a worker records the outcome of the task it ran. The write happens only if the
-- task is still RUNNING on this worker: a task that was meanwhile declared DIED (lost worker),
-- cancelled or deleted keeps that outcome, and the late result is dropped.
--
-- KEYS[1] task:status      KEYS[2] task:worker      KEYS[3] task:result
-- KEYS[4] task:time_complete                        KEYS[5] worker:task
-- KEYS[6] worker:status    KEYS[7] worker:<id>:log
-- ARGV[1] task id          ARGV[2] worker id        ARGV[3] final status (COMPLETE, ERROR, ...)
-- ARGV[4] result bytes ("" for none: DIED, TIMEOUT, CANCELLED)     ARGV[5] channel to publish "<task id> <status>" on when done
--
-- Returns:  1 written;  -1 the task is no longer RUNNING on this worker (nothing written
-- to the task; the worker's own bookkeeping is still cleared).

--#include now
local id, w, status = ARGV[1], ARGV[2], ARGV[3]
local time = now()

local result = -1
if redis.call('HGET', KEYS[1], id) == 'RUNNING' and redis.call('HGET', KEYS[2], id) == w then
  redis.call('HSET', KEYS[1], id, status)
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[3], id, ARGV[4])
  end
  redis.call('HSET', KEYS[4], id, time)
  redis.call('PUBLISH', ARGV[5], id .. ' ' .. status)
  result = 1
end

if redis.call('HGET', KEYS[5], w) == id then
  redis.call('HDEL', KEYS[5], w)
end
if redis.call('HGET', KEYS[6], w) == 'BUSY' then
  redis.call('HSET', KEYS[6], w, 'IDLE')
end
redis.call('RPUSH', KEYS[7], time .. ' TASK_' .. status .. ' ' .. id)
return result
