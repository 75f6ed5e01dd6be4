-- move_task(k, status_key, old, root, new, q, status, time, attempt, rearm): the one retry step, shared by a manual
-- retry (task_retry.lua) and an automatic one (include/auto_retry.lua). Task `old` (status `status`, the newest of
-- the chain that starts at `root`) becomes MOVED and points at `new`, which runs the root's expression and locals,
-- with its separate-process flag and timeout, as PENDING in queue `q` (the caller puts it on the queue, or in its
-- delayed set). The tasks waiting for the chain now wait for `new`: their links are kept under the root
-- (include/links.lua), so nothing about them is written here, whatever their number. With `rearm`, the chain's
-- IMPOSSIBLE dependents are queued to be made DEFERRED again (include/rearm_dependents.lua).
--   k: { moved_to, moved_root, time_moved, time_submit, expr, lcl, timeout, shared, shared_refs,
--        queue, moved_from, attempt (may be nil: the attempt is then not counted) } (keys)
--   attempt: the new task's attempt number, or nil
--#include walks
local function move_task(k, status_key, old, root, new, q, status, time, attempt, rearm)
  redis.call('HSET', status_key, old, 'MOVED')
  unfinished({old})
  redis.call('HSET', k.moved_from, old, status)
  redis.call('HSET', k.time_moved, old, time)
  redis.call('HSET', k.moved_to, old, new)
  redis.call('HSET', k.moved_root, new, root)
  if attempt and k.attempt then
    redis.call('HSET', k.attempt, new, attempt)
  end
  redis.call('HSET', status_key, new, 'PENDING')
  redis.call('HSET', k.time_submit, new, time)
  redis.call('HSET', k.expr, new, redis.call('HGET', k.expr, root))
  redis.call('HSET', k.queue, new, q)
  redis.call('HSET', k.lcl, new, redis.call('HGET', k.lcl, root) or 'TRUE')
  local timeout = redis.call('HGET', k.timeout, root)
  if timeout then
    redis.call('HSET', k.timeout, new, timeout)
  end
  local sid = redis.call('HGET', k.shared, root)
  if sid then
    redis.call('HSET', k.shared, new, sid)
    redis.call('HINCRBY', k.shared_refs, sid, 1)
  end
  -- A walk over the chain's dependents that is still under way starts again from the first: a failure walk stops
  -- at its next step (the chain is alive), but if the new task fails too it must reach the dependents re-armed since.
  if redis.call('HEXISTS', FANOUT_AT, root) == 1 then
    redis.call('HSET', FANOUT_AT, root, '')
  end
  if rearm and has_dependents(k.depends_down, root) then
    walk_queue(REARM, REARM_AT, root)
  end
end
