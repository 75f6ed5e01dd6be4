-- worker_note: a worker's small write about its work (a running task's child pid, progress or log
-- line; its own info), made only while the queue still has a record of the worker. A worker whose
-- queue was destroyed under it, or that was declared lost, writes nothing, so no key comes back.
--
-- KEYS[1] worker:status   KEYS[2] the key to write
-- ARGV[1] worker id       ARGV[2] 'hset' (field ARGV[3] of the hash = ARGV[4]) or 'rpush' (append ARGV[3])
--
-- Returns: 1 written, 0 not.

if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
if ARGV[2] == 'hset' then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
else
  redis.call('RPUSH', KEYS[2], ARGV[3])
end
return 1
