--#include publish
--#include held
-- hand_off(h, id, payload, lcl, timeout): gives a task just submitted straight to a parked worker, so that
-- the worker runs it without a claim of its own (a round trip and a script less between submit and start).
--   h: { idle = idle:<queue>, worker_id, worker_status, worker_task, task_worker, task_claim, envir,
--        prefix = the prefix of workers' own channels }
-- A parked worker is one of the queue's idle set (include/claim.lua) that is still registered, IDLE (not PAUSED) and
-- holds no task. The task, PENDING still, is held by that worker (task:worker, and worker:task under the hand-off
-- token "h.<task id>", which task:claim keeps too) and in no queue list; the worker is BUSY, and is sent the task on
-- its channel ("handoff\n<envir version>\n<id>\n<local flag>\n<timeout>\n<payload>"). The worker takes it up
-- (task_ack.lua) as it starts it: then, and only then, it is RUNNING, under a claim token of the worker's own. Until then:
--   * a claim of that worker takes it instead (the message may be lost: a dropped subscription), so a hand-off
--     is never waited for longer than the worker's poll;
--   * a worker that leaves (worker_exit.lua) or is declared lost (worker_lost.lua) puts it back at the front of its
--     queue: a worker that died while parked loses nothing (the task never started, so it is not DIED);
--   * a cancel, QueueRemove or delete (task_cancel.lua, queue_remove.lua, task_delete.lua) finds it in no list: it is
--     not marked to be skipped there, and the worker's take-up fails, so the worker does not run it.
-- The worker waits for its take-up before running the task; that costs no time, as recording a task's outcome would
-- wait for it anyway.
-- Returns two booleans: whether the task was handed over, and whether an idle worker was found at all (one that is not
-- parked, a worker with slots that is partly busy say, is woken for this task instead, as wake_idle does). Workers that
-- left are passed over.
local function hand_off(h, id, payload, lcl, timeout)
  while true do
    local w = redis.call('SPOP', h.idle)
    if not w then
      return false, false
    end
    if redis.call('SISMEMBER', h.worker_id, w) == 1 then
      if redis.call('HGET', h.worker_status, w) == 'IDLE' and redis.call('HEXISTS', h.worker_task, w) == 0 then
        local token = 'h.' .. id
        redis.call('HSET', h.task_worker, id, w)
        redis.call('HSET', h.task_claim, id, token)
        redis.call('HSET', h.worker_task, w, id .. '@' .. token)
        redis.call('HSET', h.worker_status, w, 'BUSY')
        local version = redis.call('HGET', h.envir, 'version') or '0'
        publish(h.prefix .. w,
          'handoff\n' .. version .. '\n' .. id .. '\n' .. lcl .. '\n' .. timeout .. '\n' .. payload)
        return true, true
      end
      publish(h.prefix .. w, 'wake')
      return false, true
    end
  end
end

-- unacked_handoff(token, id, w, c): whether task id, held by worker w under token, was handed to w and not taken up yet:
-- its token is "h.<id>", and the task is still PENDING, held by w under it. c = { task_claim, task_worker, task_status }.
local function unacked_handoff(token, id, w, c)
  return token ~= nil and token == 'h.' .. id and redis.call('HGET', c.task_claim, id) == token
    and redis.call('HGET', c.task_worker, id) == w and redis.call('HGET', c.task_status, id) == 'PENDING'
end

-- take_up(c, id, token, time): a task handed over starts: RUNNING since time, under the claim token given (the worker's
-- take-up, task_ack.lua, or a claim of that worker that got there first). c = { task_status, time_start, task_claim }.
local function take_up(c, id, token, time)
  redis.call('HSET', c.task_status, id, 'RUNNING')
  redis.call('HSET', c.time_start, id, time)
  redis.call('HSET', c.task_claim, id, token)
end

-- handoff_token(token): whether a claim token (or false/nil: none) is a hand-off's, "h.<task id>"; read without
-- making a string, as a claim asks it of every task its worker holds.
local function handoff_token(token)
  if not token then
    return false
  end
  local b1, b2 = string.byte(token, 1, 2)
  return b1 == 104 and b2 == 46
end

-- handed(task_claim, id): whether a PENDING task is held by a worker it was handed to (so in no queue list), rather
-- than queued. Only a hand-off gives a PENDING task a claim token (a task put back loses it).
local function handed(task_claim, id)
  return handoff_token(redis.call('HGET', task_claim, id))
end

-- to_put_back(c, w, worker_task, queue_hash, asked, qk): the tasks worker w holds that go back to their queues as it
-- leaves: those handed to it and not taken up, and those in the set `asked` (taken, never started) still RUNNING on it.
-- c = { task_claim, task_worker, task_status }; queue_hash = task:queue. Returns them in the order taken, as put_back
-- (include/held.lua) takes them, and the set of their ids; or nil and the name of a queue whose keys qk lacks.
local function to_put_back(c, w, worker_task, queue_hash, asked, qk)
  local back, going = {}, {}
  local ids, tokens = held_list(worker_task, w)
  for i, id in ipairs(ids) do
    if (asked[id] and redis.call('HGET', c.task_status, id) == 'RUNNING' and redis.call('HGET', c.task_worker, id) == w)
        or unacked_handoff(tokens[i], id, w, c) then
      local q = redis.call('HGET', queue_hash, id) or 'default'
      if not qk(q) then
        return nil, q
      end
      back[#back + 1] = { id, qk(q) }
      going[id] = true
    end
  end
  return back, going
end
