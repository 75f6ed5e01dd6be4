using System.Diagnostics;
using Rrq.Workers;

namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>Whether a worker of this id is live (registered, not exited) in the queue.</summary>
    public bool WorkerExists(string workerId) => WorkerExistsAsync(workerId).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerExists"/>
    public Task<bool> WorkerExistsAsync(string workerId, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentException.ThrowIfNullOrWhiteSpace(workerId);
        return Queue.WorkerLiveAsync(workerId, cancellationToken);
    }

    /// <summary>How many workers are live.</summary>
    public long WorkerLen() => WorkerLenAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerLen"/>
    public Task<long> WorkerLenAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return Queue.LiveWorkerCountAsync(cancellationToken);
    }

    /// <summary>Workers that have left the queue (EXITED or LOST) and are still on record, in natural order.</summary>
    public IReadOnlyList<string> WorkerListExited() => WorkerListExitedAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerListExited"/>
    public async Task<IReadOnlyList<string>> WorkerListExitedAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var (known, live) = await Queue.WorkersKnownAndLiveAsync(cancellationToken).ConfigureAwait(false);
        return [.. known.Where(k => !live.Contains(k)).Order(NaturalComparer.Instance)];
    }

    /// <summary>
    /// Deletes what is kept about workers that have left (default: every one in <see cref="WorkerListExited"/>):
    /// their status, info, logs, messages and responses. Returns the ids deleted.
    /// </summary>
    /// <exception cref="RrqException">A worker is still live, or unknown; nothing is deleted.</exception>
    public IReadOnlyList<string> WorkerDeleteExited(IEnumerable<string>? workerIds = null) =>
        WorkerDeleteExitedAsync(workerIds).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerDeleteExited"/>
    public async Task<IReadOnlyList<string>> WorkerDeleteExitedAsync(IEnumerable<string>? workerIds = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = workerIds?.Distinct(StringComparer.Ordinal).ToArray()
            ?? [.. await WorkerListExitedAsync(cancellationToken).ConfigureAwait(false)];
        if (ids.Length == 0)
        {
            return [];
        }
        var logs = await ProcessLogsAsync(ids, cancellationToken).ConfigureAwait(false);
        var r = await Queue.WorkerDeleteAsync(ids, cancellationToken).ConfigureAwait(false);
        switch (r.Refusal)
        {
            case -1:
                throw new RrqException($"Worker '{r.RefusedId}' is still live in queue '{QueueId}': stop it first " +
                    "(WorkerStop). Nothing was deleted.");
            case -2:
                throw new RrqException($"No worker '{r.RefusedId}' has been registered in queue '{QueueId}'; " +
                    $"workers that have left: {string.Join(", ", await WorkerListExitedAsync(cancellationToken).ConfigureAwait(false))}. Nothing was deleted.");
        }
        DeleteFreedValues(r.Freed, "Deleted workers' answers to messages");
        DeleteProcessLogs(logs);
        return ids;
    }

    /// <summary>The process log files of spawned workers (those started by WorkerSpawn on some machine).</summary>
    internal async Task<string[]> ProcessLogsAsync(string[]? workerIds, CancellationToken cancellationToken)
    {
        return await Queue.WorkerProcessLogPathsAsync(workerIds, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes worker process logs that are on this machine (a log written on another machine stays there), and
    /// their folder when it is left empty.</summary>
    internal static void DeleteProcessLogs(IEnumerable<string> paths)
    {
        foreach (var path in paths)
        {
            try
            {
                if (File.Exists(path))
                {
                    File.Delete(path);
                }
                if (Path.GetDirectoryName(path) is { } dir && Directory.Exists(dir)
                    && Directory.EnumerateFileSystemEntries(dir).All(e => Path.GetFileName(e) == WorkerSpawner.ConnectionFile))
                {
                    // No worker log left: nothing will start a worker from this folder again, so its connection file goes too.
                    File.Delete(Path.Combine(dir, WorkerSpawner.ConnectionFile));
                    Directory.Delete(dir);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Someone else's, or in use: it stays.
            }
        }
    }

    /// <summary>The task each worker is running (null when it runs none), for the given workers or every live one. A worker
    /// that runs several at once (<see cref="RrqWorkerConfig.Concurrency"/>) has them all, oldest first, separated by
    /// spaces; <see cref="WorkerTaskIds"/> gives them as a list.</summary>
    public IReadOnlyDictionary<string, string?> WorkerTaskId(IEnumerable<string>? workerIds = null) =>
        WorkerTaskIdAsync(workerIds).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerTaskId"/>
    public async Task<IReadOnlyDictionary<string, string?>> WorkerTaskIdAsync(IEnumerable<string>? workerIds = null,
        CancellationToken cancellationToken = default)
    {
        var held = await WorkerTaskIdsAsync(workerIds, cancellationToken).ConfigureAwait(false);
        return held.ToDictionary(p => p.Key, p => p.Value.Count == 0 ? null : string.Join(' ', p.Value), StringComparer.Ordinal);
    }

    /// <summary>Every task each worker is running, oldest first (empty when it runs none), for the given workers or every
    /// live one: one round trip however many.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> WorkerTaskIds(IEnumerable<string>? workerIds = null) =>
        WorkerTaskIdsAsync(workerIds).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerTaskIds"/>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<string>>> WorkerTaskIdsAsync(IEnumerable<string>? workerIds = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = await TargetsAsync(workerIds, cancellationToken).ConfigureAwait(false);
        var held = await Queue.WorkerHeldAsync(ids, cancellationToken).ConfigureAwait(false);
        return ids.Select((id, i) => (id, held: held[i])).ToDictionary(p => p.id, p => p.held, StringComparer.Ordinal);
    }

    /// <summary>
    /// Workers alive and tasks running over time, from the logs of the given workers (default: every
    /// worker on record, live or not); <see cref="RrqWorkerLoad.Mean"/> averages it over a window.
    /// </summary>
    public RrqWorkerLoad WorkerLoad(IEnumerable<string>? workerIds = null) => WorkerLoadAsync(workerIds).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerLoad"/>
    public async Task<RrqWorkerLoad> WorkerLoadAsync(IEnumerable<string>? workerIds = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = workerIds?.ToArray()
            ?? await Queue.KnownWorkersAsync(cancellationToken).ConfigureAwait(false);
        var entries = await WorkerLogTailAsync(ids, 0, cancellationToken).ConfigureAwait(false);
        var now = await Queue.ServerTimeAsync(cancellationToken).ConfigureAwait(false);
        var points = new List<RrqWorkerLoadPoint>();
        var running = new Dictionary<string, int>(StringComparer.Ordinal);
        int workers = 0, tasks = 0;
        foreach (var e in entries)
        {
            var before = (workers, tasks);
            running.TryGetValue(e.WorkerId, out var mine);
            switch (e.Command)
            {
                case "ALIVE":
                    workers++;
                    break;
                case "STOP" or "LOST":
                    workers = Math.Max(0, workers - 1);
                    tasks -= mine;   // a task it was running ended with it
                    running[e.WorkerId] = 0;
                    break;
                case "TASK_START":
                    tasks++;
                    running[e.WorkerId] = mine + 1;
                    break;
                case var c when c.StartsWith("TASK_", StringComparison.Ordinal) && mine > 0:
                    tasks--;
                    running[e.WorkerId] = mine - 1;
                    break;
            }
            if ((workers, tasks) != before)
            {
                points.Add(new RrqWorkerLoadPoint(e.Time, workers, tasks));
            }
        }
        return new RrqWorkerLoad(points, now);
    }

    /// <summary>
    /// Waits until every given worker is live (rrq's <c>rrq_worker_wait</c>), for workers started
    /// elsewhere (a scheduler, a container); returns how long it took. It fails fast when a worker
    /// cannot come: it was registered and has left already, or <paramref name="isDead"/> says so, with
    /// what <paramref name="fetchLogs"/> gives for it in the message.
    /// </summary>
    /// <param name="workerIds">The workers to wait for (the names given with <c>rrq-worker --name</c>).</param>
    /// <param name="timeout">How long to wait; null for ever.</param>
    /// <param name="isDead">Says whether a worker has failed for good (its job ended, its process exited); optional.</param>
    /// <param name="fetchLogs">Gives a worker's output lines, for the error message; optional.</param>
    /// <param name="progress">Show progress on standard error (default: when it is a terminal).</param>
    /// <exception cref="RrqException">A worker died or was not live in time (the message names each, with its log).</exception>
    public TimeSpan WorkerWait(IEnumerable<string> workerIds, TimeSpan? timeout = null, Func<string, bool>? isDead = null,
        Func<string, IEnumerable<string>?>? fetchLogs = null, bool? progress = null) =>
        WorkerWaitAsync(workerIds, timeout, isDead, fetchLogs, progress).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerWait"/>
    public async Task<TimeSpan> WorkerWaitAsync(IEnumerable<string> workerIds, TimeSpan? timeout = null, Func<string, bool>? isDead = null,
        Func<string, IEnumerable<string>?>? fetchLogs = null, bool? progress = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(workerIds);
        CheckTimeout(timeout, nameof(timeout));
        var ids = workerIds.Distinct(StringComparer.Ordinal).ToArray();
        var sw = Stopwatch.StartNew();
        using var bar = Controller.ProgressBar.Create(progress, ids.Length, "workers ready");
        while (true)
        {
            var (live, statuses) = await Queue.LiveAndStatusesAsync(ids, cancellationToken).ConfigureAwait(false);
            var waiting = ids.Where(i => !live.Contains(i)).ToArray();
            bar?.Report(ids.Length - waiting.Length);
            if (waiting.Length == 0)
            {
                bar?.Report(ids.Length, force: true);
                return sw.Elapsed;
            }
            // Registered once and gone already (EXITED, LOST), or declared dead by the caller.
            var left = ids.Select((id, i) => (id, status: statuses[i]))
                .Where(p => !live.Contains(p.id) && p.status is "EXITED" or "LOST").Select(p => p.id).ToArray();
            var dead = waiting.Where(w => left.Contains(w) || (isDead?.Invoke(w) ?? false)).ToArray();
            var late = timeout is { } t && sw.Elapsed > t;
            if (dead.Length > 0 || late)
            {
                var failed = dead.Length > 0 ? dead : waiting;
                var what = dead.Length == 0
                    ? (waiting.Length == 1 && ids.Length == 1 ? "Worker not ready in time" : $"{waiting.Length} / {ids.Length} workers not ready in time")
                    : dead.Length == ids.Length ? (ids.Length == 1 ? "Worker died" : $"All {ids.Length} workers died")
                    : $"{dead.Length} / {ids.Length} workers died";
                var logs = fetchLogs is null
                    ? "No logs: pass fetchLogs to see what the workers printed."
                    : "Log of each:\n" + string.Join("\n", failed.Select(w =>
                        $"> {w}:\n" + string.Join("\n", (fetchLogs(w) ?? ["(no log)"]).TakeLast(30).Select(l => "  " + l))));
                throw new RrqException($"{what} (queue '{QueueId}'): {string.Join(", ", failed)}" +
                    (late && dead.Length == 0 ? $" after {timeout!.Value.TotalSeconds:0.###} s" : "") + $". {logs}");
            }
            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }
    }
}
