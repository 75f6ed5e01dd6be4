-- worker_beat: a worker's heartbeat, set again (not just extended: a key that expired during an
-- outage comes back) only while the worker is registered, so a worker that was declared lost, or
-- whose queue was destroyed, brings no key back.
--
-- KEYS[1] worker:id   KEYS[2] worker:<id>:heartbeat   KEYS[3] version   KEYS[4] destroyed
-- ARGV[1] worker id   ARGV[2] expiry in ms
--
-- Returns: 1 set; 0 the worker is not registered (nothing written); a TRYAGAIN error when the server has none of the
-- queue and no mark that it was destroyed (an old master back empty, or a restart without persistence): the beat did
-- not land anywhere that counts, and the worker must not take it for one that did.
--#include queue_here
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then
  return refuse_without_queue(KEYS[3], KEYS[4]) or 0
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', tonumber(ARGV[2]))
return 1
