using StackExchange.Redis;

namespace Rrq.Scripts;

/// <summary>The wrappers of the scripts a controller runs on tasks and queues: each builds its KEYS and ARGV
/// (in the order the script's header lists) and reads its reply.</summary>
internal sealed partial class QueueContext
{
    /// <summary>schema_check.lua: the queue's schema version, writing it (and the default worker config
    /// <paramref name="defaultConfigJson"/>) when the queue is new and <paramref name="create"/>; null when the queue
    /// does not exist and was not created.</summary>
    public async Task<string?> SchemaCheckAsync(string version, string defaultConfigJson, bool create) =>
        (string?)await EvalAsync(RrqScripts.SchemaCheck, [Keys.Version, Keys.WorkerConfig, Keys.Destroyed],
            [version, defaultConfigJson, create ? "create" : ""]).ConfigureAwait(false);

    /// <summary>envir_set.lua: stores a worker environment (JSON) under the next version, waking workers when
    /// <paramref name="notify"/>. Returns that version.</summary>
    public async Task<long> EnvirSetAsync(string specJson, bool notify, CancellationToken cancellationToken) =>
        (long)await EvalAsync(RrqScripts.EnvirSet, [Keys.Envir], [specJson, notify ? (string)Keys.WorkersChannel! : ""], cancellationToken)
            .ConfigureAwait(false);

    /// <summary>task_submit.lua, for one slice of a submission to <paramref name="queue"/>. <paramref name="head"/>:
    /// ARGV[1..8+d] (queue, flags, channels, shared locals, dependencies); <paramref name="tasks"/>: the (id, payload,
    /// offloaded hashes) triples; then the policy, shared hashes, delay and offset. A call repeated after a lost reply
    /// finds its first task there, and answers as the first did, having written nothing.</summary>
    public async Task<SubmitReply> TaskSubmitAsync(string queue, IEnumerable<RedisValue> head, IEnumerable<RedisValue> tasks, string retryPolicy,
        string sharedHashes, string delayMs, IReadOnlyList<string>? linkLater, int offset, CancellationToken cancellationToken)
    {
        var k = Keys;
        var r = (RedisResult[])(await EvalAsync(RrqScripts.TaskSubmit,
            [k.TaskExpr, k.TaskStatus, k.TaskQueue, k.TaskLocal, k.TaskTimeout, k.TaskTimeSubmit, k.Queue(queue),
                k.TaskDependsUp, k.TaskDependsLeft, k.TaskDependsDown, k.TaskTimeComplete, k.Queues,
                k.Shared, k.SharedRefs, k.TaskShared, k.TaskRetry, k.OffloadOwner, k.OffloadRefs, k.Delayed(queue),
                k.TaskDependsSeq, k.DependsCounter, k.TaskMovedTo, k.Idle(queue), k.WorkerId, k.Linking,
                k.WorkerStatus, k.WorkerTask, k.TaskWorker, k.TaskClaim, k.Envir, k.Version, k.Destroyed, .. k.FinishedBlock],
            [.. head, .. tasks, retryPolicy, sharedHashes, delayMs, linkLater is null ? "" : linkLater.Count, linkLater is null ? "" : string.Join(' ', linkLater),
                k.WorkerChannelPrefix, offset],
            cancellationToken).ConfigureAwait(false))!;
        return new SubmitReply((long)r[0], r.Length > 1 ? (string?)r[1] : null);
    }

    /// <summary>task_link.lua: links tasks of <paramref name="queue"/> created to be linked later to up to
    /// <paramref name="budget"/> of their dependencies, counting those finished already; returns how many of
    /// <paramref name="ids"/> are still being linked (the last ones).</summary>
    public async Task<long> TaskLinkAsync(string queue, IReadOnlyList<string> ids, int budget, CancellationToken cancellationToken)
    {
        var k = Keys;
        var r = (RedisResult[])(await EvalAsync(RrqScripts.TaskLink,
            [k.TaskStatus, k.TaskDependsDown, k.TaskMovedTo, k.TaskDependsUp, k.TaskDependsLeft, k.TaskDependsSeq, k.TaskTimeComplete,
                k.Linking, k.Queue(queue), k.Idle(queue), k.WorkerId, .. k.FinishedBlock],
            [(string)k.TaskCompleteChannel!, k.WorkerChannelPrefix, budget, queue, .. ids.Select(i => (RedisValue)i)], cancellationToken).ConfigureAwait(false))!;
        return (long)r[0];
    }

    /// <summary>task_cancel.lua on a task of <paramref name="queue"/>, for the call with <paramref name="callToken"/>: {1}
    /// cancelled (by this call, or its first try); {2, worker} its worker was asked to kill it; {0, status} nothing to do
    /// (finished, MOVED, or its kill asked for by another call); {-1} no such task; {-3, worker} it runs in its worker's
    /// own process.</summary>
    public async Task<CancelReply> TaskCancelAsync(string taskId, string queue, string callToken, CancellationToken cancellationToken)
    {
        var k = Keys;
        var r = (RedisResult[])(await EvalAsync(RrqScripts.TaskCancel,
            [k.TaskStatus, k.TaskLocal, k.TaskWorker, k.TaskTimeComplete, k.TaskCancel, k.QueueSkip, k.TaskDependsDown,
                k.TaskDependsLeft, k.Delayed(queue), k.QueueSkipCount, k.TaskClaim, .. k.FinishedBlock],
            [taskId, (string)k.TaskCompleteChannel!, queue, callToken], cancellationToken).ConfigureAwait(false))!;
        return new CancelReply((CancelOutcome)(long)r[0], r.Length > 1 ? (string?)r[1] : null);
    }

    /// <summary>task_retry.lua: retries each (leaf, root, new id, target queue) at once, or none; a call repeated after a
    /// lost reply answers as the first did.</summary>
    public async Task<RetryReply> TaskRetryAsync(IReadOnlyList<(string Leaf, string Root, string New, string Queue)> retries,
        CancellationToken cancellationToken)
    {
        var k = Keys;
        var names = retries.Select(r => r.Queue).Distinct(StringComparer.Ordinal).ToArray();
        var args = new List<RedisValue> { (string)k.TaskCompleteChannel!, k.QueueChannelPrefix, retries.Count };
        foreach (var (leaf, root, @new, queue) in retries)
        {
            args.AddRange([leaf, root, @new, queue]);
        }
        args.AddRange(names.Select(n => (RedisValue)n));
        var r = (RedisResult[])(await EvalAsync(RrqScripts.TaskRetry,
            [k.TaskStatus, k.TaskMovedTo, k.TaskMovedRoot, k.TaskTimeMoved, k.TaskTimeSubmit, k.TaskExpr, k.TaskQueue, k.TaskLocal,
                k.TaskTimeout, k.TaskDependsUp, k.TaskDependsLeft, k.TaskDependsDown, k.TaskShared, k.SharedRefs, k.Queues,
                k.TaskTimeComplete, k.TaskMovedFrom, .. names.Select(k.Queue), .. k.FinishedBlock],
            [.. args], cancellationToken).ConfigureAwait(false))!;
        var code = (long)r[0];
        return code < 0
            ? new RetryReply(0, code, (string?)r[1], r.Length > 2 ? (string?)r[2] : null, 0)
            : new RetryReply(code, 0, null, null, (long)r[1]);
    }

    /// <summary>The per-task hashes task_delete clears, in the order its header lists (it reads task:claim as KEYS[29]).</summary>
    private RedisKey[] DeleteHashes =>
    [
        Keys.TaskStatus, Keys.TaskDependsUp, Keys.TaskDependsDown, Keys.TaskTimeComplete, Keys.TaskDependsLeft,
        Keys.TaskShared, Keys.Shared, Keys.SharedRefs, Keys.OffloadOwner, Keys.OffloadRefs, Keys.TaskMovedTo, Keys.TaskMovedRoot,
        Keys.TaskExpr, Keys.TaskQueue, Keys.TaskLocal, Keys.TaskTimeout, Keys.TaskWorker, Keys.TaskPid,
        Keys.TaskResult, Keys.TaskTimeSubmit, Keys.TaskTimeStart, Keys.TaskTimeMoved,
        Keys.TaskCancel, Keys.TaskRetry, Keys.TaskAttempt, Keys.TaskMovedFrom, Keys.TaskProgress, Keys.TaskWarnings, Keys.TaskClaim, Keys.TaskReason,
        Keys.TaskDependsSeq,
    ];

    /// <summary>task_delete.lua: deletes whole retry chains <paramref name="ids"/>, whose tasks are in
    /// <paramref name="queues"/>. With <paramref name="tombstoneFor"/> only finished chains go, each id leaving a
    /// tombstone for that long (none for zero).</summary>
    public async Task<DeleteReply> TaskDeleteAsync(IReadOnlyList<string> ids, IEnumerable<string> queues, CancellationToken cancellationToken,
        TimeSpan? tombstoneFor = null)
    {
        var hashes = DeleteHashes;
        var names = queues.ToArray();
        RedisKey[] queueKeys = [Keys.QueueSkip, Keys.QueueSkipCount, .. names.Select(Keys.Delayed)];
        var r = (RedisResult[])(await EvalAsync(RrqScripts.TaskDelete, [.. hashes, .. queueKeys, .. ids.Select(Keys.TaskLog), .. Keys.FinishedBlock],
            [hashes.Length, queueKeys.Length, (string)Keys.TaskCompleteChannel!,
                tombstoneFor is { } keep ? (keep <= TimeSpan.Zero ? 0 : Math.Max(1, (long)Math.Ceiling(keep.TotalSeconds))) : "",
                .. ids.Select(i => (RedisValue)i), .. names.Select(n => (RedisValue)n)],
            cancellationToken).ConfigureAwait(false))!;
        var code = (long)r[0];
        return code < 0
            ? new DeleteReply(0, [], code, (string?)r[1])
            : new DeleteReply(code, [.. r.Skip(1).Select(h => (string)h!)], 0, null);
    }

    /// <summary>walk_continue.lua: one bounded step of each walk over dependents (failing, releasing, re-arming); returns
    /// how many chains are still queued for them (0: none). A dependent released into a queue not in
    /// <paramref name="queues"/> adds it and asks again.</summary>
    public async Task<long> WalksContinueAsync(List<string> queues, CancellationToken cancellationToken)
    {
        while (true)
        {
            var r = (RedisResult[])(await EvalAsync(RrqScripts.WalkContinue,
                [Keys.TaskDependsDown, Keys.TaskStatus, Keys.TaskTimeComplete, Keys.TaskQueue, .. queues.Select(Keys.Queue), .. Keys.FinishedBlock],
                [WalkBudget, (string)Keys.TaskCompleteChannel!, Keys.QueueChannelPrefix, .. queues.Select(q => (RedisValue)q)],
                cancellationToken).ConfigureAwait(false))!;
            if ((long)r[0] != -4)
            {
                return (long)r[0];
            }
            queues.Add((string)r[1]!);
        }
    }

    /// <summary>Links and dependencies read per <see cref="WalksContinueAsync"/> step by the release and re-arm walks:
    /// a few milliseconds of Redis.</summary>
    internal const int WalkBudget = 1000;

    /// <summary>Runs <see cref="WalksContinueAsync"/> until no walk over dependents is left: after a script that may have
    /// started one bigger than it does itself (each step is a few milliseconds of Redis). <paramref name="queues"/>: the
    /// queues dependents are likely released into (others are learnt as they come).</summary>
    public async Task WalksDrainAsync(CancellationToken cancellationToken, IEnumerable<string>? queues = null)
    {
        var known = queues?.ToList() ?? [];
        while (await WalksContinueAsync(known, cancellationToken).ConfigureAwait(false) > 0)
        {
        }
    }

    /// <summary>worker_log_trim.lua: drops the lines written before <paramref name="before"/> from the head of each worker's
    /// log, at most <paramref name="max"/> per log; returns how many.</summary>
    public async Task<long> WorkerLogTrimAsync(IReadOnlyList<string> workerIds, DateTimeOffset before, int max, CancellationToken cancellationToken) =>
        workerIds.Count == 0 ? 0 : (long)(await EvalAsync(RrqScripts.WorkerLogTrim, [.. workerIds.Select(Keys.WorkerLog)],
            [before.ToUnixTimeMilliseconds() / 1000.0, max], cancellationToken).ConfigureAwait(false));

    /// <summary>tombstone_drop.lua: forgets up to <paramref name="max"/> tombstones whose time has come; returns how many.</summary>
    public async Task<long> TombstoneDropAsync(int max, CancellationToken cancellationToken) =>
        (long)(await EvalAsync(RrqScripts.TombstoneDrop, [Keys.Expired, Keys.ExpiredAt], [max], cancellationToken).ConfigureAwait(false));

    /// <summary>task_resolve.lua (read-only): for each id, the newest task of its chain, then that task's field in each of
    /// <paramref name="hashes"/>, flat.</summary>
    public async Task<(string[] Leaves, RedisValue[][] Fields)> TaskResolveAsync(IReadOnlyList<string> ids, RedisKey[] hashes)
    {
        var flat = (RedisResult[])(await EvalAsync(RrqScripts.TaskResolve, [Keys.TaskMovedTo, .. hashes], [.. ids.Select(i => (RedisValue)i)])
            .ConfigureAwait(false))!;
        var width = 1 + hashes.Length;
        var leaves = new string[ids.Count];
        var fields = hashes.Select(_ => new RedisValue[ids.Count]).ToArray();
        for (var j = 0; j * width < flat.Length; j++)
        {
            leaves[j] = (string)flat[j * width]!;
            for (var h = 0; h < hashes.Length; h++)
            {
                fields[h][j] = (RedisValue)flat[j * width + 1 + h];
            }
        }
        return (leaves, fields);
    }

    /// <summary>task_position.lua (read-only): each id's place in its queue (or <paramref name="queue"/>), and the ids
    /// ahead of the first when <paramref name="ahead"/>; <paramref name="names"/> are every queue the tasks may be in.
    /// <c>MissingQueue</c> names a task's queue absent from <paramref name="names"/> (then nothing else is read).</summary>
    public async Task<(long[] Positions, string[] Ahead, string? MissingQueue)> TaskPositionAsync(IReadOnlyList<string> ids, string queue,
        bool follow, bool ahead, IReadOnlyList<string> names)
    {
        var r = (RedisResult[])(await EvalAsync(RrqScripts.TaskPosition, [Keys.TaskMovedTo, Keys.TaskQueue, Keys.QueueSkip, .. names.Select(Keys.Queue)],
            [follow ? "1" : "0", queue, ahead ? "1" : "0", ids.Count, .. ids.Select(i => (RedisValue)i), .. names.Select(n => (RedisValue)n)])
            .ConfigureAwait(false))!;
        if ((long)r[0] == -4)
        {
            return ([], [], (string?)r[1]);
        }
        var positions = new long[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            positions[i] = (long)r[2 + 2 * i];
        }
        return (positions, [.. r.Skip(1 + 2 * ids.Count).Select(x => (string)x!)], null);
    }

    /// <summary>One page of HSCAN over <paramref name="hash"/> from <paramref name="cursor"/>: the next cursor (0 at the
    /// end) and the field names.</summary>
    public async Task<(long Next, string[] Fields)> HashScanFieldsAsync(RedisKey hash, long cursor, int count, CancellationToken cancellationToken)
    {
        var step = (RedisResult[])(await RunAsync(db => db.ExecuteAsync("HSCAN", hash, cursor, "COUNT", count), cancellationToken)
            .ConfigureAwait(false))!;
        var pairs = (RedisResult[])step[1]!;
        return (long.Parse((string)step[0]!, System.Globalization.CultureInfo.InvariantCulture),
            [.. Enumerable.Range(0, pairs.Length / 2).Select(i => (string)pairs[2 * i]!)]);
    }

    /// <summary>queue_destroy.lua: marks the queue destroyed (for <paramref name="markLife"/>, with <paramref name="time"/>)
    /// and deletes its worker registry and schema version in the same step; returns how many of those were deleted.</summary>
    public async Task<long> QueueDestroyAsync(DateTimeOffset time, TimeSpan markLife, CancellationToken cancellationToken) =>
        (long)(await EvalAsync(RrqScripts.QueueDestroy, [Keys.Destroyed, Keys.Version, Keys.WorkerId, Keys.WorkerStatus],
            [time.ToString("O", System.Globalization.CultureInfo.InvariantCulture), (long)markLife.TotalMilliseconds], cancellationToken)
            .ConfigureAwait(false));

    /// <summary>queue_remove.lua: takes queued tasks off <paramref name="queue"/> as CANCELLED; for each, whether it was.</summary>
    public async Task<bool[]> QueueRemoveAsync(IReadOnlyList<string> ids, string queue, CancellationToken cancellationToken)
    {
        var r = (RedisResult[])(await EvalAsync(RrqScripts.QueueRemove,
            [Keys.Delayed(queue), Keys.TaskStatus, Keys.TaskTimeComplete, Keys.TaskDependsDown, Keys.TaskQueue, Keys.QueueSkip, Keys.QueueSkipCount,
                Keys.TaskClaim, Keys.TaskWorker, .. Keys.FinishedBlock],
            [(string)Keys.TaskCompleteChannel!, queue, .. ids.Select(i => (RedisValue)i)], cancellationToken).ConfigureAwait(false))!;
        return [.. r.Select(x => (long)x == 1)];
    }

    /// <summary>message_send.lua: pushes <paramref name="messageJson"/> to each worker, or to none when one is not
    /// registered (returned). A call repeated after a lost reply does not push the message twice.</summary>
    public async Task<string?> MessageSendAsync(string messageJson, IReadOnlyList<string> workerIds)
    {
        var r = (RedisResult[])(await EvalAsync(RrqScripts.MessageSend, [Keys.WorkerId, .. workerIds.Select(Keys.WorkerMessage)],
            [messageJson, Keys.WorkerChannelPrefix, .. workerIds.Select(w => (RedisValue)w)]).ConfigureAwait(false))!;
        return (long)r[0] < 0 ? (string?)r[1] : null;
    }

    /// <summary>response_delete.lua: deletes the workers' answers to a message; returns the offloaded hashes nothing uses any more.</summary>
    public async Task<string[]> ResponseDeleteAsync(string messageId, IReadOnlyList<string> workerIds, CancellationToken cancellationToken)
    {
        var r = (RedisResult[])(await EvalAsync(RrqScripts.ResponseDelete,
            [Keys.OffloadOwner, Keys.OffloadRefs, .. workerIds.Select(Keys.WorkerResponse)],
            [messageId, .. workerIds.Select(w => (RedisValue)w)], cancellationToken).ConfigureAwait(false))!;
        return [.. r.Select(f => (string)f!)];
    }

    /// <summary>worker_delete.lua: removes workers that have left, and all kept about them, or none.</summary>
    public async Task<WorkerDeleteReply> WorkerDeleteAsync(IReadOnlyList<string> workerIds, CancellationToken cancellationToken)
    {
        var k = Keys;
        var r = (RedisResult[])(await EvalAsync(RrqScripts.WorkerDelete,
            [k.WorkerId, k.WorkerStatus, k.WorkerTask, k.WorkerInfo, k.WorkerProcess, k.OffloadOwner, k.OffloadRefs,
                .. workerIds.SelectMany(w => new[] { k.WorkerLog(w), k.WorkerMessage(w), k.WorkerResponse(w), k.WorkerHeartbeat(w) }),
                k.WorkerClaim],
            [.. workerIds.Select(w => (RedisValue)w)], cancellationToken).ConfigureAwait(false))!;
        var code = (long)r[0];
        return code < 0 ? new WorkerDeleteReply(code, (string?)r[1], []) : new WorkerDeleteReply(0, null, [.. r.Skip(1).Select(h => (string)h!)]);
    }
}

/// <summary>task_submit.lua's reply for one slice.</summary>
/// <param name="Code">How many tasks were created (a repeat after a lost reply counts as its first try did); -1 a task
/// id exists already; -5 a dependency does not exist. Nothing was written when it is negative.</param>
/// <param name="Detail">The status the tasks were created with, or the id a refusal names.</param>
internal sealed record SubmitReply(long Code, string? Detail);

/// <summary>task_delete.lua's reply.</summary>
/// <param name="Deleted">How many tasks went.</param>
/// <param name="Freed">The offloaded values nothing uses any more (their files can go).</param>
/// <param name="Refusal">0, or why nothing was deleted: -2 a task is RUNNING (with a tombstone, any unfinished status);
/// -9 the ids are not whole retry chains (one was retried meanwhile).</param>
/// <param name="RefusedId">The task the refusal names.</param>
internal sealed record DeleteReply(long Deleted, string[] Freed, long Refusal, string? RefusedId);

/// <summary>What task_cancel.lua did.</summary>
internal enum CancelOutcome
{
    /// <summary>RUNNING in its worker's own process: nothing changed (the reply names the worker).</summary>
    InProcess = -3,

    /// <summary>No such task.</summary>
    Missing = -1,

    /// <summary>Nothing to do, nothing written: finished, MOVED, or its kill asked for by another call.</summary>
    NothingToDo = 0,

    /// <summary>Cancelled now (or by this very call's first try, whose reply was lost).</summary>
    Cancelled = 1,

    /// <summary>Its worker was asked to kill its process (the reply names the worker).</summary>
    KillAsked = 2,
}

/// <summary>task_cancel.lua's reply.</summary>
/// <param name="Outcome">What it did.</param>
/// <param name="Detail">The worker (<see cref="CancelOutcome.KillAsked"/>, <see cref="CancelOutcome.InProcess"/>), or the
/// status found (<see cref="CancelOutcome.NothingToDo"/>).</param>
internal sealed record CancelReply(CancelOutcome Outcome, string? Detail);

/// <summary>task_retry.lua's reply for one slice.</summary>
/// <param name="Retried">How many tasks were retried (a repeat after a lost reply counts as its first try did).</param>
/// <param name="Refusal">0 when done; else why nothing was changed: -1 a task does not exist, -7 it was retried meanwhile,
/// -8 its status cannot be retried, -4 a queue's key was not passed.</param>
/// <param name="RefusedId">The task (or, for -4, the queue) the refusal names.</param>
/// <param name="RefusedStatus">For -8, the status found.</param>
/// <param name="Rearming">How many chains are queued to have their dependents re-armed (walk_continue.lua does it).</param>
internal sealed record RetryReply(long Retried, long Refusal, string? RefusedId, string? RefusedStatus, long Rearming);

/// <summary>worker_delete.lua's reply.</summary>
/// <param name="Refusal">0 when deleted; -1 a worker is still live, -2 one was never registered (nothing deleted).</param>
/// <param name="RefusedId">The worker the refusal names.</param>
/// <param name="Freed">The offloaded values (of deleted answers to messages) nothing uses any more.</param>
internal sealed record WorkerDeleteReply(long Refusal, string? RefusedId, string[] Freed);
