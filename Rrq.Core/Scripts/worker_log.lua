-- worker_log: append one line to a worker's log, stamped with the server's clock so that lines
-- from workers on different machines sort correctly. A worker the queue no longer knows (the
-- queue was destroyed under it) writes nothing, so no key of a destroyed queue comes back.
--
-- KEYS[1] worker:<id>:log   KEYS[2] worker:status
-- ARGV[1] label   ARGV[2] value ("" for none)   ARGV[3] worker id
--
-- Returns: the log's new length, or 0 when nothing was written.

--#include now
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then
  return 0
end
local time = now()
local line = time .. ' ' .. ARGV[1]
if ARGV[2] ~= '' then
  line = line .. ' ' .. ARGV[2]
end
return redis.call('RPUSH', KEYS[1], line)
