-- publish(channel, message) on a Redis Cluster with sharded pub/sub: SPUBLISH, heard by the subscribers of the node
-- that holds the channel's slot (the queue's), where a plain PUBLISH would go to every node (see include/publish.lua).
local function publish(channel, message)
  return redis.call('SPUBLISH', channel, message)
end
