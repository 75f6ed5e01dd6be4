-- now(): the Redis server's clock as "seconds.microseconds", the form every stored time takes.
local function now()
  local t = redis.call('TIME')
  return t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
end
