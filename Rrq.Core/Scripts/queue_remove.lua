-- queue_remove: take queued tasks off a queue. A task taken off its queue would otherwise be
-- PENDING in no queue, owned by no one, and never run; here it becomes CANCELLED instead (and its
-- dependents IMPOSSIBLE), in the same step.
--
-- KEYS[1] queue:<name>   KEYS[2] task:status   KEYS[3] task:time_complete   KEYS[4] task:depends_down
-- ARGV[1] channel to publish "<id> <status>" on   ARGV[2..] task ids
--
-- Returns: for each id, 1 if it was in the queue (and is now CANCELLED), 0 if not.

--#include now
--#include fail_dependents

local time = now()
local out = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  if redis.call('LREM', KEYS[1], 0, id) > 0 and redis.call('HGET', KEYS[2], id) == 'PENDING' then
    redis.call('HSET', KEYS[2], id, 'CANCELLED')
    redis.call('HSET', KEYS[3], id, time)
    redis.call('PUBLISH', ARGV[1], id .. ' CANCELLED')
    fail_dependents(KEYS[4], KEYS[2], KEYS[3], ARGV[1], id, time)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
