--#include held
--#include handoff
--#include front
--#include separate_next
local unpack = table.unpack or unpack   -- Lua 5.4 (Garnet) / 5.1 (Redis)
-- claim(c, queues, w, pre, token, slots): a worker's one step of work-taking, shared by worker_claim (a step on its
-- own) and task_finish (which takes the next task in the same step as recording the last one, saving
-- a round trip per task). A message for the worker wins; otherwise the first PENDING task of its
-- queues (in priority order) is taken off its queue AND recorded as RUNNING on this worker in the
-- same step, so no task is ever in no queue and owned by no one.
--   c: { message, worker_id, worker_status, worker_task, worker_log, task_status, task_worker,
--        time_start, expr, lcl, timeout, envir, task_claim, worker_claim, task_queue, skip, skip_count, front } (keys)
--   Ids in c.skip were left in their list when their task stopped being PENDING there; they are dropped here,
--   at most 1000 per call (then it returns "nothing, but due now", and the worker claims again at once).
--   queues: list of { list key, delayed key, queue name, idle key }, highest priority first. Tasks submitted with a
--           delay and retries waiting for theirs sit in the delayed set; due ones move to the queue's tail. A worker
--           that finds nothing joins each queue's idle set (idle:<name>), and leaves them when it takes work: a
--           submission wakes as many idle workers as it queues tasks, not every worker (task_submit.lua).
--   pre: nil, or what task_finish has read already, to save calls: { t = TIME reply, status = the
--        worker's status, lines = log lines to push before TASK_START when a task is taken (when
--        none is, they are the caller's to push), held = the worker's held list as task_finish left it:
--        { ids, tokens, dirty = not written yet } (claim() writes it when it changes it, and then clears dirty;
--        otherwise writing it is the caller's), registered = the worker's registration was checked in this script,
--        fresh = this claim's token has never been used (so it is no repeat), quiet = the worker's message list, the
--        queues' delayed sets and queue_skip were all found not to exist in this script (none is read again) }.
--   token: the worker's token for this claim. Redis may apply a claim whose reply never reaches the
--          worker (the connection dropped); the worker then sends the same claim again, with the same
--          token, and gets the same answer: the task it took (task:claim records the token of the claim
--          that took each task) or the message it popped (worker:claim keeps the last message a worker
--          took, after its claim's token), never a second one. A repeat whose first try took nothing
--          takes as usual.
--   slots: "" for a worker with one slot. A worker with Concurrency > 1 claims for one free slot at a time, and passes
--          "<field> <count> <full> <horizon> <live token>...": its slot's field in worker:claim (so two slots' message
--          claims never overwrite one another); how many tasks to take at most (one for the slot, and one for each other
--          slot that is free); 1 when taking that many would fill its last free slot (it then leaves the idle sets);
--          the number of the newest token it had made when it wrote this list; and the tokens of its other claims still
--          in flight or running a task. (Tokens are "<worker's prefix>.<number>", numbered in order: a token of its own
--          numbered above the horizon is a claim of another slot sent after this list was written, so it is live too.
--          The second and later tasks of a claim are held under "<token>+2", "<token>+3", ...)
-- A worker asking for work runs only the tasks of its live tokens (none, for a worker of one slot). If Redis says
-- otherwise (a task RUNNING on it under another claim), Redis lost writes it had acknowledged (a crash with appendfsync everysec rewinds up
-- to a second): the worker finished that task and its outcome is gone, or never started it. Either
-- way nobody runs it, so it goes back to the front of its queue (run again: at least once).
-- Returns {kind, envir version, ...} where kind is
--    0  nothing to do:  {0, version, ms epoch of the next delayed task or ""}
--    1  a message:  {1, version, message}
--    2  a task:     {2, version, task id, payload, local flag, timeout, separate tasks next}
--       where the last is, for a separate-process task, how many of the next 8 tasks of the worker's
--       queues are separate-process too (the worker starts their processes ahead); else 0. A claim that takes
--       several tasks has five more entries for each after the first: task id, payload, local flag, timeout, 0.
--   -1  this worker is not registered (it was stopped or declared lost): it must exit.
local function task_reply(c, version, id, queues, more)
  local payload = redis.call('HGET', c.expr, id)
  local lcl = redis.call('HGET', c.lcl, id) or 'TRUE'
  local timeout = lcl == 'FALSE' and redis.call('HGET', c.timeout, id) or ''   -- only a separate process has one
  local separate = 0
  if lcl == 'FALSE' then
    local lists = {}
    for _, q in ipairs(queues) do
      lists[#lists + 1] = q[1]
    end
    separate = separate_next(c.lcl, lists)
  end
  local out = {2, version, id, payload, lcl, timeout, separate}
  for _, other in ipairs(more or {}) do
    out[#out + 1] = other
    out[#out + 1] = redis.call('HGET', c.expr, other)
    out[#out + 1] = redis.call('HGET', c.lcl, other) or 'TRUE'
    out[#out + 1] = out[#out] == 'FALSE' and redis.call('HGET', c.timeout, other) or ''
    out[#out + 1] = 0
  end
  return out
end

local function claim(c, queues, w, pre, token, slots)
  pre = pre or {}
  local field, count, full, live = w, 1, true, { [token] = true }
  local prefix, horizon = nil, nil
  if slots and slots ~= '' then
    local parts = words(slots)
    field, count, full, horizon = parts[1], tonumber(parts[2]), parts[3] == '1', tonumber(parts[4])
    local dot = last_index(token, '.')
    prefix = dot and string.sub(token, 1, dot - 1)
    for i = 5, #parts do
      live[parts[i]] = true
    end
  end
  -- The claim a held task's token belongs to: "<token>+2" was taken by the claim "<token>".
  local function base_of(claimed)
    local plus = last_index(claimed, '+')
    return plus and tonumber(string.sub(claimed, plus + 1)) and string.sub(claimed, 1, plus - 1) or claimed
  end
  local function is_live(claimed)
    if not claimed or claimed == '' then
      return false
    end
    if live[claimed] then
      return true
    end
    local base = base_of(claimed)
    if live[base] then
      return true
    end
    if horizon then
      -- "<prefix>.<number>": a token of this worker made after the list of its live ones was written.
      local dot = last_index(base, '.')
      local n = dot and tonumber(string.sub(base, dot + 1))
      return n ~= nil and string.sub(base, 1, dot - 1) == prefix and n > horizon
    end
    return false
  end
  local multi = slots ~= nil and slots ~= ''
  local function idle(yes)
    for _, q in ipairs(queues) do
      redis.call(yes and 'SADD' or 'SREM', q[4], w)
    end
  end
  local version = redis.call('HGET', c.envir, 'version') or '0'
  if not pre.registered and redis.call('SISMEMBER', c.worker_id, w) == 0 then
    return {-1, version}
  end

  local state = pre.held
  local held, claims
  if state then
    held, claims = state.ids, state.tokens
  else
    held, claims = held_list(c.worker_task, w)
  end
  -- Writes the list, and tells the caller it is written.
  local function write_held()
    held_set(c.worker_task, w, held, claims)
    if state then
      state.ids, state.tokens, state.dirty = held, claims, false
    end
  end
  local again = {}
  for i, h in ipairs(pre.fresh and {} or held) do   -- a token never used before has taken nothing
    if (claims[i] == token or base_of(claims[i]) == token) and redis.call('HGET', c.task_status, h) == 'RUNNING'
        and redis.call('HGET', c.task_worker, h) == w then
      again[#again + 1] = h
    end
  end
  if #again > 0 then
    return task_reply(c, version, again[1], queues, { unpack(again, 2) })   -- this claim, sent again: the tasks it took
  end
  local last = not pre.fresh and redis.call('HGET', c.worker_claim, field)
  if last and string.sub(last, 1, #token + 1) == token .. '\n' then
    return {1, version, string.sub(last, #token + 2)}   -- this claim, sent again: the message it took
  end

  -- Tasks handed to this worker at submission (include/handoff.lua) that it has not taken up: this claim takes them, each
  -- under a token of its own, and the worker ignores the hand-off's message should it come later.
  -- (One whose hand-off was undone meanwhile, by a cancel or a delete, leaves the list.)
  local taken_up, kept, kept_claims = {}, {}, {}
  local time0
  for i, h in ipairs(held) do
    local hand = handoff_token(claims[i])
    if hand and unacked_handoff(claims[i], h, w, c) then
      local mine = #taken_up == 0 and token or (token .. '+' .. (#taken_up + 1))
      if not time0 then
        local t0 = pre.t or redis.call('TIME')
        time0 = t0[1] .. '.' .. string.format('%06d', tonumber(t0[2]))
      end
      take_up(c, h, mine, time0)
      claims[i] = mine
      taken_up[#taken_up + 1] = h
    end
    if not hand or claims[i] ~= 'h.' .. h then
      kept[#kept + 1] = h
      kept_claims[#kept_claims + 1] = claims[i]
    end
  end
  if #kept ~= #held or #taken_up > 0 then
    held, claims = kept, kept_claims
    write_held()
  end
  if #taken_up > 0 then
    local lines = pre.lines or {}
    for _, h in ipairs(taken_up) do
      lines[#lines + 1] = time0 .. ' TASK_START ' .. h
    end
    redis.call('RPUSH', c.worker_log, unpack(lines))
    idle(false)
    return task_reply(c, version, taken_up[1], queues, { unpack(taken_up, 2) })
  end

  if #held > 0 then
    local keep, keep_claims = {}, {}
    for i, h in ipairs(held) do
      local back = false
      if not is_live(claims[i]) and redis.call('HGET', c.task_status, h) == 'RUNNING' and redis.call('HGET', c.task_worker, h) == w then
        local name = redis.call('HGET', c.task_queue, h) or 'default'
        for _, q in ipairs(queues) do
          if q[3] == name then
            redis.call('HSET', c.task_status, h, 'PENDING')
            redis.call('HDEL', c.task_worker, h)
            redis.call('HDEL', c.time_start, h)
            redis.call('HDEL', c.task_claim, h)
            front_back(q[1], c.front, q[3], h)
            local t = redis.call('TIME')
            redis.call('RPUSH', c.worker_log, t[1] .. '.' .. string.format('%06d', tonumber(t[2])) .. ' TASK_RETURNED ' .. h)
            back = true
            break
          end
        end
      end
      if not back then
        keep[#keep + 1] = h
        keep_claims[#keep_claims + 1] = claims[i]
      end
    end
    if #keep ~= #held then
      held, claims = keep, keep_claims
      write_held()
    end
  end

  local msg = not pre.quiet and redis.call('LPOP', c.message)
  if msg then
    idle(false)
    redis.call('HSET', c.worker_claim, field, token .. '\n' .. msg)
    return {1, version, msg}
  end

  local wstatus = pre.status or redis.call('HGET', c.worker_status, w)
  if wstatus == 'PAUSED' then
    idle(false)
    return {0, version, ''}
  end

  local t = pre.t or redis.call('TIME')
  local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local next_due = ''
  for _, q in ipairs(pre.quiet and {} or queues) do
    -- One look at the earliest delayed task; the due ones are moved only when there are any.
    local first = redis.call('ZRANGE', q[2], 0, 0, 'WITHSCORES')
    if first[2] and tonumber(first[2]) <= now_ms then
      for _, id in ipairs(redis.call('ZRANGEBYSCORE', q[2], '-inf', now_ms, 'LIMIT', 0, 1000)) do
        redis.call('ZREM', q[2], id)
        if redis.call('HGET', c.task_status, id) == 'PENDING' then
          redis.call('RPUSH', q[1], id)
        end
      end
      first = redis.call('ZRANGE', q[2], 0, 0, 'WITHSCORES')
    end
    if first[2] and (next_due == '' or tonumber(first[2]) < next_due) then
      next_due = tonumber(first[2])
    end
  end

  local dropped = 0
  local taken = {}
  local time = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
  local lines = pre.lines or {}
  local function reply()
    redis.call('RPUSH', c.worker_log, unpack(lines))
    -- Fewer tasks than free slots: the worker still has room, and the queues are empty.
    if multi and #taken < count then
      idle(true)
    end
    return task_reply(c, version, taken[1], queues, { unpack(taken, 2) })
  end
  for _, q in ipairs(queues) do
    local popped = 0
    while true do
      local id = redis.call('LPOP', q[1])
      if not id then
        break
      end
      popped = popped + 1
      if not pre.quiet and redis.call('SREM', c.skip, id) == 1 then
        redis.call('HINCRBY', c.skip_count, q[3], -1)
        dropped = dropped + 1
        if dropped >= 1000 then
          front_taken(c.front, q[3], popped)
          if #taken > 0 then
            return reply()
          end
          return {0, version, tostring(now_ms)}
        end
      -- Only a PENDING task is claimed; anything else left in a list is skipped.
      elseif redis.call('HGET', c.task_status, id) == 'PENDING' then
        local mine = #taken == 0 and token or (token .. '+' .. (#taken + 1))
        redis.call('HSET', c.task_status, id, 'RUNNING')
        redis.call('HSET', c.task_worker, id, w)
        redis.call('HSET', c.time_start, id, time)
        held[#held + 1] = id
        claims[#claims + 1] = mine
        redis.call('HSET', c.task_claim, id, mine)
        if #taken == 0 then
          if wstatus ~= 'BUSY' then
            redis.call('HSET', c.worker_status, w, 'BUSY')
          end
          -- A busy worker of one slot left the idle sets when it took its last task: no write on the hot path. One of
          -- several slots leaves them when this claim fills its last free slot.
          if wstatus ~= 'BUSY' or (multi and full) then
            idle(false)
          end
        end
        taken[#taken + 1] = id
        lines[#lines + 1] = time .. ' TASK_START ' .. id
        if #taken >= count then
          front_taken(c.front, q[3], popped)
          write_held()
          return reply()
        end
      end
    end
    if popped > 0 then
      front_taken(c.front, q[3], popped)
    end
  end
  if #taken > 0 then
    write_held()
    return reply()
  end
  idle(true)
  if #held == 0 and wstatus == 'BUSY' then
    redis.call('HSET', c.worker_status, w, 'IDLE')   -- BUSY with a task handed to it that was cancelled or deleted
  end
  return {0, version, tostring(next_due)}
end
