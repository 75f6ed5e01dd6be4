-- worker_lost: declare a worker LOST because its heartbeat key has expired, and every task it was running
-- DIED (and their dependents IMPOSSIBLE); a task handed to it that it never took up (include/handoff.lua) goes back
-- to the front of its queue as PENDING instead, as it never started. Re-checks both facts inside the script, so when many sweepers find the same worker only
-- the first acts, and a worker that beat again in the meantime is left alone. A task that already
-- finished is never turned DIED.
--
-- KEYS[1] worker:id      KEYS[2] worker:status   KEYS[3] worker:task
-- KEYS[4] worker:<id>:log KEYS[5] worker:<id>:heartbeat
-- KEYS[6] task:status    KEYS[7] task:worker     KEYS[8] task:time_complete
-- KEYS[9] task:depends_down    KEYS[10..24] the retry keys (see include/auto_retry.lua)
-- KEYS[25] task:reason   KEYS[26] task:time_start   KEYS[27] task:claim
-- KEYS[28..] queue:<name> and its delayed set, for each queue name in ARGV[6..] (those of the tasks it ran); then
-- RrqKeys.FinishedBlock
-- ARGV[1] worker id      ARGV[2] channel to publish "<task id> DIED" (or MOVED) on
-- ARGV[3] an unused task id for an automatic retry   ARGV[4] the prefix of the queues' channels
-- ARGV[5] why its tasks died, for the tasks' error    ARGV[6..] queue names
--
-- Returns: {0} nothing done (not live, or its heartbeat is there); {1, orphaned task ids (space-separated) or ''};
-- {-4, queue} (nothing written) when a retry needs a queue not passed.
--#include now
--#include orphan_task
--#include handoff

local w = ARGV[1]
if redis.call('SISMEMBER', KEYS[1], w) == 0 or redis.call('EXISTS', KEYS[5]) == 1 then
  return {0}
end
local time = now()
local function qk(name)
  for i = 6, #ARGV do
    if ARGV[i] == name then
      local at = 28 + (i - 6) * 2
      return { KEYS[at], KEYS[at + 1], ARGV[4] .. name, name }
    end
  end
  return nil
end
local back, going = to_put_back({ task_claim = KEYS[27], task_worker = KEYS[7], task_status = KEYS[6] }, w, KEYS[3],
  retry_keys(10).queue, {}, qk)
if not back then
  return {-4, going}
end
local orphan, missing = orphan_tasks(KEYS[3], KEYS[6], KEYS[7], KEYS[8], KEYS[4], KEYS[9], ARGV[2], w, time,
  retry_keys(10), qk, ARGV[3], { key = KEYS[25], text = ARGV[5] }, going)
if not orphan then
  return {-4, string.sub(missing, 9)}
end
put_back({ status = KEYS[6], worker = KEYS[7], time_start = KEYS[26], claim = KEYS[27], front = FRONT }, back, KEYS[4], time)
redis.call('SREM', KEYS[1], w)
redis.call('HSET', KEYS[2], w, 'LOST')
redis.call('RPUSH', KEYS[4], time .. ' LOST')
return {1, orphan}
