-- schema_check: write the schema version on first use, or report the one already there; also
-- make sure the default worker configuration exists.
--
-- KEYS[1] version   KEYS[2] worker:config   KEYS[3] destroyed (cleared when the queue is created again)
-- ARGV[1] this library's schema version   ARGV[2] default config JSON
-- ARGV[3] "create" to create the queue when it does not exist; "" (a worker) to leave it absent
--
-- Returns: the stored schema version (equal to ARGV[1] when it was just written), or nil when the
-- queue does not exist and was not created (nothing written).
local v = redis.call('GET', KEYS[1])
if not v and ARGV[3] ~= 'create' then
  return nil
end
if not v then
  redis.call('DEL', KEYS[3])
  redis.call('SET', KEYS[1], ARGV[1])
  v = ARGV[1]
end
if v == ARGV[1] then
  redis.call('HSETNX', KEYS[2], 'localhost', ARGV[2])
end
return v
