-- A server with none of the queue that does not say it was destroyed is not the queue's server (an old master back
-- empty, reached in the moments before the client learns the Sentinels' choice) or lost the data (a restart without
-- persistence): nothing the caller asked can be judged there. Refused with TRYAGAIN, which the client retries through
-- the outage, and nothing written. Returns the error reply to return, or nil when the queue is here.
local function refuse_without_queue(version, destroyed)
  if redis.call('EXISTS', version, destroyed) == 0 then
    return redis.error_reply('TRYAGAIN this server has none of the queue (it restarted without persistence, or is an ' ..
      'old master back empty during a failover): nothing was written')
  end
end
