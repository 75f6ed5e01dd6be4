-- task_retry: retry finished tasks. Each old task (the newest of its chain, a "leaf") becomes
-- MOVED and points at a new task that runs the chain's first task's expression and locals, with
-- its separate-process flag and timeout, PENDING at the tail of the given queue (default: the
-- old task's, so a chain retried into another queue stays there). Tasks that had become IMPOSSIBLE because the old
-- task failed are queued to be re-armed (DEFERRED again, waiting for the new task: walk_continue.lua, which the
-- caller runs next). All checks come first: either every retry happens or none does.
--
-- KEYS[1] task:status     KEYS[2] task:moved_to    KEYS[3] task:moved_root  KEYS[4] task:time_moved
-- KEYS[5] task:time_submit KEYS[6] task:expr       KEYS[7] task:queue       KEYS[8] task:local
-- KEYS[9] task:timeout    KEYS[10] task:depends_up KEYS[11] task:depends_left
-- KEYS[12] task:depends_down KEYS[13] task:shared  KEYS[14] shared_refs     KEYS[15] queues
-- KEYS[16] task:time_complete KEYS[17] task:moved_from
-- KEYS[18..] queue:<name> for each queue name in ARGV after the retries, in the same order; then RrqKeys.FinishedBlock
-- ARGV[1] channel to publish "<id> <status>" on    ARGV[2] prefix of the queues' channels
-- ARGV[3] number of retries r, then r groups of (leaf id, root id, new id, queue name or "")
-- then the queue names
--
-- Returns: {r, chains queued to be re-armed} done (also when this very call was applied before and its reply lost:
-- the first leaf already points at the first new id); or, with nothing changed:
--   {-1, id} no such task;  {-7, id} it was retried meanwhile (it is no longer the newest);
--   {-8, id, status} its status cannot be retried;  {-4, queue} a queue's key was not passed.

--#include publish
--#include now
--#include move_task

local r = tonumber(ARGV[3])
local names_at = 4 + 4 * r
local queue_keys = {}
for i = 18, N_KEYS do
  queue_keys[ARGV[names_at + i - 18]] = KEYS[i]
end
local retriable = { COMPLETE = true, ERROR = true, CANCELLED = true, DIED = true, TIMEOUT = true }

if r > 0 and redis.call('HGET', KEYS[2], ARGV[4]) == ARGV[6] then
  return {r, redis.call('LLEN', REARM)}
end
local plan = {}
for j = 0, r - 1 do
  local leaf, root, new, q = ARGV[4 + 4 * j], ARGV[5 + 4 * j], ARGV[6 + 4 * j], ARGV[7 + 4 * j]
  local st = redis.call('HGET', KEYS[1], leaf)
  if not st then
    return {-1, leaf}
  end
  if redis.call('HEXISTS', KEYS[2], leaf) == 1 then
    return {-7, leaf}
  end
  if not retriable[st] then
    return {-8, leaf, st}
  end
  if q == '' then
    q = redis.call('HGET', KEYS[7], leaf) or redis.call('HGET', KEYS[7], root) or 'default'
  end
  if not queue_keys[q] then
    return {-4, q}
  end
  plan[#plan + 1] = { leaf = leaf, root = root, new = new, queue = q, status = st }
end

local k = { moved_to = KEYS[2], moved_root = KEYS[3], time_moved = KEYS[4], time_submit = KEYS[5], expr = KEYS[6],
            queue = KEYS[7], lcl = KEYS[8], timeout = KEYS[9], shared = KEYS[13],
            shared_refs = KEYS[14], moved_from = KEYS[17], depends_down = KEYS[12] }
local time = now()
for _, p in ipairs(plan) do
  move_task(k, KEYS[1], p.leaf, p.root, p.new, p.queue, p.status, time, nil, true)
  redis.call('SADD', KEYS[15], p.queue)

  publish(ARGV[1], p.leaf .. ' MOVED')
  if redis.call('RPUSH', queue_keys[p.queue], p.new) == 1 then
    publish(ARGV[2] .. p.queue, 1)
  end
end
return {r, redis.call('LLEN', REARM)}
