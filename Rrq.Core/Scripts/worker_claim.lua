-- worker_claim: a worker's one step of work-taking when it has no task to record first (see
-- include/claim.lua): a message for the worker, else the first PENDING task of its queues taken off
-- its queue AND recorded as RUNNING on this worker in the same step.
--
-- KEYS[1] worker:<id>:message   KEYS[2] worker:id        KEYS[3] worker:status
-- KEYS[4] worker:task           KEYS[5] worker:<id>:log  KEYS[6] task:status
-- KEYS[7] task:worker           KEYS[8] task:time_start  KEYS[9] task:expr
-- KEYS[10] task:local           KEYS[11] task:timeout    KEYS[12] envir
-- KEYS[13] task:claim       KEYS[14] worker:claim     KEYS[15] task:queue
-- KEYS[16] queue_skip        KEYS[17] queue_skip_count   KEYS[18] queue_front (include/front.lua)
-- KEYS[19..] for each queue, highest priority first: queue:<name>, delayed:<name>, idle:<name>
-- ARGV[1] worker id          ARGV[2] this claim's token (a repeat with the same token gets the same answer)
-- ARGV[3] the worker's slots ("" for a worker of one slot; see include/claim.lua)
-- ARGV[4..] the queue names, in the order of KEYS[19..]
--
-- Returns what claim() returns: {0, version, next delayed retry due (ms) or ""} nothing to do;
-- {1, version, message}; {2, version, task id, payload, local flag, timeout}; {-1, version} this
-- worker is not registered (it was stopped or declared lost): it must exit.

--#include claim

local queues = {}
for q = 19, #KEYS, 3 do
  queues[#queues + 1] = { KEYS[q], KEYS[q + 1], ARGV[4 + math.floor((q - 19) / 3)], KEYS[q + 2] }
end
return claim({ message = KEYS[1], worker_id = KEYS[2], worker_status = KEYS[3], worker_task = KEYS[4],
  worker_log = KEYS[5], task_status = KEYS[6], task_worker = KEYS[7], time_start = KEYS[8], expr = KEYS[9],
  lcl = KEYS[10], timeout = KEYS[11], envir = KEYS[12], task_claim = KEYS[13], worker_claim = KEYS[14],
  task_queue = KEYS[15], skip = KEYS[16], skip_count = KEYS[17], front = KEYS[18] },
  queues, ARGV[1], nil, ARGV[2], ARGV[3])
