-- task_link: the second step of a submission whose tasks have more dependency links than one script writes in a
-- few milliseconds (one task on 10,000 tasks, or a bulk on many). task_submit.lua created the tasks DEFERRED,
-- waiting for all their dependencies, with the ids in task:depends_up and a place in linking; each call here
-- takes up to a budget of those dependencies, from where the last stopped, and for each: links it to the task
-- (include/links.lua), and counts it at once if it has finished: COMPLETE takes one off what the task waits for
-- (when nothing is left, the task is PENDING at the front of its queue), a failure (or a dependency gone)
-- makes the task IMPOSSIBLE. One that finishes after its link is written is counted by the usual release and
-- failure steps, so nothing is counted twice or missed. The submitting client calls this until it is done; a
-- sweeping worker finishes the job of a client that died on the way.
--
-- KEYS[1] task:status   KEYS[2] task:depends_down   KEYS[3] task:moved_to   KEYS[4] task:depends_up
-- KEYS[5] task:depends_left   KEYS[6] task:depends_seq   KEYS[7] task:time_complete   KEYS[8] linking
-- KEYS[9] queue:<name> (the tasks' queue)   KEYS[10] idle:<name>   KEYS[11] worker:id
-- then RrqKeys.FinishedBlock
-- ARGV[1] channel to publish "<id> <status>" on   ARGV[2] prefix of workers' own channels
-- ARGV[3] how many links at most   ARGV[4] the tasks' queue name   ARGV[5..] task ids (all of the queue of KEYS[9]),
-- in submission order
--
-- Returns {how many of the ids are still being linked}.

--#include publish
--#include now
--#include fail_dependents
--#include wake
--#include front

local budget = tonumber(ARGV[3])
local time = now()
local released = {}
local open = 0
for a = 5, #ARGV do
  local id = ARGV[a]
  local at = redis.call('HGET', KEYS[8], id)
  if at and budget <= 0 then
    open = open + 1
  elseif at then
    at = tonumber(at)
    if redis.call('HGET', KEYS[1], id) ~= 'DEFERRED' then
      redis.call('HDEL', KEYS[8], id)   -- cancelled, deleted or failed meanwhile: nothing more to link
    else
      local ups = redis.call('HGET', KEYS[4], id) or ''
      local seq = redis.call('HGET', KEYS[6], id)
      local deps = {}
      while budget > 0 do
        local s, e = string.find(ups, '%S+', at)
        if not s then
          at = nil
          break
        end
        deps[#deps + 1] = string.sub(ups, s, e)
        at = e + 1
        budget = budget - 1
      end
      local statuses = #deps > 0 and redis.call('HMGET', KEYS[1], unpack(deps)) or {}
      local complete, failed, members = 0, false, {}
      for i, dep in ipairs(deps) do
        local leaf, st, gone = resolve_dependency(KEYS[1], KEYS[3], dep, statuses[i] or nil)
        if st and not gone then
          members[#members + 1] = link(root_of(leaf), seq, id)   -- under the chain's first task (include/links.lua)
        end
        if st == 'COMPLETE' then
          complete = complete + 1
        elseif not st or FAILED[st] then
          failed = true   -- (not st: deleted since the submission checked it)
        end
      end
      add_links(KEYS[2], members)
      if failed then
        redis.call('HDEL', KEYS[8], id)
        redis.call('HDEL', KEYS[5], id)
        redis.call('HSET', KEYS[1], id, 'IMPOSSIBLE')
        redis.call('HSET', KEYS[7], id, time)
        finished(id, 'IMPOSSIBLE', time)
        publish(ARGV[1], id .. ' IMPOSSIBLE')
        fail_dependents(KEYS[2], KEYS[1], KEYS[7], ARGV[1], id, time)
      else
        local left = complete > 0 and redis.call('HINCRBY', KEYS[5], id, -complete) or tonumber(redis.call('HGET', KEYS[5], id))
        if at then
          redis.call('HSET', KEYS[8], id, at)
          open = open + 1
        else
          redis.call('HDEL', KEYS[8], id)
          if left <= 0 then
            -- The count is a hint (include/release_dependents.lua): released only if every dependency COMPLETEd.
            local waiting = dependencies_of(KEYS[1], id, nil)
            if waiting == 0 then
              released[#released + 1] = id
            else
              redis.call('HSET', KEYS[5], id, waiting)
            end
          end
        end
      end
    end
  end
end
-- Every dependency had completed: to the front of the queue (behind those there already), in submission order, and an
-- idle worker woken each.
for _, id in ipairs(released) do
  redis.call('HDEL', KEYS[5], id)
  redis.call('HSET', KEYS[1], id, 'PENDING')
end
front_push(KEYS[9], FRONT, ARGV[4], released)
wake_idle(KEYS[10], KEYS[11], ARGV[2], #released)
return {open}
