-- dependents_to_release(...) and release_dependents(...): a task COMPLETEd. Each dependent still
-- DEFERRED counts one dependency fewer; those with none left go to the FRONT of their own queue as
-- PENDING, in the order they were submitted (the first submitted runs first). The first function only reads: it
-- returns the dependents to release, or nil and the name of a queue whose key the caller did not pass (the caller
-- then retries with it, so a script never touches a key it did not declare). queue_keys maps queue name → key. It
-- also returns the task's dependents as read (down), and the counts to correct (fix), for the second to use.
--
-- The count (task:depends_left) is only a hint: a dependency that had COMPLETEd and is retried counts again without
-- anyone touching its dependents' counts (that would cost one write per dependent on every retry). So a dependent
-- whose count reaches zero is released only when every dependency it has (include/finished.lua dependencies_of) has
-- COMPLETEd; otherwise its count is set to what it still waits for. A count is never too high, only too low, and
-- only a release costs a read of all of a dependent's dependencies.
--#include links
--#include finished
local function dependents_to_release(depends_down, task_status, task_queue, queue_keys, id)
  local release, fix, newest = {}, {}, {}
  local down = children_of(depends_down, root_of(id))
  if #down == 0 then
    return release, nil, nil, fix
  end
  for _, d in ipairs(down) do
    if redis.call('HGET', task_status, d) == 'DEFERRED' and tonumber(redis.call('HGET', DEPENDS_LEFT, d) or '0') <= 1 then
      local waiting = dependencies_of(task_status, d, id, newest)
      if waiting > 0 then
        fix[d] = waiting
      else
        local q = redis.call('HGET', task_queue, d)
        if not queue_keys[q] then
          return nil, q, down, fix
        end
        release[#release + 1] = d
      end
    end
  end
  return release, nil, down, fix
end

local function release_dependents(down, task_status, task_queue, queue_keys, release, fix)
  if not down then
    return
  end
  for _, d in ipairs(down) do
    if redis.call('HGET', task_status, d) == 'DEFERRED' then
      redis.call('HINCRBY', DEPENDS_LEFT, d, -1)
    end
  end
  for d, waiting in pairs(fix) do
    redis.call('HSET', DEPENDS_LEFT, d, waiting)
  end
  -- Pushed to the front last first, so that they stay in submission order there.
  for i = #release, 1, -1 do
    local d = release[i]
    local q = redis.call('HGET', task_queue, d)
    redis.call('HDEL', DEPENDS_LEFT, d)
    redis.call('HSET', task_status, d, 'PENDING')
    if redis.call('LPUSH', queue_keys[q], d) == 1 then
      redis.call('PUBLISH', queue_keys['@channel:' .. q], 1)
    end
  end
end
