-- worker_exit: a worker leaves the pool (it stopped, or it was killed through the API). Its
-- status becomes EXITED, and every task it was still running becomes DIED (their dependents IMPOSSIBLE),
-- in one step, so no task can stay RUNNING on a worker that is gone.
--
-- KEYS[1] worker:id      KEYS[2] worker:status    KEYS[3] worker:task
-- KEYS[4] worker:<id>:log KEYS[5] task:status     KEYS[6] task:worker
-- KEYS[7] task:time_complete   KEYS[8] worker:<id>:heartbeat   KEYS[9] task:depends_down
-- KEYS[10..24] the retry keys (see include/auto_retry.lua)
-- KEYS[25] task:time_start   KEYS[26] task:reason   KEYS[27] task:claim
-- KEYS[28..] queue:<name> and its delayed set, for each queue name in ARGV[8..] (those of the tasks it holds); then
-- RrqKeys.FinishedBlock
-- ARGV[1] worker id      ARGV[2] log label (e.g. "STOP OK (BYE)")
-- ARGV[3] channel to publish "<task id> DIED" (or MOVED) on for an orphaned task
-- ARGV[4] an unused task id for an automatic retry   ARGV[5] the prefix of the queues' channels
-- ARGV[6] tasks the worker took but never started (space-separated, "" for none): each still RUNNING on this
--         worker goes back to the front of its queue as PENDING instead of becoming DIED; so does a task handed to it
--         that it never took up (include/handoff.lua)
-- ARGV[7] why a task it was running died, for the task's error    ARGV[8..] queue names
--
-- A worker with no record at all (its queue was destroyed) changes nothing.
--
-- Returns: {was registered (1/0), orphaned task ids (space-separated) or ''}, or {-4, queue} (nothing written) when
-- a task's queue is not among ARGV[8..].
--#include now
--#include orphan_task
--#include handoff

local w = ARGV[1]
if redis.call('SISMEMBER', KEYS[1], w) == 0 and not redis.call('HGET', KEYS[2], w) then
  -- Unknown here: the queue was destroyed under a worker that is now leaving. Write nothing, and
  -- take away the heartbeat key its last beats may have put back.
  redis.call('DEL', KEYS[8])
  return {0, ''}
end
local time = now()
local function qk(name)
  for i = 8, #ARGV do
    if ARGV[i] == name then
      local at = 28 + (i - 8) * 2
      return { KEYS[at], KEYS[at + 1], ARGV[5] .. name, name }
    end
  end
  return nil
end
local k = retry_keys(10)
-- Tasks taken and never started go back; their queues are checked before anything is written.
local asked = {}
for id in string.gmatch(ARGV[6], '%S+') do
  asked[id] = true
end
local back, going = to_put_back({ task_claim = KEYS[27], task_worker = KEYS[6], task_status = KEYS[5] }, w, KEYS[3], k.queue,
  asked, qk)
if not back then
  return {-4, going}
end
-- The others it ran die (checked, then written); then those go back, the first taken ending up first in its queue.
local orphan, missing = orphan_tasks(KEYS[3], KEYS[5], KEYS[6], KEYS[7], KEYS[4], KEYS[9], ARGV[3], w, time,
  k, qk, ARGV[4], { key = KEYS[26], text = ARGV[7] }, going)
if not orphan then
  return {-4, string.sub(missing, 9)}
end
put_back({ status = KEYS[5], worker = KEYS[6], time_start = KEYS[25], claim = KEYS[27], front = FRONT }, back, KEYS[4], time)
local was = redis.call('SREM', KEYS[1], w)
-- A clean exit removes the heartbeat, so the worker is never mistaken for a lost one.
redis.call('DEL', KEYS[8])
local status = redis.call('HGET', KEYS[2], w)
if status ~= 'LOST' then
  redis.call('HSET', KEYS[2], w, 'EXITED')
end
redis.call('RPUSH', KEYS[4], time .. ' ' .. ARGV[2])
return {was, orphan}
