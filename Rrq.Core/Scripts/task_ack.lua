-- task_ack: a worker takes up a task handed to it at submission (include/handoff.lua), under a claim token of its
-- own, as it starts it: the task becomes RUNNING, as if the worker's own claim had taken it (should the worker die
-- from now on, the task is DIED, or retried by its policy), and the worker leaves its queues' idle sets.
--
-- KEYS[1] task:status   KEYS[2] task:worker   KEYS[3] task:claim   KEYS[4] worker:task   KEYS[5] worker:<id>:log
-- KEYS[6] task:time_start   KEYS[7] task:local
-- KEYS[8..] for each of the worker's queues, highest priority first: idle:<name>, queue:<name>
-- ARGV[1] task id   ARGV[2] worker id   ARGV[3] the worker's claim token for it
--
-- Returns {1, separate tasks next} taken up (or already, by this token: a repeat after a lost reply), where the second
-- is what a claim tells (include/claim.lua): for a separate-process task, how many of the next tasks of the worker's
-- queues are separate-process too (counted now, so the tasks submitted with it are there), else 0. {0} the task is no
-- longer handed to this worker (a claim of the worker took it first, or it was put back, cancelled or deleted
-- meanwhile): the worker does not run it.
--#include now
--#include held
--#include handoff
--#include separate_next

local id, w, token = ARGV[1], ARGV[2], ARGV[3]

local function taken_up()
  if redis.call('HGET', KEYS[7], id) ~= 'FALSE' then
    return {1, 0}
  end
  local lists = {}
  for i = 9, #KEYS, 2 do
    lists[#lists + 1] = KEYS[i]
  end
  return {1, separate_next(KEYS[7], lists)}
end

if redis.call('HGET', KEYS[3], id) == token then
  return taken_up()
end
local c = { task_claim = KEYS[3], task_worker = KEYS[2], task_status = KEYS[1], time_start = KEYS[6] }
if not unacked_handoff('h.' .. id, id, w, c) then
  return {0}
end
local time = now()
take_up(c, id, token, time)
local ids, tokens = held_list(KEYS[4], w)
for i, h in ipairs(ids) do
  if h == id then
    tokens[i] = token
  end
end
held_set(KEYS[4], w, ids, tokens)
for i = 8, #KEYS, 2 do
  redis.call('SREM', KEYS[i], w)
end
redis.call('RPUSH', KEYS[5], time .. ' TASK_START ' .. id)
return taken_up()
