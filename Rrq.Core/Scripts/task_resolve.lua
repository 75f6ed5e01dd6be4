-- task_resolve: reads, in one step, where each task's retry chain ends and fields of that task
-- (its status, and what else the caller asks for: result, times, progress). Read-only. Following
-- the chain and reading in separate round trips would race with a worker retrying the newest task
-- in between: the reader would see MOVED as if it were the outcome.
--
-- KEYS[1] task:moved_to    KEYS[2..] hashes keyed by task id to read (task:status, task:result, ...)
-- ARGV[1..] task ids
--
-- Returns a flat array: for each id, the chain's newest task, then its field of each hash in
-- KEYS[2..] in order (false when none).

--#include follow

local out = {}
for i = 1, #ARGV do
  local id, err = follow_chain(KEYS[1], ARGV[i], true)
  if not id then
    return err
  end
  out[#out + 1] = id
  for k = 2, #KEYS do
    out[#out + 1] = redis.call('HGET', KEYS[k], id)
  end
end
return out
