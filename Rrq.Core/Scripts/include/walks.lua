-- The walks over a chain's dependents, a bounded slice per script: the failure walk (FANOUT, include/fail_dependents.lua),
-- the release walk (RELEASE, include/release_dependents.lua) and the re-arm walk (REARM, include/rearm_dependents.lua). Each is a list of chains, named by their first task (the
-- parent their links are kept under), with a hash of how far each walk has got (its last link; "" for none yet).
--#include publish
--#include links
--#include finished
--#include front

-- walk_queue: queues chain `root` for a walk from its first dependent, or starts its queued walk again from there.
local function walk_queue(list, at_key, root)
  if redis.call('HSETNX', at_key, root, '') == 1 then
    redis.call('RPUSH', list, root)
  else
    redis.call('HSET', at_key, root, '')
  end
end

-- walk_head: the chain at the head of a walk's list (nil: none), the status of its newest task (nil: the chain is
-- gone), and that task.
local function walk_head(list, task_status)
  local p = redis.call('LINDEX', list, 0)
  if not p then
    return nil, nil, nil
  end
  local leaf = follow_chain(MOVED_TO, p, true) or p
  return p, redis.call('HGET', task_status, leaf), leaf
end

-- walk_slice: the next `limit` links of chain p's walk, from where it has got to, forwards or (backwards) from its
-- last dependent to its first; the dependents they lead to; and those dependents' statuses.
local function walk_slice(depends_down, task_status, at_key, p, limit, backwards)
  local at = redis.call('HGET', at_key, p)
  local from = at and at ~= ''
  local links
  if backwards then
    links = redis.call('ZREVRANGEBYLEX', depends_down, from and ('(' .. at) or ('(' .. p .. ':'), '[' .. p, 'LIMIT', 0, limit)
  else
    links = redis.call('ZRANGEBYLEX', depends_down, from and ('(' .. at) or ('[' .. p), '(' .. p .. ':', 'LIMIT', 0, limit)
  end
  local kids = {}
  for i, m in ipairs(links) do
    kids[i] = string.sub(m, #p + 17)
  end
  return links, kids, #kids > 0 and redis.call('HMGET', task_status, unpack(kids)) or {}
end

-- walk_release: dependents with nothing left to wait for, released = { {d, q}, ... } in the walk's order (a walk goes from
-- a chain's first dependent on), are PENDING at the front of their queues q (queue_keys maps q to its list and
-- '@channel:' .. q to its channel), behind those released before them: so they run in submission order.
local function walk_release(task_status, queue_keys, released)
  local order, by_queue = {}, {}
  for _, r in ipairs(released) do
    local d, q = r[1], r[2]
    redis.call('HDEL', DEPENDS_LEFT, d)
    redis.call('HSET', task_status, d, 'PENDING')
    if not by_queue[q] then
      by_queue[q] = {}
      order[#order + 1] = q
    end
    by_queue[q][#by_queue[q] + 1] = d
  end
  for _, q in ipairs(order) do
    if front_push(queue_keys[q], FRONT, q, by_queue[q]) == 0 then
      publish(queue_keys['@channel:' .. q], 1)
    end
  end
end

-- walk_next: after a slice of chain p (its list's head), the walk carries on from the slice's last link when the slice
-- was full; otherwise (or with links nil: nothing to walk) it is done and leaves the list.
local function walk_next(list, at_key, p, links, limit)
  if links and #links == limit then
    redis.call('HSET', at_key, p, links[#links])
  else
    redis.call('LPOP', list)
    redis.call('HDEL', at_key, p)
  end
end
