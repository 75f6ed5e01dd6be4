-- The keys every script that ends, retries or deletes tasks gets last in KEYS (RrqKeys.FinishedBlock), in this order:
--   done:complete, done:failed  sorted sets: the newest task of each retry chain that has finished, by completion
--                               time (COMPLETE in the first; ERROR, CANCELLED, DIED, TIMEOUT, IMPOSSIBLE in the
--                               second): retention expires chains from their old end, at a cost of what it expires
--   fanout, fanout_at           a list of chains (by their first task) whose dependents are still to be made
--                               IMPOSSIBLE, and where each walk has got to (see include/fail_dependents.lua)
--   release, release_at         a list of chains that COMPLETEd whose DEFERRED dependents are still to be counted (and
--                               released when nothing is left), and where each walk has got to
--                               (see include/release_dependents.lua)
--   rearm, rearm_at             a list of chains whose IMPOSSIBLE dependents are still to be re-armed after a retry,
--                               and where each walk has got to (see include/rearm_dependents.lua)
--   expired, expired_at         tombstones of tasks retention expired: id → the status its chain ended with, and
--                               when the tombstone itself goes (a dependency that expired counts as what it was)
--   task:moved_to, task:moved_root, task:depends_up, task:depends_left
--                               the per-task hashes these shared steps read: retry chains, and what a task waits for
--   queue_front                 how many ids at the head of each queue were put at the front (include/front.lua)
--   version, destroyed          the queue's schema version (there while the queue is) and Destroy's mark (see
--                               require_queue below)
-- N_KEYS is how many keys come before them.
local N_KEYS = #KEYS - 17
local DONE_COMPLETE, DONE_FAILED = KEYS[N_KEYS + 1], KEYS[N_KEYS + 2]
local FANOUT, FANOUT_AT = KEYS[N_KEYS + 3], KEYS[N_KEYS + 4]
local RELEASE, RELEASE_AT = KEYS[N_KEYS + 5], KEYS[N_KEYS + 6]
local REARM, REARM_AT = KEYS[N_KEYS + 7], KEYS[N_KEYS + 8]
local EXPIRED, EXPIRED_AT = KEYS[N_KEYS + 9], KEYS[N_KEYS + 10]
local MOVED_TO, MOVED_ROOT = KEYS[N_KEYS + 11], KEYS[N_KEYS + 12]
local DEPENDS_UP, DEPENDS_LEFT = KEYS[N_KEYS + 13], KEYS[N_KEYS + 14]
local FRONT = KEYS[N_KEYS + 15]
local VERSION, DESTROYED = KEYS[N_KEYS + 16], KEYS[N_KEYS + 17]
local FAILED = { ERROR = true, CANCELLED = true, DIED = true, TIMEOUT = true, IMPOSSIBLE = true }
local unpack = table.unpack or unpack

--#include queue_here
-- TRYAGAIN, nothing written, on a server that has none of the queue (include/queue_here.lua).
local function require_queue()
  return refuse_without_queue(VERSION, DESTROYED)
end

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
-- (then there is nothing to link). st: its status when the caller has read it already (nil: read, and absent;
-- false: not read).
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

-- The first task of id's retry chain (id itself when it was never retried). Dependency links are kept under it, so
-- that a retry, which adds a task to the chain, moves no link: a dependent waits for its chain's newest task.
local function root_of(id)
  return redis.call('HGET', MOVED_ROOT, id) or id
end

-- What task d still waits for: how many of its dependencies (task:depends_up, each followed to its chain's newest
-- task) have not COMPLETEd, whether one of them failed (or is gone), and how many it has. done_id: a task this script
-- has just completed (its status may not be written yet), counted as COMPLETE. Reads statuses 500 at a time. newest:
-- a table the caller keeps for one script, of retried dependencies already followed to their chain's newest task.
local function dependencies_of(task_status, d, done_id, newest)
  newest = newest or {}
  local ups = {}
  for dep in string.gmatch(redis.call('HGET', DEPENDS_UP, d) or '', '%S+') do
    ups[#ups + 1] = dep
  end
  local waiting, failed = 0, false
  for i = 1, #ups, 500 do
    local j = math.min(i + 499, #ups)
    local part = redis.call('HMGET', task_status, unpack(ups, i, j))
    for x = i, j do
      local st = part[x - i + 1]
      local dep = ups[x]
      if st == 'MOVED' then
        local leaf = newest[dep]
        if not leaf then
          leaf = follow_chain(MOVED_TO, dep, true) or dep
          newest[dep] = leaf
        end
        dep = leaf
        st = redis.call('HGET', task_status, dep)
      elseif not st then
        dep, st = resolve_dependency(task_status, MOVED_TO, dep, nil)   -- expired: its tombstone
      end
      if dep == done_id or st == 'COMPLETE' then
        -- done
      elseif st == 'PENDING' or st == 'DEFERRED' or st == 'RUNNING' then
        waiting = waiting + 1
      else
        failed = true   -- failed, or gone with no tombstone
      end
    end
  end
  return waiting, failed, #ups
end
