-- task_link: the first step of a submission whose tasks have more dependency links than one script writes in a
-- few milliseconds (one task on 10,000 tasks, or a bulk on many): it adds the links (include/links.lua) from a
-- slice of the dependencies to a slice of the tasks before the tasks exist, and task_submit.lua then creates
-- them, counting what they wait for, without linking. Until then the links lead to no task, which every walker
-- skips (a task with no status is neither DEFERRED nor anything else); a submission that is refused removes
-- them again ("unlink"), and one whose client died leaves links to nothing, removed with their parent.
--
-- KEYS[1] task:status   KEYS[2] task:depends_down   KEYS[3] task:moved_to   KEYS[4] expired
-- ARGV[1] "link" or "unlink"   ARGV[2] t, then t pairs (task id, its 16-digit sequence), then the dependency ids
--
-- Returns {links written}, or {-5, id}: a dependency does not exist (nothing written by this call).

--#include links
--#include follow

local unpack = table.unpack or unpack
local t = tonumber(ARGV[2])
local first = 3 + 2 * t
local leaves = {}
for i = first, #ARGV, 500 do
  local part = redis.call('HMGET', KEYS[1], unpack(ARGV, i, math.min(i + 499, #ARGV)))
  for j = 1, #part do
    local dep, st = ARGV[i + j - 1], part[j]
    if st == 'MOVED' then
      local leaf, err = follow_chain(KEYS[3], dep, true)
      if not leaf then
        return err
      end
      leaves[#leaves + 1] = leaf
    elseif st then
      leaves[#leaves + 1] = dep
    elseif ARGV[1] == 'link' and not redis.call('HGET', KEYS[4], dep) then
      return {-5, dep}
    end
  end
end
local members = {}
for k = 0, t - 1 do
  local id, seq = ARGV[3 + 2 * k], ARGV[4 + 2 * k]
  for _, dep in ipairs(leaves) do
    members[#members + 1] = link(dep, seq, id)
  end
end
if ARGV[1] == 'link' then
  add_links(KEYS[2], members)
else
  for i = 1, #members, 500 do
    redis.call('ZREM', KEYS[2], unpack(members, i, math.min(i + 499, #members)))
  end
end
return {#members}
