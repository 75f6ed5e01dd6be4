-- follow_chain(moved_to, id, follow): with follow, the newest task of id's retry chain (id itself
-- when never retried), or nil and an error reply when the chain does not end (a cycle in
-- task:moved_to); without, id.
local function follow_chain(moved_to, id, follow)
  if not follow then
    return id
  end
  local hops, next_id = 0, redis.call('HGET', moved_to, id)
  local leaf = id
  while next_id do
    leaf = next_id
    hops = hops + 1
    if hops > 10000 then
      return nil, redis.error_reply('A retry chain from ' .. id .. ' is longer than 10000 tasks (a cycle in task:moved_to?)')
    end
    next_id = redis.call('HGET', moved_to, leaf)
  end
  return leaf
end
