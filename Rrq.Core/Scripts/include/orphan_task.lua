--#include fail_dependents
--#include auto_retry
-- orphan_task(...): a worker is gone (exited or lost); if the task it was running is still RUNNING
-- on it, that task becomes DIED (with its completion time and a log line), and then either its
-- retry policy retries it (it becomes MOVED) or its dependents become IMPOSSIBLE. The worker's
-- current-task entry is cleared either way. Call it before any other write: it returns the task id
-- ('' if none was failed), or nil and 'missing:<queue>' when a retry needs a queue whose keys were
-- not passed (nothing written). reason = { key = task:reason, text = why the task died } is kept
-- with the task, for its error to say.
local function orphan_task(worker_task, task_status, task_worker, task_time_complete, worker_log, depends_down,
                           channel, w, time, k, qk, new, reason)
  local orphan = ''
  local id = redis.call('HGET', worker_task, w)
  if id then
    if redis.call('HGET', task_status, id) == 'RUNNING' and redis.call('HGET', task_worker, id) == w then
      local q = redis.call('HGET', k.queue, id) or 'default'
      if redis.call('HEXISTS', k.retry, redis.call('HGET', k.moved_root, id) or id) == 1 and not qk(q) then
        return nil, 'missing:' .. q
      end
      redis.call('HSET', task_status, id, 'DIED')
      redis.call('HSET', task_time_complete, id, time)
      redis.call('HSET', reason.key, id, reason.text)
      redis.call('RPUSH', worker_log, time .. ' TASK_DIED ' .. id)
      if auto_retry(k, qk, task_status, id, 'DIED', new, time) == 'retried' then
        redis.call('PUBLISH', channel, id .. ' MOVED')
      else
        redis.call('PUBLISH', channel, id .. ' DIED')
        finished(id, 'DIED', time)
        fail_dependents(depends_down, task_status, task_time_complete, channel, id, time)
      end
      orphan = id
    end
    redis.call('HDEL', worker_task, w)
  end
  return orphan
end
