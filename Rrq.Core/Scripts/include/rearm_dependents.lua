-- rearm_run(...): after a manual retry, the tasks that became IMPOSSIBLE only because the retried chain failed wait
-- again. The walk is a queue of chains in REARM (include/finished.lua), each named by its first task with its place in
-- its range of links in REARM_AT, like the failure walk (include/fail_dependents.lua), and as bounded: one call
-- spends at most `budget` (a link, each dependency read, and each dependent re-armed, about five), from the chain's
-- first dependent on. For each IMPOSSIBLE dependent: if none of its dependencies failed
-- (include/finished.lua dependencies_of), it becomes DEFERRED, waiting for those that have not COMPLETEd, or PENDING
-- at the front of its queue when they all have (the new task may have completed before the walk got there: those
-- released go behind the front's tasks, in submission order), and its own dependents are queued for the same walk. A
-- chain whose newest task has failed (or is gone) re-arms no one: its failure walk has the last word.
-- queue_keys maps a queue name to its list and '@channel:' .. name to its channel. Returns the number of chains still
-- queued, or nil and the name of a queue whose key was not passed (the slices done so far stand; call again with it).
--#include walks
local function rearm_run(depends_down, task_status, task_time_complete, task_queue, queue_keys, budget)
  local newest = {}
  while budget > 0 do
    local p, st = walk_head(REARM, task_status)
    if not p then
      break
    end
    local links, limit = nil, 0
    if st and not FAILED[st] then
      limit = math.min(budget, 100)
      local kids, statuses
      links, kids, statuses = walk_slice(depends_down, task_status, REARM_AT, p, limit, false)
      budget = budget - #links - 1
      if #links > 0 then
        -- Read first: a dependent to release into a queue whose key was not passed leaves this slice undone.
        local rearmed, fields, lefts, released = {}, {}, {}, {}
        for i, d in ipairs(kids) do
          if statuses[i] == 'IMPOSSIBLE' then
            local waiting, failed, cost = dependencies_of(task_status, d, nil, newest)
            budget = budget - cost - 4
            if not failed then
              rearmed[#rearmed + 1] = d
              if waiting == 0 then
                local q = redis.call('HGET', task_queue, d)
                if not queue_keys[q] then
                  return nil, q
                end
                released[#released + 1] = { d, q }
              else
                fields[#fields + 1] = d
                fields[#fields + 1] = 'DEFERRED'
                lefts[#lefts + 1] = d
                lefts[#lefts + 1] = waiting
              end
            end
          end
        end
        if #rearmed > 0 then
          if #fields > 0 then
            redis.call('HSET', task_status, unpack(fields))
            redis.call('HSET', DEPENDS_LEFT, unpack(lefts))
          end
          redis.call('HDEL', task_time_complete, unpack(rearmed))
          unfinished(rearmed)
          walk_release(task_status, queue_keys, released)
          for _, d in ipairs(rearmed) do
            if has_dependents(depends_down, d) then
              walk_queue(REARM, REARM_AT, d)
            end
          end
        end
      end
    end
    walk_next(REARM, REARM_AT, p, links, limit)
  end
  return redis.call('LLEN', REARM)
end
