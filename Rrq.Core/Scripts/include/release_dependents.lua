-- release_run(...): a task COMPLETEd, so each of its chain's dependents still DEFERRED counts one dependency fewer;
-- those with none left go to the FRONT of their own queue as PENDING. The walk is a queue of chains in RELEASE
-- (include/finished.lua, include/walks.lua), a bounded slice per call: task_finish.lua does the first slice with the
-- outcome, and the worker (or, should it die, any sweeping worker) carries the rest on with walk_continue.lua before
-- it takes more work. It goes from the chain's first dependent on, and those released go behind the tasks already at the
-- front of their queue (include/front.lua): so they run in submission order, and after those released before them.
-- A chain no longer COMPLETE (retried since) releases no one more: its dependents not yet counted wait for its new task.
--
-- The count (task:depends_left) is only a hint: a dependency that had COMPLETEd and is retried counts again without
-- anyone touching its dependents' counts (that would cost one write per dependent on every retry). So a dependent
-- whose count reaches zero is released only when every dependency it has (include/finished.lua dependencies_of) has
-- COMPLETEd; otherwise its count is set to what it still waits for. A count is never too high, only too low, and
-- only a release costs a read of all of a dependent's dependencies.
--
-- queue_keys maps a queue name to its list and '@channel:' .. name to its channel. Spends at most `budget` (a link,
-- and each dependency read when counting to zero, cost one). Returns the number of chains still queued, or nil and
-- the name of a queue whose key was not passed (the slice it was met in is left undone: call again with it).
--#include walks
local function release_run(depends_down, task_status, task_queue, queue_keys, budget)
  local newest = {}
  while budget > 0 do
    local p, st, leaf = walk_head(RELEASE, task_status)
    if not p then
      break
    end
    local links, limit = nil, 0
    if st == 'COMPLETE' then
      limit = math.min(budget, 100)
      local kids, statuses
      links, kids, statuses = walk_slice(depends_down, task_status, RELEASE_AT, p, limit, false)
      budget = budget - #links - 1
      if #links > 0 then
        -- Read first: a dependent to release into a queue whose key was not passed leaves this slice undone.
        local lefts = redis.call('HMGET', DEPENDS_LEFT, unpack(kids))
        local counted, fix, release = {}, {}, {}
        for i, d in ipairs(kids) do
          if statuses[i] == 'DEFERRED' then
            if tonumber(lefts[i] or '0') > 1 then
              counted[#counted + 1] = d
            else
              local waiting, _, cost = dependencies_of(task_status, d, leaf, newest)
              budget = budget - cost
              if waiting > 0 then
                fix[#fix + 1] = d
                fix[#fix + 1] = waiting
              else
                local q = redis.call('HGET', task_queue, d)
                if not queue_keys[q] then
                  return nil, q
                end
                release[#release + 1] = { d, q }
              end
            end
          end
        end
        for _, d in ipairs(counted) do
          redis.call('HINCRBY', DEPENDS_LEFT, d, -1)
        end
        if #fix > 0 then
          redis.call('HSET', DEPENDS_LEFT, unpack(fix))
        end
        walk_release(task_status, queue_keys, release)
      end
    end
    walk_next(RELEASE, RELEASE_AT, p, links, limit)
  end
  return redis.call('LLEN', RELEASE)
end

-- release_dependents(...): task id (of the chain whose first task is root) has just COMPLETEd: its dependents are
-- queued for the release walk, and a first slice of it is done now. Returns nothing; what is left is in RELEASE.
local function release_dependents(depends_down, task_status, task_queue, queue_keys, root)
  if has_dependents(depends_down, root) then
    walk_queue(RELEASE, RELEASE_AT, root)
    release_run(depends_down, task_status, task_queue, queue_keys, 200)
  end
end
