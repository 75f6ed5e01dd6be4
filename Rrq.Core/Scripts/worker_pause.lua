-- worker_pause: PAUSE (IDLE -> PAUSED: the worker takes no tasks but still answers messages) or
-- RESUME (PAUSED -> IDLE). Only a registered worker changes: one declared LOST or EXITED meanwhile
-- keeps that status.
--
-- KEYS[1] worker:id   KEYS[2] worker:status   KEYS[3] worker:<id>:log
-- ARGV[1] worker id   ARGV[2] 'PAUSE' or 'RESUME'
--
-- Returns: 'OK' changed; 'NOOP' already so; 'GONE' the worker is no longer registered.

--#include now
local w = ARGV[1]
if redis.call('SISMEMBER', KEYS[1], w) == 0 then
  return 'GONE'
end
local status = redis.call('HGET', KEYS[2], w)
local from, to = 'IDLE', 'PAUSED'
if ARGV[2] == 'RESUME' then
  from, to = 'PAUSED', 'IDLE'
end
if status == to or status ~= from then
  return 'NOOP'
end
redis.call('HSET', KEYS[2], w, to)
redis.call('RPUSH', KEYS[3], now() .. ' ' .. ARGV[2])
return 'OK'
