-- worker_beat: a worker's heartbeat, set again (not just extended: a key that expired during an
-- outage comes back) only while the worker is registered, so a worker that was declared lost, or
-- whose queue was destroyed, brings no key back.
--
-- KEYS[1] worker:id   KEYS[2] worker:<id>:heartbeat
-- ARGV[1] worker id   ARGV[2] expiry in ms
--
-- Returns: 1 set; 0 the worker is not registered (nothing written).
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', tonumber(ARGV[2]))
return 1
