-- response_delete: deletes workers' answers to one message, and forgets the offloaded values they
-- used.
--
-- KEYS[1] offload:owner  KEYS[2] offload:refs (see include/offload.lua)
-- KEYS[3..] worker:<id>:response for each worker in ARGV[2..], in the same order
-- ARGV[1] message id   ARGV[2..] worker ids
--
-- Returns the content hashes of offloaded values nothing uses any more (their files can go).

--#include offload

local freed = {}
for i = 2, #ARGV do
  redis.call('HDEL', KEYS[i + 1], ARGV[1])
  offload_release(KEYS[1], KEYS[2], 'response:' .. ARGV[i] .. ':' .. ARGV[1], freed)
end
return freed
