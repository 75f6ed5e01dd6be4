-- task_delete: delete tasks and everything stored for them, and take them off their queues.
-- Refuses (deleting nothing) if any of them is RUNNING. Tasks that depended on a deleted task that
-- had not run (PENDING or DEFERRED) become IMPOSSIBLE; a deleted task is unlinked from the tasks it
-- depended on, so their completion can never bring it back.
--
-- KEYS[1] task:status   KEYS[2] task:depends_up   KEYS[3] task:depends_down (a sorted set: include/links.lua)
-- KEYS[4] task:time_complete                      KEYS[5] task:depends_left
-- KEYS[6] task:shared   KEYS[7] shared   KEYS[8] shared_refs
-- KEYS[9] offload:owner  KEYS[10] offload:refs (see include/offload.lua)
-- KEYS[11] task:moved_to  KEYS[12] task:moved_root
-- KEYS[13..n_hash]               the other per-task hashes to clear (task:expr, task:queue, ..., task:depends_seq last)
-- (KEYS[7], KEYS[8] and KEYS[10] are not per-task: shared locals go when their last task goes, and
-- an offloaded value when no task or shared locals use it.)
-- KEYS[n_hash+1] queue_skip   KEYS[n_hash+2] queue_skip_count
-- KEYS[n_hash+3..n_hash+n_queue] the delayed sets of the queues the tasks may be in
-- KEYS[n_hash+n_queue+1..]       each task's own keys (its log), deleted whole;  then RrqKeys.FinishedBlock
-- ARGV[1] n_hash   ARGV[2] n_queue (the number of keys above)   ARGV[3] channel to publish "<id> IMPOSSIBLE"
-- and "<id> DELETED" on   ARGV[4] "" to delete; else only chains whose newest task has finished are deleted (else
-- {-2, id}), and when it is not "0", each id is remembered for that many seconds with the status its chain ended
-- with (a tombstone: retention)   ARGV[5..] ids, then the names of the queues of KEYS[n_hash+3..]
-- A queued task's id is not searched for in its list (a scan of the whole queue per id): it goes in queue_skip,
-- and the claim step drops it when it reaches the head.
--
-- Returns: {number deleted, content hashes of offloaded values no longer used (their files can go)...},
-- or {-2, id} when a task is RUNNING (nothing deleted), or {-9, id} when the ids are not whole retry
-- chains (a retry added a task to that id's chain since the caller read it: read again; nothing deleted).

--#include publish
--#include now
--#include fail_dependents
--#include offload
--#include links
--#include follow
--#include handoff
--#include batch

local n_hash = tonumber(ARGV[1])
local n_queue = tonumber(ARGV[2])
local n_names = n_queue - 2
local last = #ARGV - n_names
local status_key, up_key, down_key = KEYS[1], KEYS[2], KEYS[3]
local keep = ARGV[4]
local delayed_of = {}
for j = 1, n_names do
  delayed_of[ARGV[last + j]] = KEYS[n_hash + 2 + j]
end
-- Each per-task hash is read once for all the ids (include/batch.lua), not once per id.
local given = {}
for i = 5, last do
  given[#given + 1] = ARGV[i]
end
local status_of = read_all(status_key, given)
local gone = {}
for _, id in ipairs(given) do
  local st = status_of[id]
  if st == 'RUNNING' or (keep ~= '' and st and not (st == 'MOVED' or st == 'COMPLETE' or FAILED[st])) then
    return {-2, id}
  end
  gone[id] = true
end
-- A chain is only ever deleted whole.
local newer_of, root_of_given = read_all(KEYS[11], given), read_all(KEYS[12], given)
for _, id in ipairs(given) do
  local newer, root = newer_of[id], root_of_given[id]
  if (newer and not gone[newer]) or (root and not gone[root]) then
    return {-9, id}
  end
end

local time, t = clock()
local deleted = 0
local queued = {}
local doomed = {}   -- deleted before they ran: their dependents can never run
local ids = {}
local up_of, seq_of, claim_of = read_all(up_key, given), read_all(KEYS[n_hash], given), read_all(KEYS[29], given)
for _, id in ipairs(given) do
  ids[#ids + 1] = id
  local st = status_of[id]   -- nothing above changed a status
  if st then
    deleted = deleted + 1
  end
  -- Only a PENDING task is in a queue list (or, waiting for a retry's delay, in a delayed set), unless it was handed
  -- to a worker that has not started it (include/handoff.lua; KEYS[29] is task:claim): its take-up will fail.
  if st == 'PENDING' and not handoff_token(claim_of[id]) then
    queued[#queued + 1] = id
  end
  if st == 'PENDING' or st == 'DEFERRED' then
    doomed[#doomed + 1] = { id, root_of_given[id] or id }   -- its chain's first task, read before the hashes go
  end
  if keep ~= '' and keep ~= '0' and st then
    -- A tombstone: what the chain ended with, until it too goes.
    local leaf = follow_chain(KEYS[11], id, true) or id
    redis.call('HSET', EXPIRED, id, redis.call('HGET', status_key, leaf) or st)
    redis.call('ZADD', EXPIRED_AT, tonumber(t[1]) + tonumber(keep), id)
  end
  -- Its links from the tasks it depended on (one member each, under each one's chain's first task).
  local ups, seq = up_of[id], seq_of[id]
  if ups and seq then
    for dep in string.gmatch(ups, '%S+') do
      redis.call('ZREM', down_key, link(root_of(dep), seq, id))
    end
  end
end
unfinished(ids)

local freed = {}
local shared_of = read_all(KEYS[6], given)
local owners = {}
for _, id in ipairs(given) do
  owners[#owners + 1] = id
  owners[#owners + 1] = id .. ':result'
end
local owned = read_all(KEYS[9], owners)   -- only tasks with offloaded values own anything
for _, id in ipairs(given) do
  local sid = shared_of[id]
  if sid and redis.call('HINCRBY', KEYS[8], sid, -1) <= 0 then
    redis.call('HDEL', KEYS[7], sid)
    redis.call('HDEL', KEYS[8], sid)
    offload_release(KEYS[9], KEYS[10], 'shared:' .. sid, freed)
  end
  if owned[id] then
    offload_release(KEYS[9], KEYS[10], id, freed)
  end
  if owned[id .. ':result'] then
    offload_release(KEYS[9], KEYS[10], id .. ':result', freed)
  end
end

-- KEYS[14] is task:queue (read before the per-task hashes are cleared below). A queued id waiting for its delay leaves
-- the delayed set; one in a list goes to queue_skip, added a queue's worth at a time and counted by what was new.
local queue_of = read_all(KEYS[14], queued)
local listed, order = {}, {}
local has_delayed = {}
for _, id in ipairs(queued) do
  local name = queue_of[id] or 'default'
  local delayed = delayed_of[name]
  if delayed and has_delayed[delayed] == nil then
    has_delayed[delayed] = redis.call('EXISTS', delayed) == 1
  end
  if not (delayed and has_delayed[delayed] and redis.call('ZREM', delayed, id) == 1) then
    if not listed[name] then
      listed[name] = {}
      order[#order + 1] = name
    end
    table.insert(listed[name], id)
  end
end
for _, name in ipairs(order) do
  local list = listed[name]
  for i = 1, #list, 500 do
    local added = redis.call('SADD', KEYS[n_hash + 1], unpack(list, i, math.min(i + 499, #list)))
    if added > 0 then
      redis.call('HINCRBY', KEYS[n_hash + 2], name, added)
    end
  end
end
-- One HDEL per hash for the lot, not one per task.
for k = 1, n_hash do
  if k ~= 3 and k ~= 7 and k ~= 8 and k ~= 9 and k ~= 10 then
    for i = 1, #ids, 500 do
      redis.call('HDEL', KEYS[k], unpack(ids, i, math.min(i + 499, #ids)))
    end
  end
end
for k = n_hash + n_queue + 1, N_KEYS do
  redis.call('DEL', KEYS[k])
end
-- Their dependents, now that they have no status: the walk removes the links it passes (include/fail_dependents.lua).
if #doomed > 0 and redis.call('EXISTS', down_key) == 1 then   -- no link at all: nothing depends on them
  for _, d in ipairs(doomed) do
    fail_dependents(down_key, status_key, KEYS[4], ARGV[3], d[1], time, d[2])
  end
end
-- The links to their own dependents (one range each, under a chain's first task: a chain goes whole, so its first
-- task is among the ids), unless the walk above has yet to pass them.
if redis.call('EXISTS', down_key) == 1 then
  local walking = read_all(FANOUT_AT, ids)
  for _, id in ipairs(ids) do
    if not walking[id] then
      redis.call('ZREMRANGEBYLEX', down_key, '[' .. id, '(' .. id .. ':')
    end
  end
end
-- Listeners may hold a deleted task's value from its completion notification: tell them, in one notice.
if #ids > 0 then
  publish(ARGV[3], '= DELETED ' .. table.concat(ids, ' '))
end
local out = {deleted}
for _, h in ipairs(freed) do
  out[#out + 1] = h
end
return out
