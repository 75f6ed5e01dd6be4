-- worker_respond: a worker stores its response to a message, logs it, and tells waiting controllers.
--
-- KEYS[1] worker:<id>:response    KEYS[2] worker:<id>:log
-- ARGV[1] message id   ARGV[2] response bytes   ARGV[3] command   ARGV[4] response channel
-- ARGV[5] worker id
--
-- Returns: 1.

--#include now
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('RPUSH', KEYS[2], now() .. ' RESPONSE ' .. ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. ' ' .. ARGV[1])
return 1
