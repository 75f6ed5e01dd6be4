-- read_all(key, fields): a hash's values for many fields, read 500 at a time (one HMGET per slice, not one HGET per
-- field): field -> value, false when absent.
local function read_all(key, fields)
  local out = {}
  for i = 1, #fields, 500 do
    local j = math.min(i + 499, #fields)
    local part = redis.call('HMGET', key, (table.unpack or unpack)(fields, i, j))
    for f = i, j do
      out[fields[f]] = part[f - i + 1]
    end
  end
  return out
end
