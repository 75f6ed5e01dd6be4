-- task_finish: a worker records the outcome of the task it ran, and what follows from it: on
-- COMPLETE, dependents with nothing left to wait for go to the front of their queues as PENDING (the first slice of
-- the release walk, include/release_dependents.lua);
-- on a failure, the chain's retry policy may retry it at once (it becomes MOVED, its dependents
-- keep waiting for the new task), else every transitive dependent becomes IMPOSSIBLE. All of it
-- happens only if the task is still RUNNING on this worker and the worker is still registered: a
-- task that was meanwhile declared DIED (lost worker), cancelled or deleted keeps that outcome, and
-- the late result is dropped, as is any result once the queue is being destroyed.
-- Then, when asked, the worker's next step of work-taking happens in the same script (see
-- include/claim.lua), so a busy worker costs one round trip per task, not two.
--
-- KEYS[1] task:status      KEYS[2] task:worker      KEYS[3] task:result
-- KEYS[4] task:time_complete                        KEYS[5] worker:task
-- KEYS[6] worker:status    KEYS[7] worker:<id>:log  KEYS[8] task:depends_down
-- KEYS[9..23] the retry keys (see include/auto_retry.lua), task:depends_left and task:queue last
-- KEYS[24] offload:owner  KEYS[25] offload:refs (see include/offload.lua)
-- KEYS[26] worker:<id>:message  KEYS[27] worker:id  KEYS[28] task:time_start  KEYS[29] envir
-- KEYS[30] task:warnings  KEYS[31] task:claim  KEYS[32] worker:claim
-- KEYS[33] queue_skip   KEYS[34] queue_skip_count
-- KEYS[35..34+n] idle:<name> of the worker's own n queues (ARGV[9]), then KEYS[35+n..] for each queue name in
-- ARGV[14..]: its list, then its delayed set; then RrqKeys.FinishedBlock
-- ARGV[1] task id          ARGV[2] worker id        ARGV[3] final status (COMPLETE, ERROR, ...)
-- ARGV[4] result bytes ("" for none: DIED, TIMEOUT, CANCELLED)
-- ARGV[5] channel to publish "<task id> <status>" on (COMPLETE: followed by " <value bytes>" when they
--         are 4 KiB or less)     ARGV[6] prefix of the queues' channels
-- ARGV[7] an unused task id for an automatic retry
-- ARGV[8] the content hash of the result when it was offloaded ("" when stored here)
-- ARGV[9] n: claim the worker's next step from the first n queues of ARGV[14..] (its own, highest
--         priority first); 0 to take nothing
-- ARGV[10] the warnings the task raised (MemoryPack string[]), "" for none
-- ARGV[11] the token of the claim that took this task: the outcome is written only for that claim
-- ARGV[12] the token of the next claim (see include/claim.lua)
-- ARGV[13] the worker's slots, for that claim ("" for a worker of one slot; see include/claim.lua)
-- ARGV[14..] queue names
--
-- Returns: {1, claim...} written; {3, claim...} written, and a walk over dependents (of this task or another) is
-- left for the worker to carry on (walk_continue.lua); {2, claim...} this very outcome was written already (a repeat after a
-- lost reply: nothing is written twice, and the next claim's answer is the first one's); {-1, claim...}
-- the task is no longer RUNNING on this worker under that claim (nothing written to the task; the
-- worker's own bookkeeping is still cleared); a TRYAGAIN error when the task is not found running and the server
-- has none of the queue (include/finished.lua, require_queue: nothing written); {-4, queue} a queue involved was not passed (nothing
-- written at all: call again with it). "claim..." is what claim() returns (nothing when n is 0).

--#include publish
--#include now
--#include fail_dependents
--#include release_dependents
--#include auto_retry
--#include offload
--#include claim
--#include held

local id, w, status = ARGV[1], ARGV[2], ARGV[3]
local time, t = clock()
local k = retry_keys(9)

local queue_keys = {}
local pairs_of = {}
local own = {}
local n_own = tonumber(ARGV[9])
for i = 35 + n_own, N_KEYS, 2 do
  local name = ARGV[14 + math.floor((i - 35 - n_own) / 2)]
  if #own < n_own then
    own[#own + 1] = { KEYS[i], KEYS[i + 1], name, KEYS[35 + #own] }
  end
  queue_keys[name] = KEYS[i]
  queue_keys['@channel:' .. name] = ARGV[6] .. name
  pairs_of[name] = { KEYS[i], KEYS[i + 1], ARGV[6] .. name }
end
local function qk(name)
  return pairs_of[name]
end

-- Most finishes meet a queue where nothing else is going on: no dependency links at all, no walk left to carry on, no
-- message for the worker, nothing delayed, no id to skip in a list. One EXISTS tells; only when it counts something
-- are they looked at one by one (this script writes none of them on the way to its claim unless the task failed).
local quiet_keys = { KEYS[8], FANOUT, RELEASE, KEYS[26], KEYS[33] }
for _, q in ipairs(own) do
  quiet_keys[#quiet_keys + 1] = q[2]
end
local quiet = redis.call('EXISTS', unpack(quiet_keys)) == 0

local result = -1
local token = ARGV[11]
local claimed = redis.call('HGET', KEYS[31], id)
-- A claim token is the worker's own (48 random bits of prefix, then a count), so the task's token being this one says
-- the task is this worker's: its task:worker need not be read as well.
if claimed == token .. ':done' and redis.call('HGET', KEYS[2], id) == w then
  result = 2
elseif claimed == token and redis.call('HGET', KEYS[1], id) == 'RUNNING' and redis.call('SISMEMBER', KEYS[27], w) == 1 then
  if status ~= 'COMPLETE' then
    -- Check before writing: a retry needs its queue's keys.
    local q = redis.call('HGET', k.queue, id) or 'default'
    if redis.call('HEXISTS', k.retry, redis.call('HGET', k.moved_root, id) or id) == 1 and not qk(q) then
      return {-4, q}
    end
  end
  redis.call('HSET', KEYS[1], id, status)
  redis.call('HSET', KEYS[31], id, token .. ':done')
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[3], id, ARGV[4])
    offload_add(KEYS[24], KEYS[25], id .. ':result', ARGV[8])
  end
  redis.call('HSET', KEYS[4], id, time)
  if ARGV[10] ~= '' then
    redis.call('HSET', KEYS[30], id, ARGV[10])
  end
  if status == 'COMPLETE' then
    -- A small value travels with the notification, so a waiter can read it without another round trip.
    if #ARGV[4] <= 4096 then
      publish(ARGV[5], id .. ' COMPLETE ' .. ARGV[4])
    else
      publish(ARGV[5], id .. ' COMPLETE')
    end
    finished(id, status, time)
    if not quiet then
      release_dependents(KEYS[8], KEYS[1], k.queue, queue_keys, redis.call('HGET', k.moved_root, id) or id)
    end
  elseif auto_retry(k, qk, KEYS[1], id, status, ARGV[7], time) == 'retried' then
    publish(ARGV[5], id .. ' MOVED')
    redis.call('RPUSH', KEYS[7], time .. ' TASK_' .. status .. ' ' .. id)
    status = 'RETRY'
  else
    publish(ARGV[5], id .. ' ' .. status)
    finished(id, status, time)
    fail_dependents(KEYS[8], KEYS[1], KEYS[4], ARGV[5], id, time)
  end
  result = 1
  if status ~= 'COMPLETE' then
    quiet = false   -- a retry may have queued or delayed a task, a failure started a walk
  end
  if not quiet and redis.call('EXISTS', FANOUT, RELEASE) > 0 then   -- a list that is empty does not exist
    result = 3
  end
else
  -- Not this worker's RUNNING task here: judged only on a server that has the queue (else TRYAGAIN, nothing written),
  -- so a result is never dropped because the call reached an old master back empty.
  local refused = require_queue()
  if refused then
    return refused
  end
end

-- The worker's own bookkeeping: it holds the task no more, whatever became of it. A worker the queue has no record of
-- (the queue was destroyed under it) leaves no log line behind.
-- (Unless it is RUNNING on this worker under another of its claims: Redis lost this claim's writes, and another slot
-- took the task again.)
-- The list is read once here and written once: by the claim below when it changes it, else at the end.
local held = { dirty = false }
held.ids, held.tokens = held_list(KEYS[5], w)
if not (result == -1 and redis.call('HGET', KEYS[1], id) == 'RUNNING' and redis.call('HGET', KEYS[2], id) == w) then
  local keep, keep_tokens = {}, {}
  for i, h in ipairs(held.ids) do
    if h ~= id then
      keep[#keep + 1] = h
      keep_tokens[#keep_tokens + 1] = held.tokens[i]
    end
  end
  held.dirty = #keep ~= #held.ids
  held.ids, held.tokens = keep, keep_tokens
end
local wstatus = redis.call('HGET', KEYS[6], w)
local line
if result == -1 then
  line = time .. ' TASK_DROPPED ' .. id .. ' ' .. status   -- the outcome came too late (DIED, CANCELLED or deleted meanwhile)
elseif status == 'RETRY' then
  line = time .. ' RETRY ' .. id .. ' ' .. redis.call('HGET', k.moved_to, id)
else
  line = time .. ' TASK_' .. status .. ' ' .. id
end
local out = { result }
if wstatus and n_own > 0 then
  out = claim({ message = KEYS[26], worker_id = KEYS[27], worker_status = KEYS[6], worker_task = KEYS[5],
    worker_log = KEYS[7], task_status = KEYS[1], task_worker = KEYS[2], time_start = KEYS[28], expr = k.expr,
    lcl = k.lcl, timeout = k.timeout, envir = KEYS[29], task_claim = KEYS[31], worker_claim = KEYS[32],
    task_queue = k.queue, skip = KEYS[33], skip_count = KEYS[34], front = FRONT },
    own, w, { t = t, status = wstatus, lines = result == 2 and {} or { line }, held = held,
      -- A first finish (not a repeat) checked the worker's registration, and its next claim's token is new.
      registered = result == 1 or result == 3, fresh = result == 1 or result == 3, quiet = quiet }, ARGV[12], ARGV[13])
  table.insert(out, 1, result)
  if out[2] == 2 then
    if held.dirty then
      held_set(KEYS[5], w, held.ids, held.tokens)   -- a repeated claim's tasks: the list was not written
    end
    return out   -- busy again: claim() logged this task's end with the next one's start
  end
end
if held.dirty then
  held_set(KEYS[5], w, held.ids, held.tokens)
end
-- No next task: the worker is idle, unless other slots of it still run tasks.
if wstatus then
  if wstatus == 'BUSY' and #held.ids == 0 then
    redis.call('HSET', KEYS[6], w, 'IDLE')
  end
  if result ~= 2 then
    redis.call('RPUSH', KEYS[7], line)
  end
end
return out
