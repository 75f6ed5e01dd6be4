using Microsoft.Extensions.Logging;
using Rrq.Keys;
using Rrq.Scripts;
using StackExchange.Redis;

namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>How many tasks wait in a queue (default: "default").</summary>
    public long QueueLength(string? queue = null) => QueueLengthAsync(queue).GetAwaiter().GetResult();

    /// <inheritdoc cref="QueueLength"/>
    public Task<long> QueueLengthAsync(string? queue = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var name = CheckQueue(queue);
        return Queue.QueueLengthAsync(name, cancellationToken);
    }

    /// <summary>The ids waiting in a queue, next to run first.</summary>
    public IReadOnlyList<string> QueueList(string? queue = null) => QueueListAsync(queue).GetAwaiter().GetResult();

    /// <inheritdoc cref="QueueList"/>
    public async Task<IReadOnlyList<string>> QueueListAsync(string? queue = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        // Ids of tasks cancelled or deleted while queued stay in the list until a worker's claim drops them: not listed.
        return await Queue.QueuedAsync(CheckQueue(queue), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The names of every queue tasks have been submitted to.</summary>
    public IReadOnlyList<string> QueueNames() => QueueNamesAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="QueueNames"/>
    public async Task<IReadOnlyList<string>> QueueNamesAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return [.. (await Queue.QueueNamesAsync(cancellationToken).ConfigureAwait(false)).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Takes tasks off a queue (rrq's <c>rrq_queue_remove</c>). Unlike rrq, which leaves them PENDING in
    /// no queue (so they never run and nothing says why), each removed task becomes CANCELLED and its
    /// dependents IMPOSSIBLE. Returns, for each id, whether it was in that queue.
    /// </summary>
    public IReadOnlyList<bool> QueueRemove(IEnumerable<string> taskIds, string? queue = null) =>
        QueueRemoveAsync(taskIds, queue).GetAwaiter().GetResult();

    /// <inheritdoc cref="QueueRemove"/>
    public async Task<IReadOnlyList<bool>> QueueRemoveAsync(IEnumerable<string> taskIds, string? queue = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = ToIdArray(taskIds);
        if (ids.Length == 0)
        {
            return [];
        }
        // In slices, so that no one script keeps Redis from everyone else for long; each id stands alone, so an
        // interrupted call leaves each task removed or not, never half.
        var name = CheckQueue(queue);
        var removed = new List<bool>(ids.Length);
        foreach (var slice in ids.Chunk(ScriptSlice))
        {
            removed.AddRange(await Queue.QueueRemoveAsync(slice, name, cancellationToken).ConfigureAwait(false));
        }
        await Queue.WalksDrainAsync(cancellationToken).ConfigureAwait(false);
        return removed;
    }

    /// <summary>Each task's 1-based place in its queue (1 = next to run), or <paramref name="missing"/>
    /// when it is not queued (running, finished, deferred, unknown). With follow, a retried task is
    /// looked up as its chain's newest task.</summary>
    public IReadOnlyList<long> TaskPosition(IEnumerable<string> taskIds, long missing = 0, string? queue = null, bool? follow = null) =>
        TaskPositionAsync(taskIds, missing, queue, follow).GetAwaiter().GetResult();

    /// <summary>One task's 1-based place in its queue, or <paramref name="missing"/>.</summary>
    public long TaskPosition(string taskId, long missing = 0, string? queue = null, bool? follow = null) =>
        TaskPositionAsync([taskId], missing, queue, follow).GetAwaiter().GetResult()[0];

    /// <inheritdoc cref="TaskPosition(IEnumerable{string}, long, string?, bool?)"/>
    public async Task<IReadOnlyList<long>> TaskPositionAsync(IEnumerable<string> taskIds, long missing = 0, string? queue = null,
        bool? follow = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = ToIdArray(taskIds);
        var (positions, _) = await PositionsAsync(ids, queue, follow ?? Follow, ahead: false).WaitAsync(cancellationToken).ConfigureAwait(false);
        return positions.Select(p => p == 0 ? missing : p).ToArray();
    }

    /// <summary>The ids queued ahead of a task (empty when it is next), or null when it is not queued.</summary>
    public IReadOnlyList<string>? TaskPreceeding(string taskId, string? queue = null, bool? follow = null) =>
        TaskPreceedingAsync(taskId, queue, follow).GetAwaiter().GetResult();

    /// <summary>Correctly spelled alias of <see cref="TaskPreceeding"/> (rrq's name has the typo).</summary>
    public IReadOnlyList<string>? TaskPreceding(string taskId, string? queue = null, bool? follow = null) =>
        TaskPreceeding(taskId, queue, follow);

    /// <inheritdoc cref="TaskPreceeding"/>
    public async Task<IReadOnlyList<string>?> TaskPreceedingAsync(string taskId, string? queue = null, bool? follow = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(taskId);
        var (positions, ahead) = await PositionsAsync([taskId], queue, follow ?? Follow, ahead: true).WaitAsync(cancellationToken).ConfigureAwait(false);
        return positions[0] == 0 ? null : ahead;
    }

    /// <summary>
    /// Each id's 1-based place in its queue (0 when not queued) and, when asked, the ids ahead of the
    /// first: followed and read in one script (task_position), in the given queue or each task's own.
    /// </summary>
    private async Task<(long[] Positions, string[] Ahead)> PositionsAsync(string[] ids, string? queue, bool follow, bool ahead)
    {
        var wanted = queue is null ? "" : CheckQueue(queue);
        // Every task's queue is in the queue set (the scripts that create tasks add it in the same step).
        var names = (await Queue.QueueNamesAsync().ConfigureAwait(false))
            .Append(RrqKeys.DefaultQueue).Append(wanted).Where(n => n.Length > 0).Distinct(StringComparer.Ordinal).ToArray();
        var (positions, aheadIds, missingQueue) = await Queue.TaskPositionAsync(ids, wanted, follow, ahead, names).ConfigureAwait(false);
        if (missingQueue is not null)
        {
            throw new RrqException($"Queue '{missingQueue}' of a task is missing from the set of queues of '{QueueId}'; " +
                "cannot find the task's position.");
        }
        return (positions, aheadIds);
    }

    /// <summary>
    /// How many tasks are in each status, every status listed (zeros included), over the given
    /// tasks or, by default, the whole queue (rrq's <c>rrq_task_overview</c>).
    /// </summary>
    public IReadOnlyDictionary<RrqTaskStatus, long> TaskOverview(IEnumerable<string>? taskIds = null) =>
        TaskOverviewAsync(taskIds).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskOverview"/>
    public async Task<IReadOnlyDictionary<RrqTaskStatus, long>> TaskOverviewAsync(IEnumerable<string>? taskIds = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var counts = Enum.GetValues<RrqTaskStatus>().Where(s => s != RrqTaskStatus.Missing || taskIds is not null)
            .ToDictionary(s => s, _ => 0L);
        IEnumerable<RrqTaskStatus> statuses = taskIds is null
            ? await Queue.StatusValuesAsync(cancellationToken).ConfigureAwait(false)
            : await TaskStatusAsync(taskIds, cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var s in statuses)
        {
            counts[s]++;
        }
        return new RrqTaskOverview(counts);
    }

    /// <summary>Every DEFERRED task, with each of its dependencies and that dependency's status now
    /// (rrq's <c>rrq_deferred_list</c>); completed dependencies show as COMPLETE, and a retried one as the newest task of
    /// its chain, which is what the task waits for.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, RrqTaskStatus>> DeferredList() =>
        DeferredListAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="DeferredList"/>
    public async Task<IReadOnlyDictionary<string, IReadOnlyDictionary<string, RrqTaskStatus>>> DeferredListAsync(
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var status = await Queue.AllStatusesAsync(cancellationToken).ConfigureAwait(false);
        var deferred = status.Where(e => e.Value == RrqTaskStatus.Deferred).Select(e => e.Key).ToArray();
        var ups = await Queue.TaskFieldAsync(TaskField.DependsUp, deferred, cancellationToken).ConfigureAwait(false);
        var lists = ups.Select(v => (v ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        var moved = lists.SelectMany(l => l).Where(d => status.GetValueOrDefault(d) == RrqTaskStatus.Moved).Distinct(StringComparer.Ordinal).ToArray();
        var newest = moved.Zip(await FollowAsync(moved).ConfigureAwait(false)).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
        var result = new Dictionary<string, IReadOnlyDictionary<string, RrqTaskStatus>>(StringComparer.Ordinal);
        for (var i = 0; i < deferred.Length; i++)
        {
            var deps = new Dictionary<string, RrqTaskStatus>(StringComparer.Ordinal);
            foreach (var d in lists[i].Select(d => newest.GetValueOrDefault(d, d)))
            {
                deps[d] = status.GetValueOrDefault(d, RrqTaskStatus.Missing);
            }
            result[deferred[i]] = deps;
        }
        return result;
    }

    private static string CheckQueue(string? queue)
    {
        queue ??= RrqKeys.DefaultQueue;
        QueueIdValidation.CheckName(queue, "queue name", nameof(queue));
        return queue;
    }

    /// <summary>
    /// Deletes the whole queue (rrq's <c>rrq_destroy</c>): stops its workers, then deletes every key of
    /// the queue id, and disposes this controller. Workers still busy when the stop times out find the
    /// queue gone after their task and exit without writing anything back.
    /// </summary>
    /// <param name="workerStop">How to stop the live workers first (STOP message by default; Kill for
    /// local workers now); null leaves them running (they exit when they next look for work).</param>
    /// <param name="timeoutWorkerStop">How long to wait for them to exit; zero (the default) does not wait.</param>
    /// <returns>How many keys were deleted.</returns>
    public long Destroy(RrqWorkerStopType? workerStop = RrqWorkerStopType.Message, TimeSpan? timeoutWorkerStop = null) =>
        DestroyAsync(workerStop, timeoutWorkerStop).GetAwaiter().GetResult();

    /// <inheritdoc cref="Destroy"/>
    public async Task<long> DestroyAsync(RrqWorkerStopType? workerStop = RrqWorkerStopType.Message, TimeSpan? timeoutWorkerStop = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckTimeout(timeoutWorkerStop, nameof(timeoutWorkerStop));
        if (workerStop is { } how)
        {
            try
            {
                await WorkerStopAsync(null, how, timeoutWorkerStop, cancellationToken).ConfigureAwait(false);
            }
            catch (RrqException e)
            {
                // Some did not exit in time: they will find the queue gone. Go on.
                Logging.RrqLog.DestroyProblem(Logger, QueueId, e.Message);
            }
        }
        var logs = await ProcessLogsAsync(null, cancellationToken).ConfigureAwait(false);
        // The mark goes first, with the worker registry and the schema version, in one step: from then on a worker still
        // busy writes nothing (its scripts check it is on record), so no key reappears behind the deletion below, and a
        // worker that finds itself unregistered leaves rather than rejoining. (A worker that finds the queue's data gone
        // leaves only when the mark says it was destroyed: an empty server without it is a restart without persistence,
        // or a failover, and the worker waits.)
        long deleted = await Queue.QueueDestroyAsync(Time.GetUtcNow(), DestroyedMarkerLife, cancellationToken).ConfigureAwait(false);
        deleted += await Queue.DeleteQueueKeysAsync(cancellationToken).ConfigureAwait(false);
        Values.DeleteAll();   // the queue's folder of offloaded values, when this controller has one
        DeleteProcessLogs(logs);   // the spawned workers' process logs (those on this machine)
        await DisposeAsync().ConfigureAwait(false);
        return deleted;
    }

    /// <summary>How long the mark that a queue was destroyed lasts: longer than any outage its workers wait through.</summary>
    internal static readonly TimeSpan DestroyedMarkerLife = TimeSpan.FromDays(1);
}
