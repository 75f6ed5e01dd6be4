-- The front of a queue. Tasks whose dependencies have all COMPLETEd (released by a completion, or submitted after the
-- last of them finished) and tasks a worker took and gives back jump the queue, as in rrq; those sent to the front one
-- after another keep their order among themselves (the first released runs first), which a plain LPUSH would reverse.
-- queue_front (hash: queue name -> n) counts the ids at the head of each queue list that were put there; a claim takes
-- from the head and counts them down (front_taken), so the next ones go after the last of them.
local unpack = table.unpack or unpack

-- front_push(list, front, name, ids): puts `ids`, in their order, behind the tasks already at the front of queue `name`
-- (list key `list`) and before the rest. Costs the number of ids at the front (they are lifted off and put back), which
-- claims keep short. Returns the list's length before the push.
local function front_push(list, front, name, ids)
  if #ids == 0 then
    return redis.call('LLEN', list)
  end
  local n = tonumber(redis.call('HGET', front, name) or '0')
  local ahead = {}
  if n > 0 then
    -- LRANGE and LTRIM rather than LPOP with a count, which Garnet answers with a bare string for one id.
    ahead = redis.call('LRANGE', list, 0, n - 1)
    redis.call('LTRIM', list, #ahead, -1)
  end
  local before = redis.call('LLEN', list) + #ahead
  -- LPUSH puts its last argument first: push from the end backwards, a slice at a time (unpack has a limit).
  local function push_all(xs)
    local j = #xs
    while j >= 1 do
      local i = math.max(1, j - 499)
      local slice = {}
      for k = j, i, -1 do
        slice[#slice + 1] = xs[k]
      end
      redis.call('LPUSH', list, unpack(slice))
      j = i - 1
    end
  end
  push_all(ids)
  push_all(ahead)
  redis.call('HSET', front, name, #ahead + #ids)
  return before
end

-- front_back(list, front, name, id): a task a worker took and never ran goes back first of all: it was at the head when
-- taken. Returns the list's length before the push.
local function front_back(list, front, name, id)
  local before = redis.call('LPUSH', list, id) - 1
  redis.call('HINCRBY', front, name, 1)
  return before
end

-- front_taken(front, name, n): a claim took `n` ids off the head of queue `name`.
local function front_taken(front, name, n)
  local at = tonumber(redis.call('HGET', front, name) or '0')
  if at > n then
    redis.call('HSET', front, name, at - n)
  elseif at > 0 then
    redis.call('HDEL', front, name)
  end
end
