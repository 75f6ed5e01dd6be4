using Rrq.Keys;
using Rrq.Scripts;
using StackExchange.Redis;

namespace Rrq.Connection;

/// <summary>
/// What every Redis call of one queue needs, shared by its controller and its workers: the database,
/// the key schema, the value codec, and the retry layer every call goes through. Scripts are run with
/// <see cref="EvalAsync"/>, plain commands with <see cref="RunAsync{T}"/>; nothing else touches
/// <see cref="Db"/> directly, so a transient fault is retried in one place.
/// </summary>
internal sealed class QueueContext
{
    public QueueContext(IDatabase db, RrqKeys keys, Store.OffloadStore values, RedisRetry retry)
    {
        Db = db;
        Keys = keys;
        Values = values;
        Retry = retry;
    }

    public IDatabase Db { get; }

    public RrqKeys Keys { get; }

    public Store.OffloadStore Values { get; }

    public RedisRetry Retry { get; }

    /// <summary>Runs one Lua script by name (see <see cref="RrqScripts"/>), retried through transient faults.
    /// Only scripts that are safe to repeat after a lost reply may be run this way: each either checks the
    /// prior state (so a repeat changes nothing) or takes a token that makes a repeat return the first
    /// answer (claims).</summary>
    public Task<RedisResult> EvalAsync(string script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken = default)
    {
        var text = RrqScripts.Text(script);
        return Retry.ExecuteAsync(_ => Db.ScriptEvaluateAsync(text, keys, args), cancellationToken);
    }

    /// <summary>worker_claim.lua: a worker's step of work-taking from <paramref name="queues"/> (highest
    /// priority first). The reply is claim()'s (see include/claim.lua); a repeat with the same
    /// <paramref name="token"/> gets the same answer.</summary>
    public async Task<RedisResult[]> ClaimAsync(string workerId, IReadOnlyList<string> queues, string token)
    {
        var k = Keys;
        RedisKey[] keys =
        [
            k.WorkerMessage(workerId), k.WorkerId, k.WorkerStatus, k.WorkerTask, k.WorkerLog(workerId), k.TaskStatus, k.TaskWorker,
            k.TaskTimeStart, k.TaskExpr, k.TaskLocal, k.TaskTimeout, k.Envir, k.TaskClaim, k.WorkerClaim, k.TaskQueue,
            .. queues.SelectMany(q => new[] { k.Queue(q), k.Delayed(q) }),
        ];
        return (RedisResult[])(await EvalAsync(RrqScripts.WorkerClaim, keys, [workerId, token, .. queues.Select(q => (RedisValue)q)])
            .ConfigureAwait(false))!;
    }

    /// <summary>task_finish.lua: records <paramref name="outcome"/> of a task taken by the claim with
    /// <paramref name="taskToken"/>, then (with <paramref name="claimFrom"/> &gt; 0) claims the worker's next step
    /// from the first <paramref name="claimFrom"/> of <paramref name="queues"/> with <paramref name="nextToken"/>.
    /// <paramref name="queues"/>: the worker's own queues first, then every other queue it knows of (a
    /// dependent released, or a retry, may need one). A repeat after a lost reply returns 2, not 1.</summary>
    public async Task<RedisResult[]> FinishAsync(string taskId, string workerId, Workers.TaskOutcome outcome, string taskToken,
        int claimFrom, string nextToken, IReadOnlyList<string> queues)
    {
        var k = Keys;
        return (RedisResult[])(await EvalAsync(RrqScripts.TaskFinish,
            [k.TaskStatus, k.TaskWorker, k.TaskResult, k.TaskTimeComplete, k.WorkerTask, k.WorkerStatus, k.WorkerLog(workerId),
                k.TaskDependsDown, .. k.RetryBlock, k.OffloadOwner, k.OffloadRefs, k.WorkerMessage(workerId), k.WorkerId, k.TaskTimeStart,
                k.Envir, k.TaskWarnings, k.TaskClaim, k.WorkerClaim, .. queues.SelectMany(q => new[] { k.Queue(q), k.Delayed(q) })],
            [taskId, workerId, outcome.Status.ToRedisString(), outcome.Result, (string)k.TaskCompleteChannel!,
                k.QueueChannelPrefix, RrqController.NewTaskId(), Store.OffloadStore.HashOf(outcome.Result) ?? "", claimFrom,
                outcome.Warnings.Count == 0 ? "" : MemoryPack.MemoryPackSerializer.Serialize(outcome.Warnings.ToArray()),
                taskToken, nextToken, .. queues.Select(q => (RedisValue)q)]).ConfigureAwait(false))!;
    }

    /// <summary>Runs plain commands (reads, or writes that are safe to repeat), retried through transient faults.
    /// A batch built inside <paramref name="call"/> is built again on a retry.</summary>
    public Task<T> RunAsync<T>(Func<IDatabase, Task<T>> call, CancellationToken cancellationToken = default) =>
        Retry.ExecuteAsync(_ => call(Db), cancellationToken);
}
