-- task_finish: a worker records the outcome of the task it ran, and what follows from it: on
-- COMPLETE, dependents with nothing left to wait for go to the front of their queues as PENDING;
-- on any failure, every transitive dependent becomes IMPOSSIBLE. All of it happens only if the task
-- is still RUNNING on this worker: a task that was meanwhile declared DIED (lost worker), cancelled
-- or deleted keeps that outcome, and the late result is dropped.
--
-- KEYS[1] task:status      KEYS[2] task:worker      KEYS[3] task:result
-- KEYS[4] task:time_complete                        KEYS[5] worker:task
-- KEYS[6] worker:status    KEYS[7] worker:<id>:log  KEYS[8] task:depends_down
-- KEYS[9] task:depends_left                         KEYS[10] task:queue
-- KEYS[11..] queue:<name> for each name in ARGV[7..], in the same order
-- ARGV[1] task id          ARGV[2] worker id        ARGV[3] final status (COMPLETE, ERROR, ...)
-- ARGV[4] result bytes ("" for none: DIED, TIMEOUT, CANCELLED)
-- ARGV[5] channel to publish "<task id> <status>" on     ARGV[6] prefix of the queues' channels
-- ARGV[7..] queue names
--
-- Returns: {1} written; {-1} the task is no longer RUNNING on this worker (nothing written to the
-- task; the worker's own bookkeeping is still cleared); {-4, queue} a dependent to release lives in
-- a queue whose key was not passed (nothing written at all: call again with it).

--#include now
--#include fail_dependents
--#include release_dependents

local id, w, status = ARGV[1], ARGV[2], ARGV[3]
local time = now()

local result = -1
if redis.call('HGET', KEYS[1], id) == 'RUNNING' and redis.call('HGET', KEYS[2], id) == w then
  local queue_keys = {}
  for i = 11, #KEYS do
    local name = ARGV[i - 4]
    queue_keys[name] = KEYS[i]
    queue_keys['@channel:' .. name] = ARGV[6] .. name
  end
  local release = {}
  if status == 'COMPLETE' then
    local missing
    release, missing = dependents_to_release(KEYS[8], KEYS[9], KEYS[1], KEYS[10], queue_keys, id)
    if not release then
      return {-4, missing}
    end
  end
  redis.call('HSET', KEYS[1], id, status)
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[3], id, ARGV[4])
  end
  redis.call('HSET', KEYS[4], id, time)
  redis.call('PUBLISH', ARGV[5], id .. ' ' .. status)
  if status == 'COMPLETE' then
    release_dependents(KEYS[8], KEYS[9], KEYS[1], KEYS[10], queue_keys, id, release)
  else
    fail_dependents(KEYS[8], KEYS[1], KEYS[4], ARGV[5], id, time)
  end
  result = 1
end

if redis.call('HGET', KEYS[5], w) == id then
  redis.call('HDEL', KEYS[5], w)
end
if redis.call('HGET', KEYS[6], w) == 'BUSY' then
  redis.call('HSET', KEYS[6], w, 'IDLE')
end
redis.call('RPUSH', KEYS[7], time .. ' TASK_' .. status .. ' ' .. id)
return {result}
