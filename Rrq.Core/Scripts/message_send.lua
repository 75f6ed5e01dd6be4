-- message_send: puts one message on the message lists of the chosen workers and wakes them, or, if
-- any of them is not a live worker of the queue, writes nothing and names it.
--
-- KEYS[1] worker:id        KEYS[2..] worker:<id>:message for each worker, in ARGV order
-- ARGV[1] the message (JSON {id, command, args})   ARGV[2] prefix of the workers' channels
-- ARGV[3..] worker ids
--
-- Returns: {1} sent; {-1, worker id} that worker is not registered (nothing sent). A message still
-- waiting in a worker's list is not pushed again (a send repeated after a lost reply).

--#include publish
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 0 then
    return {-1, ARGV[i]}
  end
end
for i = 3, #ARGV do
  local waiting = false
  for _, m in ipairs(redis.call('LRANGE', KEYS[i - 1], 0, -1)) do
    waiting = waiting or m == ARGV[1]
  end
  if not waiting then
    redis.call('RPUSH', KEYS[i - 1], ARGV[1])
    publish(ARGV[2] .. ARGV[i], 'message')
  end
end
return {1}
