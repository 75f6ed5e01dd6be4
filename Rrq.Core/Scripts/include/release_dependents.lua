-- dependents_to_release(...) and release_dependents(...): a task COMPLETEd. Each dependent still
-- DEFERRED counts one dependency fewer; those with none left go to the FRONT of their own queue as
-- PENDING, in the order they were submitted (the first submitted runs first). The first function only reads: it returns the dependents to release, or nil and the
-- name of a queue whose key the caller did not pass (the caller then retries with it, so a
-- script never touches a key it did not declare). queue_keys maps queue name → key. The first also
-- returns the task's dependents as read (down), for the second to use.
--#include links
local function dependents_to_release(depends_down, depends_left, task_status, task_queue, queue_keys, id)
  local release = {}
  local down = children_of(depends_down, id)
  if #down == 0 then
    return release, nil, nil
  end
  for _, d in ipairs(down) do
    if redis.call('HGET', task_status, d) == 'DEFERRED' and tonumber(redis.call('HGET', depends_left, d) or '0') <= 1 then
      local q = redis.call('HGET', task_queue, d)
      if not queue_keys[q] then
        return nil, q, down
      end
      release[#release + 1] = d
    end
  end
  return release, nil, down
end

local function release_dependents(down, depends_left, task_status, task_queue, queue_keys, release)
  if not down then
    return
  end
  for _, d in ipairs(down) do
    if redis.call('HGET', task_status, d) == 'DEFERRED' then
      redis.call('HINCRBY', depends_left, d, -1)
    end
  end
  -- Pushed to the front last first, so that they stay in submission order there.
  for i = #release, 1, -1 do
    local d = release[i]
    local q = redis.call('HGET', task_queue, d)
    redis.call('HDEL', depends_left, d)
    redis.call('HSET', task_status, d, 'PENDING')
    if redis.call('LPUSH', queue_keys[q], d) == 1 then
      redis.call('PUBLISH', queue_keys['@channel:' .. q], 1)
    end
  end
end
