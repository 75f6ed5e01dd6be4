-- sweep_turn: one lost-worker sweep per heartbeat period for all the workers of a queue that beat
-- at that period, instead of one per worker (each sweep reads every worker). The first worker to
-- ask in a period takes the turn, for 0.9 of a period: whoever beats first after that takes the
-- next, and the taker's own next beat comes after it ends, so a sweep still runs at least once a
-- period. A worker no longer registered (stopped, lost, its queue destroyed) takes no turn and
-- writes nothing.
--
-- KEYS[1] sweep:<period ms>   KEYS[2] worker:id
-- ARGV[1] worker id           ARGV[2] how long the turn lasts, in ms
--
-- Returns 1 when this worker should sweep now, 0 otherwise.

if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then
  return 0
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
