using Rrq.Connection;
using StackExchange.Redis;

namespace Rrq.Scripts;

/// <summary>The wrappers of the scripts a worker runs: each builds its KEYS and ARGV (in the order the
/// script's header lists) and reads its reply.</summary>
internal sealed partial class QueueContext
{
    /// <summary>worker_claim.lua: a worker's step of work-taking from <paramref name="queues"/> (highest
    /// priority first). The reply is claim()'s (see include/claim.lua); a repeat with the same
    /// <paramref name="token"/> gets the same answer. <paramref name="slots"/>: "" for a worker of one slot, else what
    /// include/claim.lua reads about the worker's other slots.</summary>
    public async Task<ClaimReply> ClaimAsync(string workerId, IReadOnlyList<string> queues, string token, string slots = "")
    {
        var k = Keys;
        RedisKey[] keys =
        [
            k.WorkerMessage(workerId), k.WorkerId, k.WorkerStatus, k.WorkerTask, k.WorkerLog(workerId), k.TaskStatus, k.TaskWorker,
            k.TaskTimeStart, k.TaskExpr, k.TaskLocal, k.TaskTimeout, k.Envir, k.TaskClaim, k.WorkerClaim, k.TaskQueue,
            k.QueueSkip, k.QueueSkipCount, k.QueueFront, .. queues.SelectMany(q => new[] { k.Queue(q), k.Delayed(q), k.Idle(q) }),
        ];
        return ClaimReply.Parse((RedisResult[])(await EvalAsync(RrqScripts.WorkerClaim, keys,
            [workerId, token, slots, .. queues.Select(q => (RedisValue)q)]).ConfigureAwait(false))!);
    }

    /// <summary>task_finish.lua: records <paramref name="outcome"/> of a task taken by the claim with
    /// <paramref name="taskToken"/>, then (with <paramref name="claimFrom"/> &gt; 0) claims the worker's next step
    /// from the first <paramref name="claimFrom"/> of <paramref name="queues"/> with <paramref name="nextToken"/>.
    /// <paramref name="queues"/>: the worker's own queues first, then every other queue it knows of (a
    /// dependent released, or a retry, may need one); returned with any the script asked for added (keep them for next
    /// time). A repeat after a lost reply answers as the first call did.</summary>
    public async Task<(FinishReply Reply, IReadOnlyList<string> Queues)> FinishAsync(string taskId, string workerId,
        Workers.TaskOutcome outcome, string taskToken, int claimFrom, string nextToken, IReadOnlyList<string> queues, string slots = "")
    {
        var k = Keys;
        var known = queues;
        var r = await WithQueuesAsync(queues, async qs =>
        {
            known = qs;
            return (RedisResult[])(await EvalAsync(RrqScripts.TaskFinish,
                [k.TaskStatus, k.TaskWorker, k.TaskResult, k.TaskTimeComplete, k.WorkerTask, k.WorkerStatus, k.WorkerLog(workerId),
                    k.TaskDependsDown, .. k.RetryBlock, k.OffloadOwner, k.OffloadRefs, k.WorkerMessage(workerId), k.WorkerId, k.TaskTimeStart,
                    k.Envir, k.TaskWarnings, k.TaskClaim, k.WorkerClaim, k.QueueSkip, k.QueueSkipCount, .. qs.Take(claimFrom).Select(k.Idle),
                    .. qs.SelectMany(q => new[] { k.Queue(q), k.Delayed(q) }), .. k.FinishedBlock],
                [taskId, workerId, outcome.Status.ToRedisString(), outcome.Result, (string)k.TaskCompleteChannel!,
                    k.QueueChannelPrefix, RrqController.NewTaskId(), Store.OffloadStore.HashOf(outcome.Result) ?? "", claimFrom,
                    outcome.Warnings.Count == 0 ? "" : MemoryPack.MemoryPackSerializer.Serialize(outcome.Warnings.ToArray()),
                    taskToken, nextToken, slots, .. qs.Select(q => (RedisValue)q)]).ConfigureAwait(false))!;
        }).ConfigureAwait(false);
        return (FinishReply.Parse(r), known);
    }

    /// <summary>task_ack.lua: the worker takes up a task handed to it at submission, under its claim
    /// <paramref name="token"/>. Null when the task is no longer handed to it (its outcome will not be written); else, for
    /// a separate-process task, how many of the next tasks of its queues are separate-process too (as a claim tells).</summary>
    public async Task<int?> TaskAckAsync(string taskId, string workerId, string token, IReadOnlyList<string> queues)
    {
        var k = Keys;
        var r = (RedisResult[])(await EvalAsync(RrqScripts.TaskAck,
            [k.TaskStatus, k.TaskWorker, k.TaskClaim, k.WorkerTask, k.WorkerLog(workerId), k.TaskTimeStart, k.TaskLocal,
                .. queues.SelectMany(q => new[] { k.Idle(q), k.Queue(q) })],
            [taskId, workerId, token]).ConfigureAwait(false))!;
        return (long)r[0] == 1 ? (int)r[1] : null;
    }

    /// <summary>worker_register.lua: registers a worker as IDLE (or, with <paramref name="rejoin"/>, lets one that was
    /// declared LOST back in). Returns 1; -1 a live worker has that id; -2 a rejoin of a worker that is not LOST;
    /// -3 the queue does not exist. A registration repeated after a lost reply (the same <paramref name="infoJson"/>) returns 1.</summary>
    public async Task<long> WorkerRegisterAsync(string workerId, string infoJson, TimeSpan? heartbeatExpiry, bool rejoin)
    {
        var k = Keys;
        return (long)(await EvalAsync(RrqScripts.WorkerRegister,
            [k.WorkerId, k.WorkerStatus, k.WorkerTask, k.WorkerInfo, k.WorkerLog(workerId), k.WorkerHeartbeat(workerId), k.Version],
            [workerId, infoJson, heartbeatExpiry is { } e ? (long)e.TotalMilliseconds : "", rejoin ? "REJOIN" : ""]).ConfigureAwait(false));
    }

    /// <summary>worker_beat.lua: sets the heartbeat key again; false when the worker is not registered (nothing written).</summary>
    public async Task<bool> WorkerBeatAsync(string workerId, TimeSpan expiry, CancellationToken cancellationToken) =>
        (long)(await EvalAsync(RrqScripts.WorkerBeat, [Keys.WorkerId, Keys.WorkerHeartbeat(workerId), Keys.Version, Keys.Destroyed],
            [workerId, (long)expiry.TotalMilliseconds], cancellationToken).ConfigureAwait(false)) == 1;

    /// <summary>sweep_turn.lua: whether it is this worker's turn to sweep for lost workers among those beating every
    /// <paramref name="period"/> (the turn lasts 0.9 of a period).</summary>
    public async Task<bool> SweepTurnAsync(string workerId, TimeSpan period) =>
        (long)(await EvalAsync(RrqScripts.SweepTurn, [Keys.SweepTurn(period), Keys.WorkerId],
            [workerId, Math.Max(1, (long)(period.TotalMilliseconds * 0.9))]).ConfigureAwait(false)) == 1;

    /// <summary>worker_log.lua: appends "&lt;server time&gt; LABEL value" to the worker's log, while it is on record.</summary>
    public Task WorkerLogAsync(string workerId, string label, string value) =>
        EvalAsync(RrqScripts.WorkerLog, [Keys.WorkerLog(workerId), Keys.WorkerStatus], [label, value, workerId]);

    /// <summary>worker_note.lua: a small write about the worker's work (HSET field value, or RPUSH value) on
    /// <paramref name="key"/>, only while the worker is on record.</summary>
    public Task WorkerNoteAsync(string workerId, RedisKey key, string command, RedisValue field, RedisValue value = default) =>
        EvalAsync(RrqScripts.WorkerNote, [Keys.WorkerStatus, key],
            command == "hset" ? [workerId, command, field, value] : [workerId, command, field]);

    /// <summary>worker_pause.lua: PAUSE or RESUME; returns the worker's status after it, or "GONE" when it is not registered.</summary>
    public async Task<string?> WorkerPauseAsync(string workerId, string command) =>
        (string?)await EvalAsync(RrqScripts.WorkerPause, [Keys.WorkerId, Keys.WorkerStatus, Keys.WorkerLog(workerId)],
            [workerId, command]).ConfigureAwait(false);

    /// <summary>worker_respond.lua: stores a worker's answer to a message (<paramref name="response"/>, MemoryPack) and
    /// wakes whoever waits for it; <paramref name="offloadedHash"/> counts an offloaded answer's file.</summary>
    public Task WorkerRespondAsync(string workerId, string messageId, string command, byte[] response, string offloadedHash)
    {
        var k = Keys;
        return EvalAsync(RrqScripts.WorkerRespond,
            [k.WorkerResponse(workerId), k.WorkerLog(workerId), k.WorkerStatus, k.OffloadOwner, k.OffloadRefs],
            [messageId, response, command, (string)k.ResponseChannel!, workerId, offloadedHash]);
    }

    /// <summary>worker_exit.lua: the worker leaves as EXITED with log <paramref name="label"/>; every task it was running is
    /// DIED (with <paramref name="reason"/>), or, if it had taken it without starting it (in <paramref name="notStarted"/>),
    /// PENDING again at the front of its queue. Returns the tasks that died.</summary>
    public async Task<string[]> WorkerExitAsync(string workerId, string label, IReadOnlyCollection<string> notStarted, string reason,
        CancellationToken cancellationToken)
    {
        var k = Keys;
        var r = await WithTaskQueuesAsync(workerId, queues => EvalAsync(RrqScripts.WorkerExit,
            [k.WorkerId, k.WorkerStatus, k.WorkerTask, k.WorkerLog(workerId), k.TaskStatus, k.TaskWorker,
                k.TaskTimeComplete, k.WorkerHeartbeat(workerId), k.TaskDependsDown, .. k.RetryBlock, k.TaskTimeStart, k.TaskReason, k.TaskClaim,
                .. queues.SelectMany(q => new[] { k.Queue(q), k.Delayed(q) }), .. k.FinishedBlock],
            [workerId, label, (string)k.TaskCompleteChannel!, RrqController.NewTaskId(), k.QueueChannelPrefix,
                string.Join(' ', notStarted), reason, .. queues.Select(q => (RedisValue)q)], cancellationToken), cancellationToken).ConfigureAwait(false);
        return HeldIds((string?)r[1]);
    }

    /// <summary>worker_lost.lua: declares a worker whose heartbeat key has expired LOST and every task it ran DIED (with
    /// <paramref name="reason"/>); a task handed to it that it never took up goes back to its queue. Returns whether this call declared it (false: not live, or it beat again), and the tasks
    /// that died.</summary>
    public async Task<(bool Lost, string[] Orphans)> WorkerLostAsync(string workerId, string reason, CancellationToken cancellationToken)
    {
        var k = Keys;
        var r = await WithTaskQueuesAsync(workerId, queues => EvalAsync(RrqScripts.WorkerLost,
            [k.WorkerId, k.WorkerStatus, k.WorkerTask, k.WorkerLog(workerId), k.WorkerHeartbeat(workerId),
                k.TaskStatus, k.TaskWorker, k.TaskTimeComplete, k.TaskDependsDown, .. k.RetryBlock, k.TaskReason, k.TaskTimeStart, k.TaskClaim,
                .. queues.SelectMany(q => new[] { k.Queue(q), k.Delayed(q) }), .. k.FinishedBlock],
            [workerId, (string)k.TaskCompleteChannel!, RrqController.NewTaskId(), k.QueueChannelPrefix, reason,
                .. queues.Select(q => (RedisValue)q)],
            cancellationToken), cancellationToken).ConfigureAwait(false);
        return ((long)r[0] == 1, (long)r[0] == 1 ? HeldIds((string?)r[1]) : []);
    }

    /// <summary>The task ids of a worker:task field ("id@token", space-separated; see include/held.lua).</summary>
    public static string[] HeldIds(string? field) =>
        string.IsNullOrEmpty(field) ? [] : [.. field.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(h => h.Split('@')[0])];

    /// <summary>Runs worker_exit or worker_lost with the keys of the queues of the tasks the worker holds (a retry of one
    /// needs them); if those changed meanwhile, the script names the queue it lacks (-4) and runs again.</summary>
    private async Task<RedisResult[]> WithTaskQueuesAsync(string workerId, Func<IReadOnlyList<string>, Task<RedisResult>> run,
        CancellationToken cancellationToken)
    {
        var held = HeldIds(await RunAsync(db => db.HashGetAsync(Keys.WorkerTask, workerId), cancellationToken).ConfigureAwait(false));
        var queues = held.Length == 0 ? [] : await RunAsync(db => db.HashGetAsync(Keys.TaskQueue, [.. held.Select(h => (RedisValue)h)]),
            cancellationToken).ConfigureAwait(false);
        return await WithQueuesAsync([.. queues.Select(q => q.IsNull ? Rrq.Keys.RrqKeys.DefaultQueue : (string)q!).Append(Rrq.Keys.RrqKeys.DefaultQueue)
                .Distinct(StringComparer.Ordinal)],
            async qs => (RedisResult[])(await run(qs).ConfigureAwait(false))!).ConfigureAwait(false);
    }

    /// <summary>
    /// The one place that answers a script's "-4, queue": the script needed the keys of a queue it could only name
    /// once it ran (a dependent's, or a retried task's), wrote nothing, and is run again with that queue added to
    /// <paramref name="queues"/> (its last element), at most five times.
    /// </summary>
    private static async Task<RedisResult[]> WithQueuesAsync(IReadOnlyList<string> queues, Func<IReadOnlyList<string>, Task<RedisResult[]>> run)
    {
        for (var attempt = 0; ; attempt++)
        {
            var r = await run(queues).ConfigureAwait(false);
            if ((long)r[0] != -4 || attempt >= 5)
            {
                return r;
            }
            queues = [.. queues.Where(q => q != (string)r[1]!), (string)r[1]!];
        }
    }
}
