-- task_resolve: reads, in one step, where each task's retry chain ends and that task's status (and,
-- when asked, its stored result). Read-only. Following the chain and reading the status in separate
-- round trips would race with a worker retrying the newest task in between: the reader would see
-- MOVED as if it were the outcome.
--
-- KEYS[1] task:moved_to    KEYS[2] task:status    KEYS[3] task:result
-- ARGV[1] '1' to follow retry chains, '0' to read the ids as given
-- ARGV[2] '1' to return the results too, '0' for statuses only
-- ARGV[3..] task ids
--
-- Returns a flat array: for each id, the task read (the chain's newest when following), its status
-- (false when it does not exist) and, when asked, its result (false when none).

local follow, with_result = ARGV[1] == '1', ARGV[2] == '1'
local out = {}
for i = 3, #ARGV do
  local id = ARGV[i]
  if follow then
    local hops = 0
    local next_id = redis.call('HGET', KEYS[1], id)
    while next_id do
      id = next_id
      hops = hops + 1
      if hops > 10000 then
        return redis.error_reply('A retry chain from ' .. ARGV[i] .. ' is longer than 10000 tasks (a cycle in task:moved_to?)')
      end
      next_id = redis.call('HGET', KEYS[1], id)
    end
  end
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[2], id)
  if with_result then
    out[#out + 1] = redis.call('HGET', KEYS[3], id)
  end
end
return out
