-- fail_dependents(...): a task failed (or was cancelled or deleted before it ran), so every task waiting on it,
-- directly or through others, can never run: each dependent still DEFERRED becomes IMPOSSIBLE, with its completion
-- time and a notification. Dependents in any other status (cancelled, deleted, or already released) are left alone.
--
-- The walk is a queue of chains in FANOUT (include/finished.lua), each named by its first task (the parent its links
-- are kept under) with its place in its range of links in FANOUT_AT. One script fails at most fanout_budget
-- dependents; the rest is carried on by the next script that fails a task, and by walk_continue.lua, which whoever
-- caused it (and every sweeping worker) runs until the queue is empty. Meanwhile the dependents still to do stay
-- DEFERRED, which is safe: a failed task never completes, so nothing can release them, and once the chain is retried
-- (its newest task is alive again) its entry fails no one more. A retry starts the entry's place again
-- (include/move_task.lua), so a later failure of the chain walks every dependent, the re-armed ones too.
-- Returns how many became IMPOSSIBLE in this script.
--#include publish
--#include walks
local fanout_budget = 200

local function fanout_run(depends_down, task_status, task_time_complete, channel, time)
  local n = 0
  while fanout_budget > 0 do
    -- A deleted chain has no newest task (no status), and its links go as they are walked.
    local p, st = walk_head(FANOUT, task_status)
    if not p then
      break
    end
    local links, limit = nil, 0
    if not st or FAILED[st] then
      limit = math.min(fanout_budget, 100)
      local kids, statuses
      links, kids, statuses = walk_slice(depends_down, task_status, FANOUT_AT, p, limit, false)
      fanout_budget = fanout_budget - #links - 1
      if #links > 0 then
        local failed, fields, times = {}, {}, {}
        for i, d in ipairs(kids) do
          if statuses[i] == 'DEFERRED' then
            failed[#failed + 1] = d
            fields[#fields + 1] = d
            fields[#fields + 1] = 'IMPOSSIBLE'
            times[#times + 1] = d
            times[#times + 1] = time
            finished(d, 'IMPOSSIBLE', time)
            -- A dependent is always the first task of its chain: it is its own links' parent.
            if has_dependents(depends_down, d) then
              walk_queue(FANOUT, FANOUT_AT, d)
            end
          end
        end
        if #failed > 0 then
          redis.call('HSET', task_status, unpack(fields))
          redis.call('HSET', task_time_complete, unpack(times))
          -- No longer waiting: DEFERRED counts are the size of task:depends_left (a re-arm sets them again).
          redis.call('HDEL', DEPENDS_LEFT, unpack(failed))
          -- One notice for the lot: "= IMPOSSIBLE <id> <id> ...".
          publish(channel, '= IMPOSSIBLE ' .. table.concat(failed, ' '))
          n = n + #failed
        end
        if not st then
          redis.call('ZREM', depends_down, unpack(links))
        end
      end
    end
    walk_next(FANOUT, FANOUT_AT, p, links, limit)
  end
  return n
end

-- Task id failed; root: the first task of its chain, when the caller has read it already (a deleted task's is gone).
local function fail_dependents(depends_down, task_status, task_time_complete, channel, id, time, root)
  root = root or root_of(id)
  if not has_dependents(depends_down, root) then
    return 0
  end
  walk_queue(FANOUT, FANOUT_AT, root)
  return fanout_run(depends_down, task_status, task_time_complete, channel, time)
end
