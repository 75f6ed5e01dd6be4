-- fanout_continue: carries on failing the dependents of failed tasks (see include/fail_dependents.lua) where the
-- script that failed them stopped, a bounded amount per call.
--
-- KEYS[1] task:depends_down   KEYS[2] task:status   KEYS[3] task:time_complete   then RrqKeys.FinishedBlock
-- ARGV[1] channel to publish "= IMPOSSIBLE <id>..." on
--
-- Returns {dependents made IMPOSSIBLE, parents still queued (0: done)}.

--#include now
--#include fail_dependents

local n = 0
if redis.call('LLEN', FANOUT) > 0 then
  n = fanout_run(KEYS[1], KEYS[2], KEYS[3], ARGV[1], now())
end
return {n, redis.call('LLEN', FANOUT)}
