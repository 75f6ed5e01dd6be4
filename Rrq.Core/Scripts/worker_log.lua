-- worker_log: append one line to a worker's log, stamped with the server's clock so that lines
-- from workers on different machines sort correctly.
--
-- KEYS[1] worker:<id>:log
-- ARGV[1] label   ARGV[2] value ("" for none)
--
-- Returns: the log's new length.

--#include now
local time = now()
local line = time .. ' ' .. ARGV[1]
if ARGV[2] ~= '' then
  line = line .. ' ' .. ARGV[2]
end
return redis.call('RPUSH', KEYS[1], line)
