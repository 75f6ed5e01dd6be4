-- Automatic retry. retry_keys(i) reads the fifteen keys a script passes from KEYS[i] on:
--   task:moved_to, task:moved_root, task:time_moved, task:time_submit, task:expr, task:local,
--   task:timeout, task:shared, shared_refs, task:depends_up, task:retry, task:attempt,
--   task:depends_left, task:queue, task:moved_from
-- auto_retry(k, qk, id, status, new, time) is called when task `id` has just failed with `status`.
-- If the chain's policy (task:retry of its first task: "max;STATUS,STATUS;delay_ms;backoff") allows
-- another attempt, `id` becomes MOVED and `new` takes its place: the same expression, locals,
-- queue, flag and timeout, attempt + 1; its dependents keep waiting, now for the new task. The new task
-- goes to the tail of its queue, or after the policy's delay (times backoff per earlier attempt)
-- to the queue's delayed set. qk(queue name) gives {queue key, delayed key, channel} or nil when the caller
-- did not pass them. Returns 'retried', 'no' (no retry due), or 'missing:<queue>' (nothing done).
local function retry_keys(i)
  return { moved_to = KEYS[i], moved_root = KEYS[i + 1], time_moved = KEYS[i + 2], time_submit = KEYS[i + 3],
           expr = KEYS[i + 4], lcl = KEYS[i + 5], timeout = KEYS[i + 6], shared = KEYS[i + 7],
           shared_refs = KEYS[i + 8], depends_up = KEYS[i + 9], retry = KEYS[i + 10], attempt = KEYS[i + 11],
           depends_left = KEYS[i + 12], queue = KEYS[i + 13], moved_from = KEYS[i + 14] }
end

--#include publish
--#include move_task

local function auto_retry(k, qk, status_key, id, status, new, time)
  if new == nil or new == '' then
    return 'no'
  end
  local root = redis.call('HGET', k.moved_root, id) or id
  local policy = redis.call('HGET', k.retry, root)
  if not policy then
    return 'no'
  end
  local max, on, delay, backoff = string.match(policy, '^(%d+);([%u,]*);(%d+);([%d.]+)$')
  local attempt = tonumber(redis.call('HGET', k.attempt, id) or '1')
  if attempt >= tonumber(max) or not string.find(',' .. on .. ',', ',' .. status .. ',', 1, true) then
    return 'no'
  end
  local q = redis.call('HGET', k.queue, id) or 'default'
  local keys = qk(q)
  if not keys then
    return 'missing:' .. q
  end

  move_task(k, status_key, id, root, new, q, status, time, attempt + 1, false)

  local wait = math.floor(tonumber(delay) * (tonumber(backoff) ^ (attempt - 1)))
  if wait > 0 then
    local t = redis.call('TIME')
    redis.call('ZADD', keys[2], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + wait, new)
  else
    if redis.call('RPUSH', keys[1], new) == 1 then
      publish(keys[3], 1)
    end
  end
  return 'retried'
end
