-- worker_respond: a worker stores its response to a message, logs it, and tells waiting controllers.
--
-- A worker the queue no longer has a record of (the queue was destroyed) writes nothing.
--
-- KEYS[1] worker:<id>:response    KEYS[2] worker:<id>:log    KEYS[3] worker:status
-- KEYS[4] offload:owner  KEYS[5] offload:refs (see include/offload.lua)
-- ARGV[1] message id   ARGV[2] response bytes   ARGV[3] command   ARGV[4] response channel
-- ARGV[5] worker id    ARGV[6] the content hash of the answer when it was offloaded ("" when stored here)
--
-- Returns: 1, or 0 when nothing was written.

--#include publish
--#include now
--#include offload
if redis.call('HEXISTS', KEYS[3], ARGV[5]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
offload_add(KEYS[4], KEYS[5], 'response:' .. ARGV[5] .. ':' .. ARGV[1], ARGV[6])
redis.call('RPUSH', KEYS[2], now() .. ' RESPONSE ' .. ARGV[3])
publish(ARGV[4], ARGV[5] .. ' ' .. ARGV[1])
return 1
