-- queue_destroy: the first step of Destroy. Marks the queue destroyed, and in the same step takes away the worker
-- registry and the schema version, so that from then on every worker script finds the queue gone on purpose: a busy
-- worker's outcome writes nothing, a claim finds its worker unregistered, and a rejoin finds no queue and the mark (a
-- rejoin in between, while the registry was gone and the version still there, registered a worker anew in a queue being
-- deleted, which then waited in it for ever). The rest of the queue's keys are deleted after this.
--
-- KEYS[1] destroyed   KEYS[2] version   KEYS[3] worker:id   KEYS[4] worker:status
-- ARGV[1] the time (the mark's value)   ARGV[2] how long the mark lasts, in ms
--
-- Returns how many of KEYS[2..4] were deleted.

redis.call('SET', KEYS[1], ARGV[1], 'PX', tonumber(ARGV[2]))
return redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
