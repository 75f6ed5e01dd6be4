-- publish(channel, message): a notice to the queue's subscribers. On a single server, PUBLISH; on a Redis Cluster whose
-- servers have sharded pub/sub, RrqScripts puts include/publish_sharded.lua here instead, so that a notice goes to the
-- node that holds the queue's slot and not to every node.
local function publish(channel, message)
  return redis.call('PUBLISH', channel, message)
end
