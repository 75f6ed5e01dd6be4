-- task_submit: create one or more tasks of one queue. Without dependencies they are PENDING at the
-- tail of the queue; with dependencies that have all COMPLETEd, PENDING at the front (as if released
-- by the last of them: behind the tasks at the front already, in submission order, include/front.lua);
-- while some dependency is unfinished they are DEFERRED
-- (in no queue); if a dependency has failed they are IMPOSSIBLE at once.
--
-- KEYS[1] task:expr        KEYS[2] task:status     KEYS[3] task:queue
-- KEYS[4] task:local       KEYS[5] task:timeout    KEYS[6] task:time_submit
-- KEYS[7] queue:<name>     KEYS[8] task:depends_up KEYS[9] task:depends_left
-- KEYS[10] task:depends_down                       KEYS[11] task:time_complete
-- KEYS[12] queues (set of queue names)           KEYS[13] shared   KEYS[14] shared_refs
-- KEYS[15] task:shared   KEYS[16] task:retry
-- KEYS[17] offload:owner  KEYS[18] offload:refs (see include/offload.lua)
-- KEYS[19] delayed:<name> (the queue's tasks waiting for their time)
-- KEYS[20] task:depends_seq   KEYS[21] depends_counter (see include/links.lua: task:depends_down is a sorted set)
-- KEYS[22] task:moved_to   KEYS[23] idle:<name> (see include/claim.lua)   KEYS[24] worker:id
-- KEYS[25] linking (see task_link.lua)
-- KEYS[26] worker:status  KEYS[27] worker:task  KEYS[28] task:worker  KEYS[29] task:claim  KEYS[30] envir
-- (for a hand-off to a parked worker: include/handoff.lua)   KEYS[31] version   KEYS[32] destroyed
-- then RrqKeys.FinishedBlock (include/finished.lua)
-- ARGV[1] queue name       ARGV[2] "TRUE" (in-process) or "FALSE" (separate process)
-- ARGV[3] timeout in seconds, or ""                ARGV[4] the queue's wake-up channel
-- ARGV[5] channel to publish "<task id> <status>" on
-- ARGV[6] shared-locals id ("" for none)   ARGV[7] their bytes ("" when an earlier call stored them)
-- ARGV[8] number of dependencies d, then ARGV[9 .. 8+d] their ids
-- then triples (task id, payload, content hashes of its offloaded locals or "")
-- then the retry policy ("" for none), the content hashes of the shared locals' offloaded values ("" for none),
-- the delay in ms before the tasks may run ("" for none: they are queued at once), then, for a submission with more
-- dependency links than one script writes in a few milliseconds, how many dependencies there are and their ids
-- joined by spaces (ARGV[8] is then 0: the tasks are created DEFERRED, waiting for all of them, and task_link.lua
-- links them and counts what has finished, a slice per call; else "" and ""), the prefix of workers' own
-- channels, and last the index of this call's first task in the whole submission (a bulk comes in
-- several calls)
--
-- A task queued with nothing ahead of it in its queue goes straight to a parked worker when there is one
-- (include/handoff.lua): PENDING, held by that worker until it starts it.
--
-- A server with none of the queue (no version key) that does not say it was destroyed is not the queue's server yet (an
-- old master back empty during a failover) or lost it (a restart without persistence): the call is refused with TRYAGAIN,
-- which the client retries through its outage budget, and nothing is written there.
--
-- Returns: {n, status} n tasks created with that status (PENDING, DEFERRED or IMPOSSIBLE), or
--   {-1, id}  a task id already exists;  {-5, id} a dependency does not exist (first call of a submission only).
-- Nothing is written when the result is negative. Task ids are fresh random ids, and a call is
-- all or nothing: when its first task exists already, this is the same call sent again after its
-- reply was lost, and it returns {n, "REPEATED"} writing nothing.
-- A bulk submission is several calls; only its first can be refused, so that it is all or nothing as a whole.
-- A dependency retried since the caller read it (MOVED) stands for its chain: the tasks depend on the chain's
-- newest task. In a later call, a dependency deleted since the first call (which made the first calls' tasks
-- IMPOSSIBLE) makes these IMPOSSIBLE too.

--#include publish
--#include now
--#include queue_here
--#include offload
--#include links
--#include finished
--#include front
--#include wake
--#include handoff
--#include batch

local nd = tonumber(ARGV[8])
local first = 9 + nd
-- math.floor: Lua 5.4 (Garnet) makes / a float, and "600.0" is not an integer to HINCRBY.
local policy = ARGV[#ARGV - 6]
local shared_hashes = ARGV[#ARGV - 5]
local delay = ARGV[#ARGV - 4]
local later = ARGV[#ARGV - 3] ~= ''
local joined = ARGV[#ARGV - 2]
local n_deps = later and tonumber(ARGV[#ARGV - 3]) or nd
local wake_prefix = ARGV[#ARGV - 1]
local offset = tonumber(ARGV[#ARGV])
local n = math.floor((#ARGV - 6 - first) / 3)
local first_exists = n > 0 and redis.call('HEXISTS', KEYS[1], ARGV[first]) == 1
if first_exists and redis.call('HGET', KEYS[1], ARGV[first]) == ARGV[first + 1] then
  return {n, 'REPEATED'}
end
if first_exists then
  return {-1, ARGV[first]}
end
local refused = refuse_without_queue(KEYS[31], KEYS[32])
if refused then
  return refused
end
-- The others, 500 at a time: a task exists exactly when it has a status (submit writes it with the payload, delete
-- removes both), and a status is a short read.
local others = {}
for i = 1, n - 1 do
  others[i] = ARGV[first + 3 * i]
end
local status_of = read_all(KEYS[2], others)
for _, id in ipairs(others) do
  if status_of[id] then
    return {-1, id}
  end
end

local left = 0
local failed = false
local deps = {}   -- the chains to link to (of the dependencies that still exist), when linked here
local ups = {}    -- the dependencies as stored (a retried one as its chain's newest task), when not sent joined
local changed = false
-- The dependencies' statuses, read 500 at a time (one HMGET, not one HGET each), and nothing per dependency but
-- what it needs: thousands of them must cost a few milliseconds.
for i = 9, 8 + nd, 500 do
  local last = math.min(i + 499, 8 + nd)
  local part = redis.call('HMGET', KEYS[2], unpack(ARGV, i, last))
  for j = 1, last - i + 1 do
    local dep, st, gone = resolve_dependency(KEYS[2], KEYS[22], ARGV[i + j - 1], part[j] or nil)
    if dep ~= ARGV[i + j - 1] then
      changed = true
    end
    if not st then
      if offset == 0 then
        return {-5, dep}
      end
      failed = true   -- deleted since this submission's first call
      changed = true
    end
    if st == 'COMPLETE' then
      -- nothing to wait for
    elseif st == 'ERROR' or st == 'CANCELLED' or st == 'DIED' or st == 'TIMEOUT' or st == 'IMPOSSIBLE' then
      failed = true
    elseif st then
      left = left + 1
    end
    if st then
      if joined == '' or changed then
        ups[#ups + 1] = dep
      end
      if not gone then
        deps[#deps + 1] = root_of(dep)   -- links are kept under a chain's first task (include/links.lua)
      end
    end
  end
end
if changed and joined ~= '' then
  -- Rare: a dependency was retried or deleted since the caller read it, so the ids as sent are not the ones to
  -- keep. Read them again, as above but without counting.
  ups = {}
  for i = 9, 8 + nd do
    local dep, st = resolve_dependency(KEYS[2], KEYS[22], ARGV[i], false)
    if st then
      ups[#ups + 1] = dep
    end
  end
  joined = ''
end

local status = 'PENDING'
if later then
  status, left = 'DEFERRED', n_deps   -- until task_link.lua has linked and counted them
elseif failed then
  status = 'IMPOSSIBLE'
elseif left > 0 then
  status = 'DEFERRED'
end

local up_list = joined ~= '' and joined or table.concat(ups, ' ')
local time, t = clock()
local ids = {}
-- Each hash gets one HSET per slice of 500 tasks, not one per task: a bulk costs Redis a few commands per hash.
local fields = {}
local function put(key, id, value)
  local f = fields[key]
  if not f then
    f = {}
    fields[key] = f
  end
  f[#f + 1] = id
  f[#f + 1] = value
end
local function flush()
  for key, f in pairs(fields) do
    redis.call('HSET', key, unpack(f))
  end
  fields = {}
end
for i = 0, n - 1 do
  local id = ARGV[first + 3 * i]
  ids[#ids + 1] = id
  put(KEYS[1], id, ARGV[first + 3 * i + 1])
  offload_add(KEYS[17], KEYS[18], id, ARGV[first + 3 * i + 2])
  put(KEYS[2], id, status)
  put(KEYS[3], id, ARGV[1])
  put(KEYS[4], id, ARGV[2])
  if ARGV[3] ~= '' then
    put(KEYS[5], id, ARGV[3])
  end
  put(KEYS[6], id, time)
  if policy ~= '' then
    put(KEYS[16], id, policy)
  end
  if n_deps > 0 then
    put(KEYS[8], id, up_list)
  end
  if status == 'DEFERRED' then
    put(KEYS[9], id, left)
  elseif status == 'IMPOSSIBLE' then
    put(KEYS[11], id, time)
    finished(id, 'IMPOSSIBLE', time)
    publish(ARGV[5], id .. ' IMPOSSIBLE')
  end
  if (i + 1) % 500 == 0 then
    flush()
  end
end
flush()
redis.call('SADD', KEYS[12], ARGV[1])
if ARGV[6] ~= '' then
  if ARGV[7] ~= '' and redis.call('HSETNX', KEYS[13], ARGV[6], ARGV[7]) == 1 then
    offload_add(KEYS[17], KEYS[18], 'shared:' .. ARGV[6], shared_hashes)
  end
  redis.call('HINCRBY', KEYS[14], ARGV[6], n)
  for _, id in ipairs(ids) do
    redis.call('HSET', KEYS[15], id, ARGV[6])
  end
end

if later then
  -- Each task's links are written by task_link.lua, from the first of its dependencies on.
  local base = redis.call('INCRBY', KEYS[21], n) - n
  for i, id in ipairs(ids) do
    redis.call('HSET', KEYS[20], id, string.format('%016d', base + i))
    redis.call('HSET', KEYS[25], id, 1)
  end
elseif nd > 0 then
  -- One link per (dependency, task): each costs the same however many the dependency has already.
  local base = redis.call('INCRBY', KEYS[21], n) - n
  local members = {}
  for i, id in ipairs(ids) do
    local seq = string.format('%016d', base + i)
    redis.call('HSET', KEYS[20], id, seq)
    for _, dep in ipairs(deps) do
      members[#members + 1] = link(dep, seq, id)
    end
  end
  add_links(KEYS[10], members)
end

if status == 'PENDING' and delay ~= '' then
  -- PENDING, but in the queue's delayed set until due; a worker's claim moves them to the queue's
  -- tail then. Idle workers are woken to learn when the first is due.
  -- Each task is due 1/1024 ms after the one before (exact in a double at this size), so they
  -- are queued in submission order rather than in the set's order of equal scores (by id).
  local due = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(delay)
  for i, id in ipairs(ids) do
    redis.call('ZADD', KEYS[19], string.format('%.4f', due + (offset + i - 1) / 1024), id)
  end
  publish(ARGV[4], n)
elseif status == 'PENDING' then
  -- The first tasks go straight to parked workers, while there are any and nothing waits ahead in the queue (so the
  -- queue's order is kept); the rest are queued, and as many idle workers woken as there are tasks left.
  local handed, woken = 0, 0
  if redis.call('LLEN', KEYS[7]) == 0 then
    local h = { idle = KEYS[23], worker_id = KEYS[24], worker_status = KEYS[26], worker_task = KEYS[27],
      task_worker = KEYS[28], task_claim = KEYS[29], envir = KEYS[30], prefix = wake_prefix }
    while handed < n do
      local at = first + 3 * handed
      -- Only a small payload travels on the channel; a large one is read by the worker's claim.
      if #ARGV[at + 1] > 65536 then
        break
      end
      local given, popped = hand_off(h, ARGV[at], ARGV[at + 1], ARGV[2], ARGV[3])
      if not popped then
        break
      end
      if given then
        handed = handed + 1
      else
        woken = woken + 1
        break
      end
    end
  end
  if handed > 0 then
    local rest = {}
    for i = handed + 1, #ids do
      rest[#rest + 1] = ids[i]
    end
    ids = rest
  end
  -- Pushed in slices: Lua's unpack has a limit on how many values it spreads.
  if #ids == 0 then
    -- all handed over
  elseif nd > 0 then
    front_push(KEYS[7], FRONT, ARGV[1], ids)
  else
    for i = 1, #ids, 500 do
      redis.call('RPUSH', KEYS[7], unpack(ids, i, math.min(i + 499, #ids)))
    end
  end
  wake_idle(KEYS[23], KEYS[24], wake_prefix, #ids - woken)
end
return {n, status}
