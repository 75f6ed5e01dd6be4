-- walk_continue: carries on the walks over dependents where the scripts that started them stopped, a bounded amount
-- per call: failing the dependents of failed tasks (include/fail_dependents.lua), counting and releasing those of
-- completed ones (include/release_dependents.lua), and re-arming those of retried ones (include/rearm_dependents.lua).
-- Whoever started a walk runs this until nothing is left (a worker after its task, TaskCancel, TaskDelete,
-- QueueRemove, TaskRetry), and so does every sweeping worker, for a process that died on the way.
--
-- KEYS[1] task:depends_down   KEYS[2] task:status   KEYS[3] task:time_complete   KEYS[4] task:queue
-- KEYS[5..] queue:<name> for each queue name in ARGV[4..], in the same order;   then RrqKeys.FinishedBlock
-- ARGV[1] budget (links and dependencies read) of the release and re-arm walks   ARGV[2] channel to publish
-- "= IMPOSSIBLE <id>..." on   ARGV[3] prefix of the queues' channels   ARGV[4..] queue names
--
-- Returns {chains still queued in all the walks (0: done)}, or {-4, queue}: a dependent to release is in a queue whose
-- key was not passed (what was done stands: call again with it).

--#include now
--#include fail_dependents
--#include release_dependents
--#include rearm_dependents

local queue_keys = {}
for i = 5, N_KEYS do
  local name = ARGV[i - 1]
  queue_keys[name] = KEYS[i]
  queue_keys['@channel:' .. name] = ARGV[3] .. name
end
local budget = tonumber(ARGV[1])
fanout_run(KEYS[1], KEYS[2], KEYS[3], ARGV[2], now())
local released, missing = release_run(KEYS[1], KEYS[2], KEYS[4], queue_keys, budget)
if not released then
  return {-4, missing}
end
local rearmed
rearmed, missing = rearm_run(KEYS[1], KEYS[2], KEYS[3], KEYS[4], queue_keys, budget)
if not rearmed then
  return {-4, missing}
end
return {redis.call('LLEN', FANOUT) + released + rearmed}
