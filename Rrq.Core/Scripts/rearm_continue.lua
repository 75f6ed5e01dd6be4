-- rearm_continue: carries on re-arming the IMPOSSIBLE dependents of retried tasks (see include/rearm_dependents.lua)
-- where the last call stopped, a bounded amount per call. TaskRetry runs it until it is done; a sweeping worker does
-- too, for a client that died on the way.
--
-- KEYS[1] task:depends_down   KEYS[2] task:status   KEYS[3] task:time_complete   KEYS[4] task:queue
-- KEYS[5..] queue:<name> for each queue name in ARGV[3..], in the same order;   then RrqKeys.FinishedBlock
-- ARGV[1] budget (links and dependencies read)   ARGV[2] prefix of the queues' channels   ARGV[3..] queue names
--
-- Returns {chains still queued (0: done)}, or {-4, queue}: a dependent to release is in a queue whose key was not
-- passed (what was done stands: call again with it).

--#include rearm_dependents

local queue_keys = {}
for i = 5, N_KEYS do
  local name = ARGV[i - 2]
  queue_keys[name] = KEYS[i]
  queue_keys['@channel:' .. name] = ARGV[2] .. name
end
local left, missing = rearm_run(KEYS[1], KEYS[2], KEYS[3], KEYS[4], queue_keys, tonumber(ARGV[1]))
if not left then
  return {-4, missing}
end
return {left}
