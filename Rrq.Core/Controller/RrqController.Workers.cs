using System.Text.Json;
using Rrq.Controller;
using Rrq.Keys;
using Rrq.Workers;

namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>Saves a named worker configuration (rrq's <c>rrq_worker_config_save</c>). Returns false,
    /// changing nothing, when the name exists and <paramref name="overwrite"/> is false.</summary>
    /// <exception cref="ArgumentException">A field of the config is invalid (the message names it).</exception>
    public bool WorkerConfigSave(string name, RrqWorkerConfig config, bool overwrite = true) =>
        WorkerConfigSaveAsync(name, config, overwrite).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerConfigSave"/>
    public async Task<bool> WorkerConfigSaveAsync(string name, RrqWorkerConfig config, bool overwrite = true,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        QueueIdValidation.CheckName(name, "worker configuration name", nameof(name));
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var json = JsonSerializer.Serialize(config, JsonOptions);
        return await Queue.WorkerConfigSetAsync(name, json, overwrite, cancellationToken).ConfigureAwait(false) || overwrite;
    }

    /// <summary>Reads a named worker configuration.</summary>
    /// <exception cref="RrqException">No configuration of that name (the message lists those that exist).</exception>
    public RrqWorkerConfig WorkerConfigRead(string name) => WorkerConfigReadAsync(name).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerConfigRead"/>
    public async Task<RrqWorkerConfig> WorkerConfigReadAsync(string name, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(name);
        var raw = await Queue.WorkerConfigGetAsync(name, cancellationToken).ConfigureAwait(false);
        if (raw is null)
        {
            var known = await WorkerConfigListAsync(cancellationToken).ConfigureAwait(false);
            throw new RrqException($"No worker configuration '{name}' in queue '{QueueId}'; saved ones: " +
                $"{string.Join(", ", known)}. Save it first with WorkerConfigSave.");
        }
        return JsonSerializer.Deserialize<RrqWorkerConfig>(raw, JsonOptions)!;
    }

    /// <summary>Names of the saved worker configurations.</summary>
    public IReadOnlyList<string> WorkerConfigList() => WorkerConfigListAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerConfigList"/>
    public async Task<IReadOnlyList<string>> WorkerConfigListAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return [.. (await Queue.WorkerConfigNamesAsync(cancellationToken).ConfigureAwait(false)).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// Starts <paramref name="n"/> <c>rrq-worker</c> processes pointed at this queue and this Redis, and waits until
    /// they have registered (rrq's <c>rrq_worker_spawn</c>). By default they run on this machine and exit when this
    /// process does; with <see cref="RrqSlurmLauncher"/> they are one Slurm job array. The result has their ids, pids (or
    /// jobs) and logs and can kill them.
    /// </summary>
    /// <param name="n">How many workers.</param>
    /// <param name="config">The name of a saved worker configuration.</param>
    /// <param name="timeout">How long to wait for them to register; default 10 minutes.
    /// <see cref="TimeSpan.Zero"/> returns without waiting.</param>
    /// <param name="logDir">Where their output goes; default a folder under the temporary directory (for Slurm, under
    /// the home directory, which the nodes see).</param>
    /// <param name="launcher">How they start: <see cref="RrqWorkerLauncher.Local"/> (null, the default) or a
    /// <see cref="RrqSlurmLauncher"/>.</param>
    /// <exception cref="RrqException">A worker died or did not register in time (its log, and its job's state and reason
    /// under a scheduler, are in the message), or the scheduler refused the job.</exception>
    public RrqWorkerSpawnResult WorkerSpawn(int n = 1, string config = "localhost", TimeSpan? timeout = null, string? logDir = null,
        RrqWorkerLauncher? launcher = null) =>
        WorkerSpawnAsync(n, config, timeout, logDir, launcher).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerSpawn"/>
    public async Task<RrqWorkerSpawnResult> WorkerSpawnAsync(int n = 1, string config = "localhost", TimeSpan? timeout = null,
        string? logDir = null, RrqWorkerLauncher? launcher = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        CheckTimeout(timeout, nameof(timeout));
        await WorkerConfigReadAsync(config, cancellationToken).ConfigureAwait(false);
        return await WorkerSpawner.SpawnAsync(this, n, config, timeout ?? TimeSpan.FromMinutes(10), logDir, launcher, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Ids of the live workers (registered and not exited), in natural order (w_2 before w_10).</summary>
    public IReadOnlyList<string> WorkerList() => WorkerListAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerList"/>
    public async Task<IReadOnlyList<string>> WorkerListAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return [.. (await Queue.LiveWorkersAsync(cancellationToken).ConfigureAwait(false)).Order(NaturalComparer.Instance)];
    }

    /// <summary>The status of one worker (IDLE, BUSY, PAUSED, EXITED, LOST).</summary>
    /// <exception cref="RrqException">No worker of that id has ever registered in this queue.</exception>
    public RrqWorkerStatus WorkerStatus(string workerId) => WorkerStatusAsync(workerId).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerStatus(string)"/>
    public async Task<RrqWorkerStatus> WorkerStatusAsync(string workerId, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(workerId);
        var raw = await Queue.WorkerStatusFieldAsync(workerId, cancellationToken).ConfigureAwait(false);
        if (raw is null)
        {
            throw new RrqException($"Worker '{workerId}' has never registered in queue '{QueueId}'. " +
                $"Live workers: {string.Join(", ", await WorkerListAsync(cancellationToken).ConfigureAwait(false))}.");
        }
        return RrqWorkerStatusExtensions.ParseWorkerStatus(raw);
    }

    /// <summary>Status of every worker that ever registered (live, exited and lost), by id.</summary>
    public IReadOnlyDictionary<string, RrqWorkerStatus> WorkerStatusAll() => WorkerStatusAllAsync().GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerStatusAll"/>
    public async Task<IReadOnlyDictionary<string, RrqWorkerStatus>> WorkerStatusAllAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return new SortedDictionary<string, RrqWorkerStatus>(await Queue.WorkerStatusesAsync(cancellationToken).ConfigureAwait(false),
            NaturalComparer.Instance);
    }

    /// <summary>What each worker reported about itself when it started, by id (default: live workers).</summary>
    public RrqWorkerInfoDictionary WorkerInfo(IEnumerable<string>? workerIds = null) =>
        WorkerInfoAsync(workerIds).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerInfo"/>
    public async Task<RrqWorkerInfoDictionary> WorkerInfoAsync(IEnumerable<string>? workerIds = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = workerIds?.ToArray() ?? [.. await WorkerListAsync(cancellationToken).ConfigureAwait(false)];
        var raw = await Queue.WorkerInfoJsonAsync(ids, cancellationToken).ConfigureAwait(false);
        return new RrqWorkerInfoDictionary(raw.OfType<string>().Select(r => JsonSerializer.Deserialize<RrqWorkerInfo>(r, JsonOptions)!));
    }

    /// <summary>
    /// Stops workers (default: all live ones). <see cref="RrqWorkerStopType.Message"/> sends STOP, which
    /// an idle worker obeys at once and a busy one after its task; <see cref="RrqWorkerStopType.Kill"/>
    /// kills the processes (on this machine) and marks them EXITED and their running tasks DIED.
    /// </summary>
    /// <param name="workerIds">The workers; null for every live worker.</param>
    /// <param name="type">How to stop them.</param>
    /// <param name="timeout">How long to wait until they have exited; zero (the default) does not wait.</param>
    /// <exception cref="RrqException">A worker is unknown, or (Kill) runs on another machine, or did not exit in time.</exception>
    public void WorkerStop(IEnumerable<string>? workerIds = null, RrqWorkerStopType type = RrqWorkerStopType.Message,
        TimeSpan? timeout = null) =>
        WorkerStopAsync(workerIds, type, timeout).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerStop"/>
    public async Task WorkerStopAsync(IEnumerable<string>? workerIds = null, RrqWorkerStopType type = RrqWorkerStopType.Message,
        TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        CheckTimeout(timeout, nameof(timeout));
        var ids = workerIds?.ToArray() ?? [.. await WorkerListAsync(cancellationToken).ConfigureAwait(false)];
        if (ids.Length == 0)
        {
            return;
        }
        var infos = await WorkerInfoAsync(ids, cancellationToken).ConfigureAwait(false);
        var unknown = ids.Where(i => !infos.ContainsKey(i)).ToArray();
        if (unknown.Length > 0)
        {
            throw new RrqException($"Cannot stop unknown worker{(unknown.Length > 1 ? "s" : "")} {string.Join(", ", unknown)} " +
                $"in queue '{QueueId}'; live workers: {string.Join(", ", await WorkerListAsync(cancellationToken).ConfigureAwait(false))}.");
        }
        if (type == RrqWorkerStopType.Kill)
        {
            // Workers in Slurm jobs are cancelled through Slurm, wherever they run; others only on this machine.
            var remote = infos.Values.Where(i => i.SlurmJob is null && !string.Equals(i.Hostname, Environment.MachineName, StringComparison.Ordinal)).ToArray();
            if (remote.Length > 0)
            {
                throw new RrqException($"Cannot kill workers on other machines: {string.Join(", ", remote.Select(r => $"{r.WorkerId} on {r.Hostname}"))}. " +
                    "Stop them with RrqWorkerStopType.Message instead.");
            }
            // Only workers still on the queue: the pid of one that has left may belong to another process by now.
            var live = (await WorkerListAsync(cancellationToken).ConfigureAwait(false)).ToHashSet(StringComparer.Ordinal);
            foreach (var info in infos.Values.Where(i => live.Contains(i.WorkerId)))
            {
                // EXITED first: from then on the worker can write nothing, and whoever supervises it sees that it was
                // stopped on purpose, not crashed.
                await WorkerExitAsync(info.WorkerId, "STOP KILLED", cancellationToken: cancellationToken).ConfigureAwait(false);
                if (info.SlurmJob is { } job)
                {
                    RrqSlurmLauncher.Cancel(job);
                }
                else if (!ProcessKill.Kill(info.Pid, info.ProcessStarted))
                {
                    Logging.RrqLog.KilledProcessGone(Logger, info.WorkerId, info.Pid);
                }
            }
            return;
        }
        foreach (var id in ids)
        {
            await SendAsync("STOP", null, [id]).ConfigureAwait(false);   // one already gone needs no STOP
        }
        if (timeout is { } t && t > TimeSpan.Zero)
        {
            var deadline = Time.GetUtcNow() + t;
            while (true)
            {
                var live = (await WorkerListAsync(cancellationToken).ConfigureAwait(false)).Intersect(ids, StringComparer.Ordinal).ToArray();
                if (live.Length == 0)
                {
                    return;
                }
                if (Time.GetUtcNow() > deadline)
                {
                    throw new RrqException($"Worker{(live.Length > 1 ? "s" : "")} {string.Join(", ", live)} did not exit within {t.TotalSeconds:0.###} s " +
                        "(a busy worker stops after its current task). Use RrqWorkerStopType.Kill to stop them now.");
                }
                await Task.Delay(50, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The last <paramref name="n"/> log lines of each worker (default: live workers), sorted by time;
    /// n = 0 gives every line.</summary>
    public IReadOnlyList<RrqWorkerLogEntry> WorkerLogTail(IEnumerable<string>? workerIds = null, int n = 1) =>
        WorkerLogTailAsync(workerIds, n).GetAwaiter().GetResult();

    /// <summary>The last <paramref name="n"/> log lines of one worker.</summary>
    public IReadOnlyList<RrqWorkerLogEntry> WorkerLogTail(string workerId, int n = 1) =>
        WorkerLogTailAsync([workerId], n).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerLogTail(IEnumerable{string}?, int)"/>
    public async Task<IReadOnlyList<RrqWorkerLogEntry>> WorkerLogTailAsync(IEnumerable<string>? workerIds = null, int n = 1,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        var ids = workerIds?.ToArray() ?? [.. await WorkerListAsync(cancellationToken).ConfigureAwait(false)];
        var entries = new List<RrqWorkerLogEntry>();
        foreach (var id in ids)
        {
            var lines = await Queue.WorkerLogLinesAsync(id, n, cancellationToken).ConfigureAwait(false);
            entries.AddRange(lines.Select(l => ParseLogLine(id, l)));
        }
        return new RrqWorkerLog([.. entries.OrderBy(e => e.Time).ThenBy(e => e.WorkerId, NaturalComparer.Instance)]);
    }

    /// <summary>The standard output and error of a spawned worker, as lines.</summary>
    /// <exception cref="RrqException">The worker was not spawned by <see cref="WorkerSpawn"/> (no log is known).</exception>
    public IReadOnlyList<string> WorkerProcessLog(string workerId) => WorkerProcessLogAsync(workerId).GetAwaiter().GetResult();

    /// <inheritdoc cref="WorkerProcessLog"/>
    public async Task<IReadOnlyList<string>> WorkerProcessLogAsync(string workerId, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var path = await Queue.WorkerProcessLogPathAsync(workerId, cancellationToken).ConfigureAwait(false);
        if (path is null)
        {
            throw new RrqException($"No process log is known for worker '{workerId}': only workers started by WorkerSpawn have one.");
        }
        return File.Exists(path) ? await File.ReadAllLinesAsync(path, cancellationToken).ConfigureAwait(false) : [];
    }

    /// <summary>Records a worker leaving (worker_exit.lua). <paramref name="notStarted"/>: a task it took but
    /// never started, which goes back to its queue rather than becoming DIED.</summary>
    internal async Task<string[]> WorkerExitAsync(string workerId, string label, IReadOnlyCollection<string>? notStarted = null,
        CancellationToken cancellationToken = default)
    {
        var orphans = await Queue.WorkerExitAsync(workerId, label, notStarted ?? [], $"its worker {workerId} left while the task was running ({label})",
            cancellationToken).ConfigureAwait(false);
        if (orphans.Length > 0)
        {
            await Queue.WalksDrainAsync(cancellationToken).ConfigureAwait(false);
        }
        return orphans;
    }

    internal static RrqWorkerLogEntry ParseLogLine(string workerId, string line)
    {
        var first = line.IndexOf(' ', StringComparison.Ordinal);
        var time = RedisTime.Parse(first < 0 ? line : line[..first]) ?? DateTimeOffset.MinValue;
        var rest = first < 0 ? "" : line[(first + 1)..];
        var second = rest.IndexOf(' ', StringComparison.Ordinal);
        return second < 0
            ? new RrqWorkerLogEntry(workerId, time, rest, "")
            : new RrqWorkerLogEntry(workerId, time, rest[..second], rest[(second + 1)..]);
    }
}
