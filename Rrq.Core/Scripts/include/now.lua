-- now(): the Redis server's clock as "seconds.microseconds", the form every stored time takes.
-- clock(): the same string and the raw TIME reply, for a script that needs the clock twice.
local function clock()
  local t = redis.call('TIME')
  return t[1] .. '.' .. string.format('%06d', tonumber(t[2])), t
end

local function now()
  return (clock())
end
