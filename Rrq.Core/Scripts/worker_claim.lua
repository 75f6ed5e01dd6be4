-- worker_claim: a worker's one step of work-taking. A message for the worker wins; otherwise the
-- first PENDING task of its queues (in priority order) is taken off its queue AND recorded as
-- RUNNING on this worker in the same step, so no task is ever in no queue and owned by no one.
--
-- KEYS[1] worker:<id>:message   KEYS[2] worker:id        KEYS[3] worker:status
-- KEYS[4] worker:task           KEYS[5] worker:<id>:log  KEYS[6] task:status
-- KEYS[7] task:worker           KEYS[8] task:time_start  KEYS[9] task:expr
-- KEYS[10] task:local           KEYS[11] task:timeout    KEYS[12] envir
-- KEYS[13..] for each queue, highest priority first: queue:<name>, then delayed:<name> (retries
--            waiting for their delay; those that are due are moved to the tail of their queue here)
-- ARGV[1] worker id
--
-- Returns: {kind, envir version, ...} where kind is
--    0  nothing to do:  {0, version, ms epoch of the next delayed retry or ""}
--    1  a message:  {1, version, message}
--    2  a task:     {2, version, task id, payload, local flag, timeout}
--   -1  this worker is not registered (it was stopped or declared lost): it must exit.

--#include now
local w = ARGV[1]
local version = redis.call('HGET', KEYS[12], 'version') or '0'

if redis.call('SISMEMBER', KEYS[2], w) == 0 then
  return {-1, version}
end

local msg = redis.call('LPOP', KEYS[1])
if msg then
  return {1, version, msg}
end

if redis.call('HGET', KEYS[3], w) == 'PAUSED' then
  return {0, version, ''}
end

local t0 = redis.call('TIME')
local now_ms = tonumber(t0[1]) * 1000 + math.floor(tonumber(t0[2]) / 1000)
local next_due = ''
for q = 13, #KEYS, 2 do
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[q + 1], '-inf', now_ms, 'LIMIT', 0, 1000)) do
    redis.call('ZREM', KEYS[q + 1], id)
    if redis.call('HGET', KEYS[6], id) == 'PENDING' then
      redis.call('RPUSH', KEYS[q], id)
    end
  end
  local first = redis.call('ZRANGE', KEYS[q + 1], 0, 0, 'WITHSCORES')
  if first[2] and (next_due == '' or tonumber(first[2]) < next_due) then
    next_due = tonumber(first[2])
  end
end

for q = 13, #KEYS, 2 do
  while true do
    local id = redis.call('LPOP', KEYS[q])
    if not id then
      break
    end
    -- Only a PENDING task is claimed; anything else left in a list is skipped.
    if redis.call('HGET', KEYS[6], id) == 'PENDING' then
      local time = now()
      redis.call('HSET', KEYS[6], id, 'RUNNING')
      redis.call('HSET', KEYS[7], id, w)
      redis.call('HSET', KEYS[8], id, time)
      redis.call('HSET', KEYS[4], w, id)
      redis.call('HSET', KEYS[3], w, 'BUSY')
      redis.call('RPUSH', KEYS[5], time .. ' TASK_START ' .. id)
      local payload = redis.call('HGET', KEYS[9], id)
      local lcl = redis.call('HGET', KEYS[10], id) or 'TRUE'
      local timeout = redis.call('HGET', KEYS[11], id) or ''
      return {2, version, id, payload, lcl, timeout}
    end
  end
end
return {0, version, tostring(next_due)}
