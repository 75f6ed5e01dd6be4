-- queue_remove: take queued tasks off a queue. A task taken off its queue would otherwise be
-- PENDING in no queue, owned by no one, and never run; here it becomes CANCELLED instead (and its
-- dependents IMPOSSIBLE), in the same step. Its id is not searched for in the list (a scan of the whole
-- queue per id): it goes in queue_skip, and the claim step drops it when it reaches the head.
--
-- KEYS[1] delayed:<name>   KEYS[2] task:status   KEYS[3] task:time_complete   KEYS[4] task:depends_down
-- KEYS[5] task:queue   KEYS[6] queue_skip   KEYS[7] queue_skip_count   KEYS[8] task:claim   KEYS[9] task:worker
-- then RrqKeys.FinishedBlock
-- ARGV[1] channel to publish "<id> <status>" on   ARGV[2] the queue's name   ARGV[3..] task ids
--
-- Returns: for each id, 1 if it was in the queue (and is now CANCELLED), 0 if not (not PENDING, of another
-- queue, or waiting for its delay).

--#include publish
--#include now
--#include fail_dependents
--#include handoff

local time = now()
local name = ARGV[2]
local out = {}
local cancelled, statuses, times, scores = {}, {}, {}, {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if redis.call('HGET', KEYS[2], id) == 'PENDING' and (redis.call('HGET', KEYS[5], id) or 'default') == name
      and not redis.call('ZSCORE', KEYS[1], id) then
    if handed(KEYS[8], id) then
      -- Handed to a worker that has not started it (include/handoff.lua): in no list. Its take-up will fail.
      redis.call('HDEL', KEYS[8], id)
      redis.call('HDEL', KEYS[9], id)
    elseif redis.call('SADD', KEYS[6], id) == 1 then
      redis.call('HINCRBY', KEYS[7], name, 1)
    end
    cancelled[#cancelled + 1] = id
    statuses[#statuses + 1], statuses[#statuses + 2] = id, 'CANCELLED'
    times[#times + 1], times[#times + 2] = id, time
    scores[#scores + 1], scores[#scores + 2] = time, id
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if #cancelled > 0 then
  -- The slice's writes go together: one HSET per hash, one ZADD (what finished() does per task), one notice.
  redis.call('HSET', KEYS[2], unpack(statuses))
  redis.call('HSET', KEYS[3], unpack(times))
  redis.call('ZADD', DONE_FAILED, unpack(scores))
  publish(ARGV[1], '= CANCELLED ' .. table.concat(cancelled, ' '))
  -- Dependents are looked for only when the queue has any dependency links at all.
  if redis.call('EXISTS', KEYS[4]) == 1 then
    for _, id in ipairs(cancelled) do
      fail_dependents(KEYS[4], KEYS[2], KEYS[3], ARGV[1], id, time)
    end
  end
end
return out
