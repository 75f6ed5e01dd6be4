--#include fail_dependents
-- orphan_task(...): a worker is gone (exited or lost); if the task it was running is still RUNNING
-- on it, that task becomes DIED (with its completion time, a log line and a notification) and its
-- dependents IMPOSSIBLE. The worker's current-task entry is cleared either way. Returns the task
-- id, or '' if none was failed.
local function orphan_task(worker_task, task_status, task_worker, task_time_complete, worker_log, depends_down, channel, w, time)
  local orphan = ''
  local id = redis.call('HGET', worker_task, w)
  if id then
    if redis.call('HGET', task_status, id) == 'RUNNING' and redis.call('HGET', task_worker, id) == w then
      redis.call('HSET', task_status, id, 'DIED')
      redis.call('HSET', task_time_complete, id, time)
      redis.call('PUBLISH', channel, id .. ' DIED')
      redis.call('RPUSH', worker_log, time .. ' TASK_DIED ' .. id)
      fail_dependents(depends_down, task_status, task_time_complete, channel, id, time)
      orphan = id
    end
    redis.call('HDEL', worker_task, w)
  end
  return orphan
end
