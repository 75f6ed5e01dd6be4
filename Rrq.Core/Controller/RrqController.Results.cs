using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using System.Diagnostics;
using MemoryPack;
using Rrq.Controller;
using Rrq.Scripts;
using Rrq.Store;
using Rrq.Tasks;
using StackExchange.Redis;

namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>
    /// The result of a finished task: its value, or for a failed task its <see cref="RrqTaskError"/>
    /// (returned, not thrown, unless <paramref name="error"/> is true).
    /// </summary>
    /// <exception cref="RrqException">The task does not exist, or has not finished.</exception>
    /// <exception cref="RrqTaskError">The task failed and <paramref name="error"/> is true.</exception>
    public object? TaskResult(string taskId, bool error = false, bool? follow = null) =>
        TaskResultAsync(taskId, error, follow).GetAwaiter().GetResult();

    /// <summary>The results of several finished tasks, in the order given.</summary>
    public IReadOnlyList<object?> TaskResults(IEnumerable<string> taskIds, bool error = false, bool? follow = null) =>
        TaskResultsAsync(taskIds, error, follow).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskResult"/>
    public async Task<object?> TaskResultAsync(string taskId, bool error = false, bool? follow = null,
        CancellationToken cancellationToken = default) =>
        (await TaskResultsAsync([taskId], error, follow, cancellationToken).ConfigureAwait(false))[0];

    /// <inheritdoc cref="TaskResults"/>
    public async Task<IReadOnlyList<object?>> TaskResultsAsync(IEnumerable<string> taskIds, bool error = false,
        bool? follow = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = ToIdArray(taskIds);
        // Just waited for? Its completion notice may have brought the value: no round trip.
        if (ids.Length == 1 && _waiter.TryTakeResult(ids[0], out var carried))
        {
            return [Values.Deserialize(carried, $"the result of task {ids[0]}")];
        }
        var (targets, fields) = await ResolveAsync(ids, follow ?? Follow, [Keys.TaskStatus, Keys.TaskResult, Keys.TaskReason])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        var (statuses, results, reasons) = (fields[0], fields[1], fields[2]);

        var values = new object?[ids.Length];
        var problems = new List<string>();
        for (var i = 0; i < ids.Length; i++)
        {
            var status = RrqTaskStatusExtensions.ParseTaskStatus(statuses[i]);
            if (status == RrqTaskStatus.Missing)
            {
                // Expired by retention: its tombstone says how it ended.
                var was = await Queue.TaskFieldAsync(TaskField.Expired, ids[i], cancellationToken).ConfigureAwait(false);
                problems.Add(was is null ? $"'{ids[i]}' does not exist (MISSING)"
                    : $"'{ids[i]}' was expired by the queue's retention (it had ended {(string?)was}; see RetentionGet)");
            }
            else if (status.IsUnfinished())
            {
                problems.Add($"'{ids[i]}' has not finished ({status.ToRedisString()})");
            }
            else
            {
                if (status == RrqTaskStatus.Moved && results[i].IsNull)
                {
                    // A retried attempt that left no result (DIED, TIMEOUT, CANCELLED): its error says how it ended.
                    status = RrqTaskStatusExtensions.ParseTaskStatus(await Queue.TaskFieldAsync(TaskField.MovedFrom, targets[i], cancellationToken).ConfigureAwait(false));
                }
                values[i] = DecodeResult(targets[i], status, results[i], reasons[i]);
            }
        }
        if (problems.Count > 0)
        {
            throw new RrqException(
                $"No result for task{(problems.Count > 1 ? "s" : "")} in queue '{QueueId}': {string.Join("; ", problems)}. " +
                "Wait for unfinished tasks with TaskWait first.");
        }
        var failed = values.OfType<RrqTaskError>().ToArray();
        if (error && failed.Length > 0)
        {
            // One id: its own error, as TaskResult(id, error: true) throws. Several: all of them, grouped.
            throw ids.Length == 1 ? failed[0] : new RrqTaskErrorGroup(failed, ids.Length);
        }
        return values;
    }

    private object? DecodeResult(string taskId, RrqTaskStatus status, RedisValue raw, RedisValue reason)
    {
        if (raw.IsNull)
        {
            return RrqTaskError.NotSuccessful(QueueId, taskId, status, (string?)reason);
        }
        var value = Values.Deserialize((byte[])raw!, $"the result of task {taskId}");
        return value is TaskErrorData e
            ? new RrqTaskError(e.Message, e.QueueId, e.TaskId, RrqTaskStatusExtensions.ParseTaskStatus(e.Status),
                e.ExceptionType, e.From, e.Trace, e.Warnings)
            : value;
    }

    /// <summary>
    /// The latest progress a task's code reported with <see cref="RrqTask.Progress"/> (rrq's
    /// <c>rrq_task_progress</c>), or null when it has reported none. Readable while it runs and after.
    /// </summary>
    /// <exception cref="RrqException">The task does not exist (MISSING).</exception>
    public object? TaskProgress(string taskId, bool? follow = null) => TaskProgressAsync(taskId, follow).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskProgress"/>
    public async Task<object?> TaskProgressAsync(string taskId, bool? follow = null, CancellationToken cancellationToken = default)
    {
        var raw = await FieldOfTaskAsync(taskId, follow, Keys.TaskProgress, cancellationToken).ConfigureAwait(false);
        return raw.IsNull ? null : RrqValueCodec.Deserialize((byte[])raw!);
    }

    /// <summary>
    /// The warnings a finished task raised (<see cref="RrqTask.Warning"/>, and the compiler's on its
    /// expression), in order; empty when it raised none. Kept whatever the outcome: for a task that
    /// failed they are also its error's <c>Warnings</c>. With follow, a retried task reads as its
    /// chain's newest; <c>follow: false</c> gives each attempt's own.
    /// </summary>
    /// <exception cref="RrqException">The task does not exist (MISSING).</exception>
    public IReadOnlyList<string> TaskWarnings(string taskId, bool? follow = null) => TaskWarningsAsync(taskId, follow).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskWarnings"/>
    public async Task<IReadOnlyList<string>> TaskWarningsAsync(string taskId, bool? follow = null, CancellationToken cancellationToken = default)
    {
        var raw = await FieldOfTaskAsync(taskId, follow, Keys.TaskWarnings, cancellationToken).ConfigureAwait(false);
        return raw.IsNull ? [] : MemoryPack.MemoryPackSerializer.Deserialize<string[]>((byte[])raw!) ?? [];
    }

    /// <summary>One task's field in <paramref name="hash"/> (null when it has none), read with following
    /// as asked; throws for a MISSING task.</summary>
    private async Task<RedisValue> FieldOfTaskAsync(string taskId, bool? follow, RedisKey hash, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrWhiteSpace(taskId);
        var (_, fields) = await ResolveAsync([taskId], follow ?? Follow, [Keys.TaskStatus, hash])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        return fields[0][0].IsNull ? throw MissingTask(taskId) : fields[1][0];
    }

    /// <summary>When each task was submitted, started, finished and retried (rrq's <c>rrq_task_times</c>).</summary>
    public IReadOnlyList<RrqTaskTimes> TaskTimes(IEnumerable<string> taskIds, bool? follow = null) =>
        TaskTimesAsync(taskIds, follow).GetAwaiter().GetResult();

    /// <summary>The times of one task.</summary>
    public RrqTaskTimes TaskTimes(string taskId, bool? follow = null) =>
        TaskTimesAsync([taskId], follow).GetAwaiter().GetResult()[0];

    /// <inheritdoc cref="TaskTimes(IEnumerable{string}, bool?)"/>
    public async Task<IReadOnlyList<RrqTaskTimes>> TaskTimesAsync(IEnumerable<string> taskIds, bool? follow = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = ToIdArray(taskIds);
        var (_, f) = await ResolveAsync(ids, follow ?? Follow,
            [Keys.TaskTimeSubmit, Keys.TaskTimeStart, Keys.TaskTimeComplete, Keys.TaskTimeMoved])
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        return ids.Select((id, i) => new RrqTaskTimes(id, RedisTime.Parse(f[0][i]), RedisTime.Parse(f[1][i]),
            RedisTime.Parse(f[2][i]), RedisTime.Parse(f[3][i]))).ToArray();
    }

    /// <summary>Everything known about one task (rrq's <c>rrq_task_info</c>); an unknown id gives
    /// an info whose status is MISSING.</summary>
    public RrqTaskInfo TaskInfo(string taskId) => TaskInfoAsync(taskId).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskInfo"/>
    public async Task<RrqTaskInfo> TaskInfoAsync(string taskId, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(taskId);
        var fields = (await Queue.TaskHashesAsync([Keys.TaskStatus, Keys.TaskQueue, Keys.TaskLocal, Keys.TaskTimeout, Keys.TaskWorker, Keys.TaskPid],
            [taskId], cancellationToken).ConfigureAwait(false)).Select(f => f[0]).ToArray();
        var (status, queue, local, timeout, worker, pid) = (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]);
        var chain = (await ChainsAsync([taskId]).ConfigureAwait(false))[0];
        var at = Array.IndexOf(chain, taskId);
        var moved = chain.Length <= 1 ? RrqChain.Empty : new RrqChain(chain[..at], chain[(at + 1)..]);
        var depends = new RrqChain(await WalkAsync(ParentsAsync, taskId).ConfigureAwait(false),
            await WalkAsync(ChildrenAsync, taskId).ConfigureAwait(false));
        return new RrqTaskInfo(taskId, RrqTaskStatusExtensions.ParseTaskStatus(status),
            (string?)queue ?? "",
            (string?)local == "FALSE",
            timeout.IsNull ? null : TimeSpan.FromSeconds((double)timeout),
            (string?)worker,
            pid.IsNull ? null : (int)pid,
            depends, moved);
    }

    /// <summary>The dependencies of each task (its depends_up field), each a retried one as the newest task of its chain
    /// (what the task waits for): one round trip, and one more per retry hop.</summary>
    private async Task<string[][]> ParentsAsync(List<string> children)
    {
        var ups = await Queue.TaskFieldAsync(TaskField.DependsUp, children).ConfigureAwait(false);
        var lists = ups.Select(v => ((string?)v ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        var all = lists.SelectMany(l => l).Distinct(StringComparer.Ordinal).ToArray();
        var newest = all.Zip(await FollowAsync(all).ConfigureAwait(false)).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal);
        return [.. lists.Select(l => l.Select(d => newest[d]).ToArray())];
    }

    /// <summary>The dependents of each task, in submission order: one range of the links set each, kept under the first
    /// task of the task's retry chain (so every task of a chain shows them), in two round trips.</summary>
    private async Task<string[][]> ChildrenAsync(List<string> parents)
    {
        var rootOf = await Queue.TaskFieldAsync(TaskField.MovedRoot, parents).ConfigureAwait(false);
        var roots = parents.Select((p, i) => (string?)rootOf[i] ?? p).ToArray();
        return await Queue.DependentsAsync(roots).ConfigureAwait(false);
    }

    /// <summary>Every task reachable from an id through its dependency links, one step being <paramref name="next"/>
    /// (ParentsAsync or ChildrenAsync), nearest first, each once.</summary>
    private static async Task<string[]> WalkAsync(Func<List<string>, Task<string[][]>> next, string id)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { id };
        var order = new List<string>();
        var frontier = new List<string> { id };
        while (frontier.Count > 0)
        {
            var found = await next(frontier).ConfigureAwait(false);
            frontier = [];
            foreach (var d in found.SelectMany(f => f))
            {
                if (seen.Add(d))
                {
                    order.Add(d);
                    frontier.Add(d);
                }
            }
        }
        return [.. order];
    }

    /// <summary>
    /// Each id's status and, with <paramref name="follow"/>, the newest task of its retry chain: one
    /// round trip when no id was retried.
    /// </summary>
    internal async Task<(string[] Leaves, RrqTaskStatus[] Statuses)> ResolveAsync(string[] ids, bool follow)
    {
        var (leaves, fields) = await ResolveAsync(ids, follow, [Keys.TaskStatus]).ConfigureAwait(false);
        return (leaves, fields[0].Select(v => RrqTaskStatusExtensions.ParseTaskStatus(v)).ToArray());
    }

    /// <summary>
    /// Each id's task to read (its chain's newest when following) and that task's raw field in each of
    /// <paramref name="hashes"/> (its status, result, times...), in one round trip. Plain reads first:
    /// a task found with no newer task (task:moved_to read first) and, just after, not MOVED was its
    /// chain's newest at that moment, as MOVED is final. Only retried tasks, or ones retried between
    /// the two reads, are read again by the script that follows chains and reads in one step, so a
    /// retry cannot be mistaken for an outcome or mix two tasks' fields.
    /// </summary>
    private async Task<(string[] Leaves, RedisValue[][] Fields)> ResolveAsync(string[] ids, bool follow, RedisKey[] hashes)
    {
        var (leaves, fields, statuses) = await ResolveOnceAsync(ids, follow, hashes).ConfigureAwait(false);
        // A task is MISSING only on a server that has the queue: one that has none of it (an old master back empty
        // during a failover, a restart without persistence) is waited out, and the tasks read again. The queue's mark and
        // the statuses are read together (one MULTI, so from one server): read apart, the statuses could come from the
        // empty server and the mark from the real one.
        if (statuses is not null && statuses.Any(s => s.IsNull) && await Queue.AbsentTasksToReadAgainAsync(
            [.. ids.Where((_, i) => statuses[i].IsNull).Select(id => (RedisValue)id)]).ConfigureAwait(false))
        {
            (leaves, fields, _) = await ResolveOnceAsync(ids, follow, hashes).ConfigureAwait(false);
        }
        return (leaves, fields);
    }

    private async Task<(string[] Leaves, RedisValue[][] Fields, RedisValue[]? Statuses)> ResolveOnceAsync(string[] ids, bool follow, RedisKey[] hashes)
    {
        var values = ids.Select(i => (RedisValue)i).ToArray();
        var statusAt = Array.IndexOf(hashes, Keys.TaskStatus);
        // One batch: the hashes asked for, then (when following) task:moved_to, then status if not asked for.
        RedisKey[] read = [.. hashes, .. follow ? new[] { Keys.TaskMovedTo } : [], .. follow && statusAt < 0 ? new[] { Keys.TaskStatus } : []];
        var all = await Queue.TaskHashesAsync(read, values).ConfigureAwait(false);
        var fields = all[..hashes.Length];
        var leaves = ids.ToArray();
        if (!follow)
        {
            return (leaves, fields, statusAt < 0 ? null : fields[statusAt]);
        }
        var next = all[hashes.Length];
        var statuses = statusAt < 0 ? all[hashes.Length + 1] : fields[statusAt];
        var retried = Enumerable.Range(0, ids.Length).Where(i => !next[i].IsNull || statuses[i] == "MOVED").ToArray();
        if (retried.Length == 0)
        {
            return (leaves, fields, statuses);
        }
        var (chainLeaves, chainFields) = await ResolveInOneStepAsync([.. retried.Select(i => ids[i])], hashes).ConfigureAwait(false);
        for (var j = 0; j < retried.Length; j++)
        {
            leaves[retried[j]] = chainLeaves[j];
            for (var h = 0; h < hashes.Length; h++)
            {
                fields[h][retried[j]] = chainFields[h][j];
            }
        }
        return (leaves, fields, statuses);
    }

    /// <summary>As <see cref="ResolveAsync(string[], bool, RedisKey[])"/> with follow, in one script per slice of ids.</summary>
    private async Task<(string[] Leaves, RedisValue[][] Fields)> ResolveInOneStepAsync(string[] ids, RedisKey[] hashes)
    {
        const int slice = 1000;
        var leaves = new string[ids.Length];
        var fields = hashes.Select(_ => new RedisValue[ids.Length]).ToArray();
        var calls = new List<(int Start, Task<(string[] Leaves, RedisValue[][] Fields)> Call)>();
        for (var start = 0; start < ids.Length; start += slice)
        {
            calls.Add((start, Queue.TaskResolveAsync(ids[start..Math.Min(start + slice, ids.Length)], hashes)));
        }
        foreach (var (start, call) in calls)
        {
            var (someLeaves, someFields) = await call.ConfigureAwait(false);
            someLeaves.CopyTo(leaves, start);
            for (var h = 0; h < hashes.Length; h++)
            {
                someFields[h].CopyTo(fields[h], start);
            }
        }
        return (leaves, fields);
    }

    /// <summary>Each id's newest task in its retry chain (the id itself when never retried).</summary>
    internal async Task<string[]> FollowAsync(string[] ids)
    {
        var current = ids.ToArray();
        for (var hop = 0; hop < 10_000; hop++)
        {
            var next = await Queue.TaskFieldAsync(TaskField.MovedTo, [.. current]).ConfigureAwait(false);
            if (next.All(n => n is null))
            {
                return current;
            }
            for (var i = 0; i < current.Length; i++)
            {
                if (next[i] is { } newer)
                {
                    current[i] = newer;
                }
            }
        }
        throw new UnreachableException("A retry chain is longer than 10,000 tasks (a cycle in task:moved_to?).");
    }

    /// <summary>The first task of an id's retry chain.</summary>
    internal async Task<string> RootAsync(string id) =>
        (string?)await Queue.TaskFieldAsync(TaskField.MovedRoot, id).ConfigureAwait(false) ?? id;

    /// <summary>All tasks of each id's retry chain, oldest first (just the id when never retried): two
    /// round trips for any number of never-retried ids, one more per step of the longest chain.</summary>
    internal async Task<string[][]> ChainsAsync(string[] ids)
    {
        var roots = await Queue.TaskFieldAsync(TaskField.MovedRoot, [.. ids]).ConfigureAwait(false);
        var chains = ids.Select((id, i) => new List<string> { roots[i] ?? id }).ToArray();
        var open = Enumerable.Range(0, ids.Length).ToList();
        for (var hop = 0; open.Count > 0; hop++)
        {
            if (hop >= 10_000)
            {
                throw new UnreachableException("A retry chain is longer than 10,000 tasks (a cycle in task:moved_to?).");
            }
            var next = await Queue.TaskFieldAsync(TaskField.MovedTo, [.. open.Select(i => chains[i][^1])]).ConfigureAwait(false);
            var still = new List<int>();
            for (var j = 0; j < open.Count; j++)
            {
                if (next[j] is { } newer)
                {
                    chains[open[j]].Add(newer);
                    still.Add(open[j]);
                }
            }
            open = still;
        }
        return chains.Select(c => c.ToArray()).ToArray();
    }
}
