-- task_submit: create one or more tasks as PENDING at the tail of one queue.
--
-- KEYS[1] task:expr        KEYS[2] task:status     KEYS[3] task:queue
-- KEYS[4] task:local       KEYS[5] task:timeout    KEYS[6] task:time_submit
-- KEYS[7] queue:<name>     (the list the ids are pushed on)
-- ARGV[1] queue name       ARGV[2] "TRUE" (in-process) or "FALSE" (separate process)
-- ARGV[3] timeout in seconds, or "" for none
-- ARGV[4] channel to publish the queue's wake-up on
-- ARGV[5], ARGV[6], ...    pairs of (task id, payload)
--
-- Returns: the number of tasks created, or
--   -1  a task id already exists (nothing written); the id is the second element.

--#include now
local n = (#ARGV - 4) / 2
for i = 0, n - 1 do
  local id = ARGV[5 + 2 * i]
  if redis.call('HEXISTS', KEYS[1], id) == 1 then
    return {-1, id}
  end
end

local time = now()
local ids = {}
for i = 0, n - 1 do
  local id = ARGV[5 + 2 * i]
  ids[#ids + 1] = id
  redis.call('HSET', KEYS[1], id, ARGV[6 + 2 * i])
  redis.call('HSET', KEYS[2], id, 'PENDING')
  redis.call('HSET', KEYS[3], id, ARGV[1])
  redis.call('HSET', KEYS[4], id, ARGV[2])
  if ARGV[3] ~= '' then
    redis.call('HSET', KEYS[5], id, ARGV[3])
  end
  redis.call('HSET', KEYS[6], id, time)
end
-- A worker only waits after finding all its queues empty, so only a push into an empty queue
-- needs to wake anyone; pushes onto a longer queue are found by workers' next claims.
if redis.call('RPUSH', KEYS[7], unpack(ids)) == n then
  redis.call('PUBLISH', ARGV[4], n)
end
return {n}
