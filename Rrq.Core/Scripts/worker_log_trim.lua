-- worker_log_trim: retention for workers' logs. Drops, from the head of each log, the lines written before a
-- time ("<seconds.microseconds> LABEL value": the oldest first), at most a number per log, so that a worker that
-- runs for months does not keep a line for every task it ever ran.
--
-- KEYS[1..] worker:<id>:log
-- ARGV[1] the time (seconds) before which lines go   ARGV[2] how many lines at most per log
--
-- Returns how many lines were dropped.

local cutoff = tonumber(ARGV[1])
local max = tonumber(ARGV[2])
local dropped = 0
for _, key in ipairs(KEYS) do
  local head = redis.call('LRANGE', key, 0, max - 1)
  local n = 0
  for _, line in ipairs(head) do
    local t = tonumber(string.match(line, '^(%S+)'))
    if not t or t >= cutoff then
      break
    end
    n = n + 1
  end
  if n > 0 then
    redis.call('LTRIM', key, n, -1)
    dropped = dropped + n
  end
end
return dropped
