-- task_position: where tasks stand in their queues, read in one step with following their retry
-- chains, so a retry in between cannot make a queued task read as "not queued". Read-only.
--
-- KEYS[1] task:moved_to    KEYS[2] task:queue    KEYS[3] queue_skip (ids in the lists that no longer count)
-- KEYS[4..] queue:<name>, named in ARGV after the ids
-- ARGV[1] '1' to follow retry chains, '0' to read the ids as given
-- ARGV[2] the queue to look in, or '' for each task's own queue
-- ARGV[3] '1' to return the ids queued ahead as well (used with one id)
-- ARGV[4] n, then n task ids, then the queue names of KEYS[3..]
--
-- Returns {-4, queue} when a needed queue's key was not passed (nothing is read); otherwise {1, then for each id: the task looked up and its 1-based place in the queue or
-- 0 when it is not queued}, followed with ARGV[3] '1' by the ids ahead of the first task.

--#include follow

local follow, wanted, with_ahead = ARGV[1] == '1', ARGV[2], ARGV[3] == '1'
local n = tonumber(ARGV[4])
local queue_keys = {}
for i = 4, #KEYS do
  queue_keys[ARGV[4 + n + i - 3]] = KEYS[i]
end
local any_skipped = redis.call('SCARD', KEYS[3]) > 0

local leaves, names = {}, {}
for i = 1, n do
  local id, err = follow_chain(KEYS[1], ARGV[4 + i], follow)
  if not id then
    return err
  end
  local q = wanted
  if q == '' then
    q = redis.call('HGET', KEYS[2], id) or 'default'
  end
  if not queue_keys[q] then
    return {-4, q}
  end
  leaves[i], names[i] = id, q
end

-- Each queue is read once, however many of the ids are in it.
local index, lists = {}, {}
local out = {1}
for i = 1, n do
  local q = names[i]
  if not index[q] then
    local ids = redis.call('LRANGE', queue_keys[q], 0, -1)
    if any_skipped then
      local kept = {}
      for _, id in ipairs(ids) do
        if redis.call('SISMEMBER', KEYS[3], id) == 0 then
          kept[#kept + 1] = id
        end
      end
      ids = kept
    end
    local at = {}
    for j = #ids, 1, -1 do
      at[ids[j]] = j
    end
    index[q], lists[q] = at, ids
  end
  out[#out + 1] = leaves[i]
  out[#out + 1] = index[q][leaves[i]] or 0
end
if with_ahead and n >= 1 then
  local place = index[names[1]][leaves[1]]
  if place then
    local ids = lists[names[1]]
    for j = 1, place - 1 do
      out[#out + 1] = ids[j]
    end
  end
end
return out
