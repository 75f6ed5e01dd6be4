--#include publish
--#include front
-- The tasks a worker holds: claimed by it and not yet recorded. worker:task keeps them in the worker's field as
-- "<task id>@<claim token>", space-separated in the order taken: one for a worker of one slot, up to its Concurrency for
-- one that runs several tasks at once. Every change to a worker's tasks goes through these.

-- Strings are cut with plain finds, not patterns: a pattern's character classes cost Redis's Lua about a microsecond
-- per entry, on every finish of a worker with slots.

-- last_index(s, ch): where the last ch (one plain character) is in s, or nil.
local function last_index(s, ch)
  local at, found = nil, string.find(s, ch, 1, true)
  while found do
    at = found
    found = string.find(s, ch, found + 1, true)
  end
  return at
end

-- words(s): the space-separated words of s.
local function words(s)
  local out, pos, len = {}, 1, #s
  while pos <= len do
    local sp = string.find(s, ' ', pos, true) or len + 1
    if sp > pos then
      out[#out + 1] = string.sub(s, pos, sp - 1)
    end
    pos = sp + 1
  end
  return out
end

-- held_list(worker_task, w): the ids worker w holds, oldest first, and the tokens of the claims that took them.
local function held_list(worker_task, w)
  local ids, tokens = {}, {}
  local s = redis.call('HGET', worker_task, w)
  if s then
    for _, entry in ipairs(words(s)) do
      local at = string.find(entry, '@', 1, true)
      ids[#ids + 1] = at and string.sub(entry, 1, at - 1) or entry
      tokens[#tokens + 1] = at and string.sub(entry, at + 1) or ''
    end
  end
  return ids, tokens
end

-- held_set(worker_task, w, ids, tokens): writes the list back (the field goes when it is empty).
local function held_set(worker_task, w, ids, tokens)
  if #ids == 0 then
    redis.call('HDEL', worker_task, w)
    return
  end
  local parts = {}
  for i, id in ipairs(ids) do
    parts[i] = id .. '@' .. tokens[i]
  end
  redis.call('HSET', worker_task, w, table.concat(parts, ' '))
end

-- nth_id(new, i): the i-th unused task id of a script that may retry several tasks and was given one unused id,
-- `new` (128 random bits): itself for i = 1, else derived from it.
local function nth_id(new, i)
  if i == 1 then
    return new
  end
  return string.sub(redis.sha1hex(new .. ':' .. i), 1, 32)
end

-- put_back(k, back, log, time): tasks a worker held and never started go back to the front of their queues as PENDING,
-- the first of `back` ending up first: back = { {id, {queue key, delayed key, channel, name}}, ... } in the order taken;
-- k = { status, worker, time_start, claim, front } (the task hashes, and queue_front). Each gets TASK_RETURNED in the
-- worker's log; a queue's channel is told when the push makes it non-empty.
local function put_back(k, back, log, time)
  for i = #back, 1, -1 do
    local id, q = back[i][1], back[i][2]
    redis.call('HSET', k.status, id, 'PENDING')
    redis.call('HDEL', k.worker, id)
    redis.call('HDEL', k.time_start, id)
    redis.call('HDEL', k.claim, id)
    if front_back(q[1], k.front, q[4], id) == 0 then
      publish(q[3], 1)
    end
    redis.call('RPUSH', log, time .. ' TASK_RETURNED ' .. id)
  end
end
