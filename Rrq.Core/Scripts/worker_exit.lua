-- worker_exit: a worker leaves the pool (it stopped, or it was killed through the API). Its
-- status becomes EXITED, and a task it was still running becomes DIED (its dependents IMPOSSIBLE),
-- in one step, so the task can never stay RUNNING on a worker that is gone.
--
-- KEYS[1] worker:id      KEYS[2] worker:status    KEYS[3] worker:task
-- KEYS[4] worker:<id>:log KEYS[5] task:status     KEYS[6] task:worker
-- KEYS[7] task:time_complete   KEYS[8] worker:<id>:heartbeat   KEYS[9] task:depends_down
-- KEYS[10..24] the retry keys (see include/auto_retry.lua)
-- KEYS[25] queue:<name> and KEYS[26] its delayed set, for the running task's queue ARGV[5]
-- KEYS[27] task:time_start   KEYS[28] task:reason
-- ARGV[1] worker id      ARGV[2] log label (e.g. "STOP OK (BYE)")
-- ARGV[3] channel to publish "<task id> DIED" (or MOVED) on for an orphaned task
-- ARGV[4] an unused task id for an automatic retry   ARGV[5] queue name   ARGV[6] its channel
-- ARGV[7] a task the worker took but never started ("" for none): if it is still RUNNING on this
--         worker it goes back to the front of its queue as PENDING instead of becoming DIED
-- ARGV[8] why a task it was running died, for the task's error
--
-- A worker with no record at all (its queue was destroyed) changes nothing.
--
-- Returns: {was registered (1/0), orphaned task id or ''}, or {-4, queue} (nothing written) when the
-- running task's queue is not ARGV[5].
--#include now
--#include orphan_task

local w = ARGV[1]
if redis.call('SISMEMBER', KEYS[1], w) == 0 and not redis.call('HGET', KEYS[2], w) then
  -- Unknown here: the queue was destroyed under a worker that is now leaving. Write nothing, and
  -- take away the heartbeat key its last beats may have put back.
  redis.call('DEL', KEYS[8])
  return {0, ''}
end
local time = now()
local function qk(name)
  if name == ARGV[5] then
    return { KEYS[25], KEYS[26], ARGV[6] }
  end
  return nil
end
local k = retry_keys(10)
local back = ARGV[7]
if back ~= '' and redis.call('HGET', KEYS[3], w) == back and redis.call('HGET', KEYS[5], back) == 'RUNNING'
    and redis.call('HGET', KEYS[6], back) == w then
  local q = redis.call('HGET', k.queue, back) or 'default'
  if q ~= ARGV[5] then
    return {-4, q}
  end
  redis.call('HSET', KEYS[5], back, 'PENDING')
  redis.call('HDEL', KEYS[6], back)
  redis.call('HDEL', KEYS[27], back)
  redis.call('HDEL', KEYS[3], w)
  if redis.call('LPUSH', KEYS[25], back) == 1 then
    redis.call('PUBLISH', ARGV[6], 1)
  end
  redis.call('RPUSH', KEYS[4], time .. ' TASK_RETURNED ' .. back)
end
local orphan, missing = orphan_task(KEYS[3], KEYS[5], KEYS[6], KEYS[7], KEYS[4], KEYS[9], ARGV[3], w, time,
  k, qk, ARGV[4], { key = KEYS[28], text = ARGV[8] })
if not orphan then
  return {-4, string.sub(missing, 9)}
end
local was = redis.call('SREM', KEYS[1], w)
-- A clean exit removes the heartbeat, so the worker is never mistaken for a lost one.
redis.call('DEL', KEYS[8])
local status = redis.call('HGET', KEYS[2], w)
if status ~= 'LOST' then
  redis.call('HSET', KEYS[2], w, 'EXITED')
end
redis.call('RPUSH', KEYS[4], time .. ' ' .. ARGV[2])
return {was, orphan}
