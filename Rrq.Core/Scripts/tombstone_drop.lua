-- tombstone_drop: forgets the tombstones of expired tasks whose time has come (see include/finished.lua).
--
-- KEYS[1] expired   KEYS[2] expired_at
-- ARGV[1] how many at most
--
-- Returns how many were dropped.

local t = redis.call('TIME')
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', t[1], 'LIMIT', 0, tonumber(ARGV[1]))
if #ids > 0 then
  redis.call('HDEL', KEYS[1], (table.unpack or unpack)(ids))
  redis.call('ZREM', KEYS[2], (table.unpack or unpack)(ids))
end
return #ids
