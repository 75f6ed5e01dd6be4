-- task_delete: delete tasks and everything stored for them, and take them off their queues.
-- Refuses (deleting nothing) if any of them is RUNNING.
--
-- KEYS[1..n_hash]                the per-task hashes to clear (task:expr, task:status, ...)
-- KEYS[n_hash+1..n_hash+n_queue] the queue lists the tasks may be in
-- KEYS[n_hash+n_queue+1..]       each task's own keys (its log), deleted whole
-- ARGV[1] n_hash   ARGV[2] index of task:status within KEYS   ARGV[3] n_queue   ARGV[4..] task ids
--
-- Returns: {number deleted}, or {-2, id} when a task is RUNNING (nothing deleted).
local n_hash = tonumber(ARGV[1])
local status_key = KEYS[tonumber(ARGV[2])]
local n_queue = tonumber(ARGV[3])
for i = 4, #ARGV do
  if redis.call('HGET', status_key, ARGV[i]) == 'RUNNING' then
    return {-2, ARGV[i]}
  end
end
local deleted = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('HEXISTS', status_key, id) == 1 then
    deleted = deleted + 1
  end
  for q = n_hash + 1, n_hash + n_queue do
    redis.call('LREM', KEYS[q], 0, id)
  end
  for k = 1, n_hash do
    redis.call('HDEL', KEYS[k], id)
  end
end
for k = n_hash + n_queue + 1, #KEYS do
  redis.call('DEL', KEYS[k])
end
return {deleted}
