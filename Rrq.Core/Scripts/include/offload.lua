-- Offloaded values (see Store/OffloadStore.cs): files named by content hash, counted by owner. An
-- owner is a task id (its locals), "<task id>:result" (its result), "shared:<id>" (shared locals) or
-- "response:<worker id>:<message id>" (a worker's answer to a message).
-- owner_key: hash owner -> space-separated content hashes; refs_key: hash content hash -> count.
-- A retried task has no entry of its own: its chain's first task owns the locals they share, and a
-- chain is only ever deleted whole.

-- offload_add(owner_key, refs_key, owner, hashes): records that owner uses the hashes ("" for none).
local function offload_add(owner_key, refs_key, owner, hashes)
  if hashes == nil or hashes == '' then
    return
  end
  redis.call('HSET', owner_key, owner, hashes)
  for h in string.gmatch(hashes, '%S+') do
    redis.call('HINCRBY', refs_key, h, 1)
  end
end

-- offload_release(owner_key, refs_key, owner, freed): forgets owner; hashes no owner uses any more
-- are appended to freed (their files can go).
local function offload_release(owner_key, refs_key, owner, freed)
  local hashes = redis.call('HGET', owner_key, owner)
  if not hashes then
    return
  end
  redis.call('HDEL', owner_key, owner)
  for h in string.gmatch(hashes, '%S+') do
    if redis.call('HINCRBY', refs_key, h, -1) <= 0 then
      redis.call('HDEL', refs_key, h)
      freed[#freed + 1] = h
    end
  end
end
