-- The dependency links of a queue: one sorted set, task:depends_down, whose members are
-- "<parent id><16-digit sequence><child id>" (all with score 0). The parent is the first task of its retry chain
-- (include/finished.lua root_of): a child waits for the chain's newest task, so a retry moves no link. The sequence numbers a child in the order it was
-- submitted (task:depends_seq keeps each child's). A parent's children are one range of the set in submission
-- order, found, added and removed at a cost of the links concerned (times log of the set's size), never of a
-- long string rewritten for each of them.
local function link(parent, seq, child)
  return parent .. seq .. child
end

-- Adds members (a flat list) in slices: Lua's unpack has a limit on how many values it spreads.
local function add_links(depends_down, members)
  local args = {}
  for _, m in ipairs(members) do
    args[#args + 1] = 0
    args[#args + 1] = m
    if #args >= 1000 then
      redis.call('ZADD', depends_down, (table.unpack or unpack)(args))
      args = {}
    end
  end
  if #args > 0 then
    redis.call('ZADD', depends_down, (table.unpack or unpack)(args))
  end
end

-- Whether a parent has any child.
local function has_dependents(depends_down, parent)
  return #redis.call('ZRANGEBYLEX', depends_down, '[' .. parent, '(' .. parent .. ':', 'LIMIT', 0, 1) > 0
end

