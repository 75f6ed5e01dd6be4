-- task_cancel: cancel a task. A queued (or DEFERRED) task becomes CANCELLED and leaves its queue in
-- one step, so a worker either claimed it first (it is RUNNING) or never will; its dependents become
-- IMPOSSIBLE. A RUNNING separate-process task is
-- marked for its worker to kill; an in-process one cannot be stopped safely.
--
-- KEYS[1] task:status   KEYS[2] task:local   KEYS[3] task:worker   KEYS[4] task:time_complete
-- KEYS[5] task:cancel   KEYS[6] queue_skip   KEYS[7] task:depends_down
-- KEYS[8] task:depends_left   KEYS[9] delayed:<the task's queue> (a retry waiting for its delay)
-- KEYS[10] queue_skip_count   KEYS[11] task:claim   then RrqKeys.FinishedBlock
-- ARGV[1] task id       ARGV[2] channel to publish "<task id> CANCELLED" on   ARGV[3] the task's queue name
-- ARGV[4] this call's token (fresh per TaskCancel call, the same when the call is sent again after a lost reply): kept
--         in task:cancel by the call that asks for the cancel, so that a repeat of that call can be told from a new one
-- A queued task's id is not searched for in its list (a scan of the whole queue): it goes in queue_skip, and the
-- claim step drops it when it reaches the head.
--
-- Returns: {1} cancelled now, or by this very call before its reply was lost (a repeat says what the first try did);
--          {2, worker} its worker was asked to kill it (by this call, or by its first try);
--          {0, status} nothing to do, nothing written: finished (CANCELLED by another call included), MOVED, or
--          RUNNING with its kill asked for by another call;
--          {-1} no such task;
--          {-3, worker} RUNNING in its worker's own process (nothing changed).

--#include publish
--#include now
--#include fail_dependents
--#include handoff
local id = ARGV[1]
local status = redis.call('HGET', KEYS[1], id)
if not status then
  return {-1}
end
if status == 'CANCELLED' then
  if redis.call('HGET', KEYS[5], id) == ARGV[4] then
    return {1}
  end
  return {0, status}
end
if status == 'PENDING' or status == 'DEFERRED' then
  local time = now()
  if status == 'PENDING' and handed(KEYS[11], id) then
    -- Handed to a worker that has not started it (include/handoff.lua): in no list. Its take-up will fail.
    redis.call('HDEL', KEYS[11], id)
    redis.call('HDEL', KEYS[3], id)
  elseif status == 'PENDING' and redis.call('ZREM', KEYS[9], id) == 0 and redis.call('SADD', KEYS[6], id) == 1 then
    redis.call('HINCRBY', KEYS[10], ARGV[3], 1)
  end
  redis.call('HSET', KEYS[1], id, 'CANCELLED')
  redis.call('HSET', KEYS[4], id, time)
  redis.call('HSET', KEYS[5], id, ARGV[4])
  publish(ARGV[2], id .. ' CANCELLED')
  redis.call('HDEL', KEYS[8], id)
  finished(id, 'CANCELLED', time)
  fail_dependents(KEYS[7], KEYS[1], KEYS[4], ARGV[2], id, time)
  return {1}
end
if status == 'RUNNING' then
  local worker = redis.call('HGET', KEYS[3], id) or ''
  if redis.call('HGET', KEYS[2], id) == 'FALSE' then
    local asked = redis.call('HGET', KEYS[5], id)
    if asked and asked ~= ARGV[4] then
      return {0, 'RUNNING'}   -- another call asked already: its kill is on the way, and this call changes nothing
    end
    redis.call('HSET', KEYS[5], id, ARGV[4])
    return {2, worker}
  end
  return {-3, worker}
end
return {0, status}
