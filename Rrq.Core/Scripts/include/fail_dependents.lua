-- fail_dependents(...): a task failed (or was cancelled or deleted), so every task waiting on it,
-- directly or through others, can never run: each dependent still DEFERRED becomes IMPOSSIBLE,
-- with its completion time and a notification. Dependents in any other status (cancelled,
-- deleted, or already released) are left alone. Returns how many became IMPOSSIBLE.
--#include links
local function fail_dependents(depends_down, task_status, task_time_complete, channel, id, time)
  local todo = {id}
  local i = 1
  local n = 0
  while i <= #todo do
    local down = children_of(depends_down, todo[i])
    i = i + 1
    for _, d in ipairs(down) do
      if redis.call('HGET', task_status, d) == 'DEFERRED' then
        redis.call('HSET', task_status, d, 'IMPOSSIBLE')
        redis.call('HSET', task_time_complete, d, time)
        redis.call('PUBLISH', channel, d .. ' IMPOSSIBLE')
        todo[#todo + 1] = d
        n = n + 1
      end
    end
  end
  return n
end
