-- wake_idle(idle, worker_id, prefix, n): wakes up to n idle workers of a queue (its idle:<name> set, kept by the
-- claim step), each on its own channel, rather than every worker of the queue for every task. A worker popped here
-- that has left is passed over. Busy workers need no waking: they find the tasks at their next claim.
--#include publish
local function wake_idle(idle, worker_id, prefix, n)
  local woken = 0
  while woken < n do
    local w = redis.call('SPOP', idle)
    if not w then
      break
    end
    if redis.call('SISMEMBER', worker_id, w) == 1 then
      publish(prefix .. w, 'wake')
      woken = woken + 1
    end
  end
end
