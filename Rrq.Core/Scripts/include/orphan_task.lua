--#include publish
--#include fail_dependents
--#include auto_retry
--#include held
-- orphan_tasks(...): a worker is gone (exited or lost); every task it holds that is still RUNNING on it becomes DIED
-- (with its completion time and a log line), and then either its retry policy retries it (it becomes MOVED) or its
-- dependents become IMPOSSIBLE. The worker's held tasks are cleared either way. Call it before any other write: it
-- returns the ids failed, space-separated ('' if none), or nil and 'missing:<queue>' when a retry needs a queue whose
-- keys were not passed (nothing written). new is an unused task id (further ones are derived from it, see
-- include/held.lua). reason = { key = task:reason, text = why the tasks died } is kept with each task, for its error to say.
-- except: nil, or a set of ids left alone (tasks the caller puts back in their queues).
local function orphan_tasks(worker_task, task_status, task_worker, task_time_complete, worker_log, depends_down,
                            channel, w, time, k, qk, new, reason, except)
  local ids = held_list(worker_task, w)
  local running = {}
  for _, id in ipairs(ids) do
    if not (except and except[id]) and redis.call('HGET', task_status, id) == 'RUNNING' and redis.call('HGET', task_worker, id) == w then
      local q = redis.call('HGET', k.queue, id) or 'default'
      if redis.call('HEXISTS', k.retry, redis.call('HGET', k.moved_root, id) or id) == 1 and not qk(q) then
        return nil, 'missing:' .. q
      end
      running[#running + 1] = id
    end
  end
  for i, id in ipairs(running) do
    redis.call('HSET', task_status, id, 'DIED')
    redis.call('HSET', task_time_complete, id, time)
    redis.call('HSET', reason.key, id, reason.text)
    redis.call('RPUSH', worker_log, time .. ' TASK_DIED ' .. id)
    if auto_retry(k, qk, task_status, id, 'DIED', nth_id(new, i), time) == 'retried' then
      publish(channel, id .. ' MOVED')
    else
      publish(channel, id .. ' DIED')
      finished(id, 'DIED', time)
      fail_dependents(depends_down, task_status, task_time_complete, channel, id, time)
    end
  end
  if #ids > 0 then
    redis.call('HDEL', worker_task, w)
  end
  return table.concat(running, ' ')
end
