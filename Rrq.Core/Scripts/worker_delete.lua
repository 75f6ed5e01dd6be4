-- worker_delete: removes workers that have left the queue (EXITED or LOST) and everything kept about
-- them, or, if any of them is still live or unknown, removes nothing and names it.
--
-- KEYS[1] worker:id   KEYS[2] worker:status   KEYS[3] worker:task   KEYS[4] worker:info
-- KEYS[5] worker:process   KEYS[6] offload:owner   KEYS[7] offload:refs (see include/offload.lua)
-- KEYS[8..] for each worker, in ARGV order: worker:<id>:log, :message, :response, :heartbeat
-- KEYS[last] worker:claim
-- ARGV[1..] worker ids
--
-- Returns: {1, content hashes of offloaded answers nothing uses any more...} deleted;
-- {-1, id} that worker is live; {-2, id} no such worker.

--#include offload
local unpack = table.unpack or unpack

for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then
    return {-1, ARGV[i]}
  end
  if redis.call('HEXISTS', KEYS[4], ARGV[i]) == 0 then
    return {-2, ARGV[i]}
  end
end
local out = {1}
for i = 1, #ARGV do
  local w = ARGV[i]
  redis.call('HDEL', KEYS[2], w)
  redis.call('HDEL', KEYS[3], w)
  redis.call('HDEL', KEYS[4], w)
  redis.call('HDEL', KEYS[5], w)
  -- Its slots' fields too (w, then w#1 .. w#63 for a worker of several slots; include/claim.lua).
  local fields = { w }
  for slot = 1, 63 do
    fields[#fields + 1] = w .. '#' .. slot
  end
  redis.call('HDEL', KEYS[#KEYS], unpack(fields))
  local k = 8 + (i - 1) * 4
  for _, message in ipairs(redis.call('HKEYS', KEYS[k + 2])) do
    offload_release(KEYS[6], KEYS[7], 'response:' .. w .. ':' .. message, out)
  end
  redis.call('DEL', KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3])
end
return out
