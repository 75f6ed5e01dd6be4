-- The tasks a worker holds: claimed by it and not yet recorded. worker:task keeps them in the worker's field,
-- space-separated in the order taken: one id for a worker of one slot (as rrq keeps it), up to its Concurrency for
-- one that runs several tasks at once. Every change to a worker's tasks goes through these.

-- held_list(worker_task, w): the ids worker w holds, oldest first ({} for none).
local function held_list(worker_task, w)
  local out = {}
  local s = redis.call('HGET', worker_task, w)
  if s then
    for id in string.gmatch(s, '%S+') do
      out[#out + 1] = id
    end
  end
  return out
end

-- held_set(worker_task, w, ids): writes the list back (the field goes when it is empty).
local function held_set(worker_task, w, ids)
  if #ids == 0 then
    redis.call('HDEL', worker_task, w)
  else
    redis.call('HSET', worker_task, w, table.concat(ids, ' '))
  end
end

-- held_remove(worker_task, w, id): w no longer holds id; returns how many tasks it still holds.
local function held_remove(worker_task, w, id)
  local ids = held_list(worker_task, w)
  local keep = {}
  for _, h in ipairs(ids) do
    if h ~= id then
      keep[#keep + 1] = h
    end
  end
  if #keep ~= #ids then
    held_set(worker_task, w, keep)
  end
  return #keep
end

-- nth_id(new, i): the i-th unused task id of a script that may retry several tasks and was given one unused id,
-- `new` (128 random bits): itself for i = 1, else derived from it.
local function nth_id(new, i)
  if i == 1 then
    return new
  end
  return string.sub(redis.sha1hex(new .. ':' .. i), 1, 32)
end
