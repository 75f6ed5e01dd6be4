-- The keys every script that ends, retries or deletes tasks gets last in KEYS (RrqKeys.FinishedBlock), in this order:
--   done:complete, done:failed  sorted sets: the newest task of each retry chain that has finished, by completion
--                               time (COMPLETE in the first; ERROR, CANCELLED, DIED, TIMEOUT, IMPOSSIBLE in the
--                               second): retention expires chains from their old end, at a cost of what it expires
--   fanout, fanout_at           a list of tasks whose dependents are still to be made IMPOSSIBLE, and where each
--                               one has got to (see include/fail_dependents.lua)
--   expired, expired_at         tombstones of tasks retention expired: id → the status its chain ended with, and
--                               when the tombstone itself goes (a dependency that expired counts as what it was)
-- N_KEYS is how many keys come before them.
local N_KEYS = #KEYS - 6
local DONE_COMPLETE, DONE_FAILED = KEYS[N_KEYS + 1], KEYS[N_KEYS + 2]
local FANOUT, FANOUT_AT = KEYS[N_KEYS + 3], KEYS[N_KEYS + 4]
local EXPIRED, EXPIRED_AT = KEYS[N_KEYS + 5], KEYS[N_KEYS + 6]
local unpack = table.unpack or unpack

-- A chain's newest task has finished with status (never MOVED) at time.
local function finished(id, status, time)
  redis.call('ZADD', status == 'COMPLETE' and DONE_COMPLETE or DONE_FAILED, time, id)
end

-- Tasks that are no longer a finished chain's newest (retried, re-armed or deleted); at most a few thousand ids.
local function unfinished(ids)
  for i = 1, #ids, 500 do
    local j = math.min(i + 499, #ids)
    redis.call('ZREM', DONE_COMPLETE, unpack(ids, i, j))
    redis.call('ZREM', DONE_FAILED, unpack(ids, i, j))
  end
end

-- A dependency as it stands: a retried one (MOVED) as its chain's newest task, and one retention expired as the
-- status its chain ended with. Returns the id to wait for, its status (nil: no such task), and whether it expired
-- (then there is nothing to link). st: its status when the caller has read it already (false: not read).
--#include follow
local function resolve_dependency(task_status, moved_to, dep, st)
  if st == false then
    st = redis.call('HGET', task_status, dep)
  end
  if st == 'MOVED' then
    dep = follow_chain(moved_to, dep, true) or dep
    st = redis.call('HGET', task_status, dep)
  end
  if st then
    return dep, st, false
  end
  st = redis.call('HGET', EXPIRED, dep)
  return dep, st, st ~= nil
end
