-- separate_next(lcl, lists): how many of the next 8 tasks waiting in lists (queue list keys, highest priority first) run
-- in a separate process (task:local says FALSE). A worker taking a separate-process task is told this, and starts that
-- many processes ahead while the task runs (so the tasks after it find their child ready).
local function separate_next(lcl, lists)
  local separate, left = 0, 8
  for _, list in ipairs(lists) do
    if left <= 0 then
      break
    end
    for _, next_id in ipairs(redis.call('LRANGE', list, 0, left - 1)) do
      left = left - 1
      if redis.call('HGET', lcl, next_id) == 'FALSE' then
        separate = separate + 1
      end
    end
  end
  return separate
end
