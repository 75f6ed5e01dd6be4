-- envir_set: store a new worker environment and give it the next version, in one step, so a
-- worker never reads a version without its text (or two writers' versions out of order).
--
-- KEYS[1] envir
-- ARGV[1] spec (JSON)   ARGV[2] channel to wake workers on ("" for none)
--
-- Returns: the new version.
--#include publish
local v = redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[1], 'spec', ARGV[1])
if ARGV[2] ~= '' then
  publish(ARGV[2], 'envir')
end
return v
