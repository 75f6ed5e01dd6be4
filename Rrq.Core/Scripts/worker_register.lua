-- worker_register: a worker announces itself and becomes IDLE.
--
-- KEYS[1] worker:id   KEYS[2] worker:status   KEYS[3] worker:task
-- KEYS[4] worker:info KEYS[5] worker:<id>:log
-- ARGV[1] worker id   ARGV[2] info (JSON)
--
-- Returns: 1, or -1 when a live worker with that id is already registered.
local w = ARGV[1]
if redis.call('SISMEMBER', KEYS[1], w) == 1 then
  return -1
end
local t = redis.call('TIME')
local now = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
redis.call('SADD', KEYS[1], w)
redis.call('HSET', KEYS[2], w, 'IDLE')
redis.call('HDEL', KEYS[3], w)
redis.call('HSET', KEYS[4], w, ARGV[2])
redis.call('RPUSH', KEYS[5], now .. ' ALIVE')
return 1
