-- move_task(k, status_key, depends_down, old, root, new, q, status, time, attempt, on_dependent): the one
-- retry step, shared by a manual retry (task_retry.lua) and an automatic one (include/auto_retry.lua).
-- Task `old` (status `status`, the newest of the chain that starts at `root`) becomes MOVED and points
-- at `new`, which runs the root's expression and locals, with its separate-process flag and timeout,
-- as PENDING in queue `q` (the caller puts it on the queue, or in its delayed set). The tasks waiting
-- for `old` now wait for `new`; on_dependent(d), when given, is called for each of them.
--   k: { moved_to, moved_root, time_moved, time_submit, expr, lcl, timeout, shared, shared_refs,
--        depends_up, queue, moved_from, attempt (may be nil: the attempt is then not counted) } (keys)
--   attempt: the new task's attempt number, or nil
--#include links
--#include finished
local function move_task(k, status_key, depends_down, old, root, new, q, status, time, attempt, on_dependent)
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
  for _, m in ipairs(links_of(depends_down, old)) do
    local rest = string.sub(m, #old + 1)   -- the child's sequence, then its id
    redis.call('ZREM', depends_down, m)
    redis.call('ZADD', depends_down, 0, new .. rest)
    local d = string.sub(rest, 17)
    local ups = {}
    for dep in string.gmatch(redis.call('HGET', k.depends_up, d) or '', '%S+') do
      ups[#ups + 1] = (dep == old) and new or dep
    end
    redis.call('HSET', k.depends_up, d, table.concat(ups, ' '))
    if on_dependent then
      on_dependent(d)
    end
  end
end
