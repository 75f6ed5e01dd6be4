-- fail_dependents(...): a task failed (or was cancelled or deleted before it ran), so every task waiting on it,
-- directly or through others, can never run: each dependent still DEFERRED becomes IMPOSSIBLE, with its completion
-- time and a notification. Dependents in any other status (cancelled, deleted, or already released) are left alone.
--
-- The walk is a queue of parents in FANOUT (include/finished.lua), each with its place in its range of links in
-- FANOUT_AT. One script fails at most fanout_budget dependents; the rest is carried on by the next script that
-- fails a task, and by fanout_continue.lua, which whoever caused it (and every sweeping worker) runs until the
-- queue is empty. Meanwhile the dependents still to do stay DEFERRED, which is safe: a failed parent never
-- completes, so nothing can release them, and a retry of it (re-arming them) makes its entry a no-op.
-- Returns how many became IMPOSSIBLE in this script.
--#include links
--#include finished
local fanout_budget = 200
local FAILED = { ERROR = true, CANCELLED = true, DIED = true, TIMEOUT = true, IMPOSSIBLE = true }

local function has_dependents(depends_down, id)
  return #redis.call('ZRANGEBYLEX', depends_down, '[' .. id, '(' .. id .. ':', 'LIMIT', 0, 1) > 0
end

local function fanout_run(depends_down, task_status, task_time_complete, channel, time)
  local n = 0
  while fanout_budget > 0 do
    local p = redis.call('LINDEX', FANOUT, 0)
    if not p then
      break
    end
    local st = redis.call('HGET', task_status, p)
    local done = true
    -- A parent retried (MOVED), re-armed (DEFERRED) or otherwise alive since it was queued here fails no one;
    -- a deleted one (no status) still does, and its links go as they are walked.
    if not st or FAILED[st] then
      local at = redis.call('HGET', FANOUT_AT, p)
      local limit = math.min(fanout_budget, 100)
      local links = redis.call('ZRANGEBYLEX', depends_down, (at and at ~= '') and ('(' .. at) or ('[' .. p),
        '(' .. p .. ':', 'LIMIT', 0, limit)
      fanout_budget = fanout_budget - #links - 1
      if #links > 0 then
        local kids = {}
        for i, m in ipairs(links) do
          kids[i] = string.sub(m, #p + 17)
        end
        local statuses = redis.call('HMGET', task_status, unpack(kids))
        local failed, fields, times = {}, {}, {}
        for i, d in ipairs(kids) do
          if statuses[i] == 'DEFERRED' then
            failed[#failed + 1] = d
            fields[#fields + 1] = d
            fields[#fields + 1] = 'IMPOSSIBLE'
            times[#times + 1] = d
            times[#times + 1] = time
            finished(d, 'IMPOSSIBLE', time)
            if has_dependents(depends_down, d) and redis.call('HSETNX', FANOUT_AT, d, '') == 1 then
              redis.call('RPUSH', FANOUT, d)
            end
          end
        end
        if #failed > 0 then
          redis.call('HSET', task_status, unpack(fields))
          redis.call('HSET', task_time_complete, unpack(times))
          -- One notice for the lot: "= IMPOSSIBLE <id> <id> ...".
          redis.call('PUBLISH', channel, '= IMPOSSIBLE ' .. table.concat(failed, ' '))
          n = n + #failed
        end
        if not st then
          redis.call('ZREM', depends_down, unpack(links))
        end
        if #links == limit then
          redis.call('HSET', FANOUT_AT, p, links[#links])
          done = false
        end
      end
    end
    if done then
      redis.call('LPOP', FANOUT)
      redis.call('HDEL', FANOUT_AT, p)
    end
  end
  return n
end

local function fail_dependents(depends_down, task_status, task_time_complete, channel, id, time)
  if not has_dependents(depends_down, id) then
    return 0
  end
  if redis.call('HSETNX', FANOUT_AT, id, '') == 1 then
    redis.call('RPUSH', FANOUT, id)
  end
  return fanout_run(depends_down, task_status, task_time_complete, channel, time)
end
