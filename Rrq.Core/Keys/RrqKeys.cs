using StackExchange.Redis;

namespace Rrq.Keys;

/// <summary>
/// Every Redis key and pub/sub channel of one queue, built in one place. Each starts with
/// <c>{queueId}</c>: a hash tag, so that all keys of a queue live in one Redis Cluster slot and
/// multi-key Lua scripts stay legal. The layout follows rrq's <c>keys.R</c>; docs/keys.md lists
/// every key with its type and writers, and a unit test pins the strings.
/// </summary>
internal sealed class RrqKeys
{
    /// <summary>The schema this library writes; a queue created with another is refused.</summary>
    public const string SchemaVersion = "rrq-dotnet/6";

    /// <summary>The queue every task goes to unless another is named.</summary>
    public const string DefaultQueue = "default";

    private readonly string _p;

    /// <param name="queueId">The queue's id (its keys' hash tag).</param>
    /// <param name="shardedChannels">The server is a Redis Cluster with sharded pub/sub: channels are sharded
    /// (SSUBSCRIBE/SPUBLISH, served by the node that holds the queue's slot) rather than broadcast to every node.</param>
    public RrqKeys(string queueId, bool shardedChannels = false)
    {
        QueueIdValidation.Check(queueId);
        QueueId = queueId;
        ShardedChannels = shardedChannels;
        _p = "{" + queueId + "}:";

        Version = _p + "version";
        Envir = _p + "envir";
        WorkerConfig = _p + "worker:config";
        WorkerId = _p + "worker:id";
        WorkerStatus = _p + "worker:status";
        WorkerTask = _p + "worker:task";
        WorkerInfo = _p + "worker:info";
        WorkerProcess = _p + "worker:process";
        WorkerClaim = _p + "worker:claim";

        TaskExpr = _p + "task:expr";
        TaskStatus = _p + "task:status";
        TaskQueue = _p + "task:queue";
        TaskLocal = _p + "task:local";
        TaskTimeout = _p + "task:timeout";
        TaskWorker = _p + "task:worker";
        TaskPid = _p + "task:pid";
        TaskResult = _p + "task:result";
        TaskTimeSubmit = _p + "task:time_submit";
        TaskTimeStart = _p + "task:time_start";
        TaskTimeComplete = _p + "task:time_complete";
        TaskTimeMoved = _p + "task:time_moved";
        TaskMovedTo = _p + "task:moved_to";
        TaskMovedRoot = _p + "task:moved_root";
        TaskCancel = _p + "task:cancel";
        TaskDependsUp = _p + "task:depends_up";
        TaskDependsLeft = _p + "task:depends_left";
        TaskDependsDown = _p + "task:depends_down";
        Queues = _p + "queues";
        Shared = _p + "shared";
        SharedRefs = _p + "shared_refs";
        TaskShared = _p + "task:shared";
        TaskRetry = _p + "task:retry";
        TaskAttempt = _p + "task:attempt";
        TaskMovedFrom = _p + "task:moved_from";
        TaskProgress = _p + "task:progress";
        TaskWarnings = _p + "task:warnings";
        TaskClaim = _p + "task:claim";
        TaskReason = _p + "task:reason";
        OffloadOwner = _p + "offload:owner";
        OffloadRefs = _p + "offload:refs";
        OffloadPath = _p + "offload:path";

        TaskCompleteChannel = Channel(_p + "channel:task_complete");
        WorkersChannel = Channel(_p + "channel:workers");
        ResponseChannel = Channel(_p + "channel:response");
    }

    /// <summary>Whether the queue's channels are sharded (a Redis Cluster 7 or later).</summary>
    public bool ShardedChannels { get; }

    private RedisChannel Channel(string name) => ShardedChannels ? RedisChannel.Sharded(name) : RedisChannel.Literal(name);

    public string QueueId { get; }

    /// <summary>string: <see cref="SchemaVersion"/>, written on first use.</summary>
    public RedisKey Version { get; }
    /// <summary>hash: <c>version</c> (integer) and <c>spec</c> (JSON of the worker environment).</summary>
    public RedisKey Envir { get; }
    /// <summary>hash: config name → JSON <see cref="RrqWorkerConfig"/>.</summary>
    public RedisKey WorkerConfig { get; }
    /// <summary>set: ids of live (registered, not exited) workers.</summary>
    public RedisKey WorkerId { get; }
    /// <summary>hash: worker id → IDLE, BUSY, PAUSED, EXITED, LOST.</summary>
    public RedisKey WorkerStatus { get; }
    /// <summary>hash: worker id → the task it is running.</summary>
    public RedisKey WorkerTask { get; }
    /// <summary>hash: worker id → JSON <see cref="RrqWorkerInfo"/>.</summary>
    public RedisKey WorkerInfo { get; }
    /// <summary>hash: worker id → path of its process log (spawned workers).</summary>
    public RedisKey WorkerProcess { get; }

    /// <summary>hash: task id → serialized payload (expression and locals).</summary>
    public RedisKey TaskExpr { get; }
    public RedisKey TaskStatus { get; }
    public RedisKey TaskQueue { get; }
    /// <summary>hash: task id → "TRUE" (in the worker's process) or "FALSE" (separate process).</summary>
    public RedisKey TaskLocal { get; }
    public RedisKey TaskTimeout { get; }
    public RedisKey TaskWorker { get; }
    public RedisKey TaskPid { get; }
    /// <summary>hash: task id → serialized value or error.</summary>
    public RedisKey TaskResult { get; }
    public RedisKey TaskTimeSubmit { get; }
    public RedisKey TaskTimeStart { get; }
    public RedisKey TaskTimeComplete { get; }
    public RedisKey TaskTimeMoved { get; }
    public RedisKey TaskMovedTo { get; }
    public RedisKey TaskMovedRoot { get; }
    /// <summary>hash: task id → the worker asked to cancel it (separate-process tasks).</summary>
    public RedisKey TaskCancel { get; }

    /// <summary>hash: task id → the ids it depends on, as submitted (space-separated).</summary>
    public RedisKey TaskDependsUp { get; }
    /// <summary>hash: DEFERRED task id → how many of its dependencies have not completed yet.</summary>
    public RedisKey TaskDependsLeft { get; }
    /// <summary>sorted set (all scores 0): one member per dependency link, "&lt;parent id&gt;&lt;16-digit sequence&gt;&lt;child id&gt;",
    /// so a task's dependents are one range, in submission order (see Scripts/include/links.lua).</summary>
    public RedisKey TaskDependsDown { get; }

    /// <summary>hash: task id (of a task with dependencies) → its 16-digit submission sequence in its links.</summary>
    public RedisKey TaskDependsSeq => _p + "task:depends_seq";

    /// <summary>string: the last submission sequence given to a task with dependencies.</summary>
    public RedisKey DependsCounter => _p + "depends_counter";
    /// <summary>hash: shared-locals id (a content hash) → the locals a bulk submission shares.</summary>
    public RedisKey Shared { get; }
    /// <summary>hash: shared-locals id → how many tasks use it (it is deleted with the last).</summary>
    public RedisKey SharedRefs { get; }
    /// <summary>hash: task id → the shared-locals id it uses.</summary>
    public RedisKey TaskShared { get; }
    /// <summary>hash: first task of a chain → its automatic retry policy ("max;STATUSES;delay_ms;backoff").</summary>
    public RedisKey TaskRetry { get; }
    /// <summary>hash: task id → which attempt of its chain it is (absent: the first).</summary>
    public RedisKey TaskAttempt { get; }
    /// <summary>hash: MOVED task id → the status it had before it was retried.</summary>
    public RedisKey TaskMovedFrom { get; }
    /// <summary>hash: task id → the latest progress value its code reported (value codec).</summary>
    public RedisKey TaskProgress { get; }
    /// <summary>hash: task id → the warnings it raised (MemoryPack string[]); only tasks that raised any.</summary>
    public RedisKey TaskWarnings { get; }
    /// <summary>hash: task id → the token of the claim that took it (suffixed ":done" once its outcome is written).</summary>
    public RedisKey TaskClaim { get; }
    /// <summary>hash: task id → why it DIED, when a worker's loss or exit ended it (its error says so).</summary>
    public RedisKey TaskReason { get; }
    /// <summary>hash: worker id → the last message it took: the token of that claim, a newline, the message.</summary>
    public RedisKey WorkerClaim { get; }
    /// <summary>hash: owner (a task id, "&lt;task id&gt;:result" or "shared:&lt;id&gt;") → content hashes of its offloaded values.</summary>
    public RedisKey OffloadOwner { get; }
    /// <summary>hash: content hash of an offloaded value → how many owners use it.</summary>
    public RedisKey OffloadRefs { get; }
    /// <summary>string: the offload directory as the last process that had one named it.</summary>
    public RedisKey OffloadPath { get; }

    /// <summary>The keys the retry step of task_finish, worker_exit and worker_lost reads, in its order.</summary>
    public RedisKey[] RetryBlock => [TaskMovedTo, TaskMovedRoot, TaskTimeMoved, TaskTimeSubmit, TaskExpr, TaskLocal, TaskTimeout,
        TaskShared, SharedRefs, TaskDependsUp, TaskRetry, TaskAttempt, TaskDependsLeft, TaskQueue, TaskMovedFrom];

    /// <summary>set: workers of the named queue that found nothing to do at their last claim (a submission wakes as many
    /// of them as it queues tasks, on their own channels).</summary>
    public RedisKey Idle(string name) => _p + "idle:" + name;

    /// <summary>sorted set: automatic retries of the named queue waiting for their delay (score: due, ms).</summary>
    public RedisKey Delayed(string name) => _p + "delayed:" + name;

    /// <summary>set: names of every queue tasks have been submitted to.</summary>
    public RedisKey Queues { get; }

    /// <summary>set: ids left in a queue list by a task that stopped being PENDING there (cancelled, removed or
    /// deleted while queued). Taking an id out of a long list costs a scan of the list, so it is left for the claim
    /// step, which drops it when it comes to the head; until then queue lengths and lists leave these ids out.</summary>
    public RedisKey QueueSkip => _p + "queue_skip";

    /// <summary>hash: queue name → how many of that queue's list entries are in <see cref="QueueSkip"/>.</summary>
    public RedisKey QueueSkipCount => _p + "queue_skip_count";

    /// <summary>string: set by <c>Destroy</c> (the time), expiring after a day: the queue was destroyed on purpose. A worker
    /// that finds its queue's data gone leaves only when this says so; without it the server it reached has lost the data
    /// or is not the master (a restart without persistence, a failover), and the worker waits for the queue to come
    /// back.</summary>
    public RedisKey Destroyed => _p + "destroyed";

    /// <summary>hash: queue name → how many ids at the head of that queue's list were put at the front (released
    /// dependents, tasks given back): the next goes behind them, so those sent to the front keep their order
    /// (include/front.lua).</summary>
    public RedisKey QueueFront => _p + "queue_front";

    /// <summary>list: output lines of a separate-process task's child process.</summary>
    public RedisKey TaskLog(string taskId) => _p + "task:" + taskId + ":log";

    /// <summary>sorted set: the newest task of each retry chain that ended COMPLETE, by completion time (retention reads it).</summary>
    public RedisKey DoneComplete => _p + "done:complete";
    /// <summary>sorted set: the newest task of each retry chain that ended in a failure, by completion time.</summary>
    public RedisKey DoneFailed => _p + "done:failed";
    /// <summary>list: retry chains (by their first task) whose dependents are still to be made IMPOSSIBLE (a large
    /// fan-out, done a slice per script).</summary>
    public RedisKey Fanout => _p + "fanout";
    /// <summary>hash: chain in <see cref="Fanout"/> → the last link of its range walked so far ("" for none).</summary>
    public RedisKey FanoutAt => _p + "fanout_at";
    /// <summary>list: retry chains (by their first task) that COMPLETEd whose DEFERRED dependents are still to be counted
    /// and released (a large fan-out, done a slice per script).</summary>
    public RedisKey Release => _p + "release";
    /// <summary>hash: chain in <see cref="Release"/> → the last link of its range walked so far ("" for none).</summary>
    public RedisKey ReleaseAt => _p + "release_at";
    /// <summary>list: retry chains (by their first task) whose IMPOSSIBLE dependents are still to be re-armed after a
    /// retry (done a slice per script).</summary>
    public RedisKey Rearm => _p + "rearm";
    /// <summary>hash: chain in <see cref="Rearm"/> → the last link of its range walked so far ("" for none).</summary>
    public RedisKey RearmAt => _p + "rearm_at";
    /// <summary>hash: task id expired by retention → the status its chain ended with (a tombstone).</summary>
    public RedisKey Expired => _p + "expired";
    /// <summary>sorted set: tombstones in <see cref="Expired"/> by the time (seconds) they go.</summary>
    public RedisKey ExpiredAt => _p + "expired_at";
    /// <summary>hash: task id → where task_link.lua has got to in its task:depends_up (a byte offset), while a task with
    /// many dependencies is being linked to them.</summary>
    public RedisKey Linking => _p + "linking";
    /// <summary>hash: the queue's retention, <c>complete</c> and <c>failed</c> → seconds to keep finished tasks.</summary>
    public RedisKey Retention => _p + "retention";

    /// <summary>The keys every script that ends, retries or deletes tasks takes last, in the order include/finished.lua reads
    /// them: the finished-chain indexes, the walks over dependents, the tombstones, and the chain and dependency hashes
    /// those shared steps read, the count of each queue's front (a release puts dependents there), and the version and
    /// destroyed mark that tell a server holding the queue from one that has none of it.</summary>
    public RedisKey[] FinishedBlock =>
        [DoneComplete, DoneFailed, Fanout, FanoutAt, Release, ReleaseAt, Rearm, RearmAt, Expired, ExpiredAt, TaskMovedTo, TaskMovedRoot,
            TaskDependsUp, TaskDependsLeft, QueueFront, Version, Destroyed];

    /// <summary>Channel: "&lt;task id&gt; &lt;STATUS&gt;" is published when a task reaches a terminal status.</summary>
    public RedisChannel TaskCompleteChannel { get; }
    /// <summary>Channel: published to wake every worker of the queue (environment changed).</summary>
    public RedisChannel WorkersChannel { get; }
    /// <summary>Channel: "&lt;worker id&gt; &lt;message id&gt;" is published when a worker has stored a response.</summary>
    public RedisChannel ResponseChannel { get; }

    /// <summary>list: ids of PENDING tasks of one named queue, head = next to run.</summary>
    public RedisKey Queue(string name) => _p + "queue:" + name;

    /// <summary>Channel: published when a task is pushed on the named queue.</summary>
    public RedisChannel QueueChannel(string name) => Channel(QueueChannelPrefix + name);

    /// <summary>What a queue's channel name starts with (the Lua scripts add the queue name).</summary>
    public string QueueChannelPrefix => _p + "channel:queue:";

    /// <summary>list: log lines of one worker ("time LABEL value").</summary>
    public RedisKey WorkerLog(string workerId) => _p + "worker:" + workerId + ":log";

    /// <summary>list: messages to one worker (JSON), head = next.</summary>
    public RedisKey WorkerMessage(string workerId) => _p + "worker:" + workerId + ":message";

    /// <summary>hash: message id → JSON response of one worker.</summary>
    public RedisKey WorkerResponse(string workerId) => _p + "worker:" + workerId + ":response";

    /// <summary>string with expiry: refreshed by a worker that has a heartbeat.</summary>
    public RedisKey WorkerHeartbeat(string workerId) => _p + "worker:" + workerId + ":heartbeat";

    /// <summary>string with expiry: the worker whose turn it is to sweep for lost workers, among those
    /// beating every <paramref name="period"/>.</summary>
    public RedisKey SweepTurn(TimeSpan period) => _p + "sweep:" + ((long)period.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Channel: published to wake one worker (a message arrived).</summary>
    public RedisChannel WorkerChannel(string workerId) => Channel(WorkerChannelPrefix + workerId);

    /// <summary>The prefix of every worker's own channel (scripts append the worker id).</summary>
    public string WorkerChannelPrefix => _p + "channel:worker:";

    /// <summary>The pattern that matches every key of this queue (for destroy and tests).</summary>
    public string AllKeysPattern => "{" + QueueId.Replace("*", "\\*", StringComparison.Ordinal)
        .Replace("?", "\\?", StringComparison.Ordinal).Replace("[", "\\[", StringComparison.Ordinal) + "}:*";
}
