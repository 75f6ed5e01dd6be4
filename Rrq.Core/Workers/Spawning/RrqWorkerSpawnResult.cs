using Microsoft.Extensions.Logging;
using Rrq.Workers;

namespace Rrq;

/// <summary>
/// Workers started by <see cref="RrqController.WorkerSpawn"/>: their ids, process ids (or scheduler jobs) and log
/// files, and ways to wait for them, stop them and kill them (rrq's spawn manager).
/// </summary>
public sealed class RrqWorkerSpawnResult
{
    /// <summary>At most this many crashed workers are started again per minute, per spawn: a worker that
    /// crashes as it starts must not become a loop of processes.</summary>
    public const int MaxRestartsPerMinute = 5;

    private readonly RrqController _controller;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, WorkerHandle> _processes;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _logFiles;
    private readonly Func<string, string, WorkerHandle>? _restart;
    private readonly Lock _lock = new();
    private readonly Queue<DateTimeOffset> _recentRestarts = new();
    private readonly HashSet<string> _killed = new(StringComparer.Ordinal);
    private string[] _ids;
    private int _recycles;
    private int _restarts;
    private volatile bool _ending;

    // restart: starts a worker again, (id, the id of the worker it replaces) → its process.
    internal RrqWorkerSpawnResult(RrqController controller, IReadOnlyList<string> ids,
        IReadOnlyDictionary<string, WorkerHandle> processes, IReadOnlyDictionary<string, string> logFiles,
        Func<string, string, WorkerHandle>? restart = null)
    {
        _controller = controller;
        _ids = [.. ids];
        _processes = new(processes, StringComparer.Ordinal);
        _logFiles = new(logFiles, StringComparer.Ordinal);
        _restart = restart;
        foreach (var (id, p) in processes)
        {
            Watch(id, p);
        }
    }

    /// <summary>How many times a worker of this spawn stopped to be recycled and was started again.</summary>
    public int Recycles => Volatile.Read(ref _recycles);

    /// <summary>How many times a worker of this spawn exited abnormally (crashed, or was killed from outside)
    /// and was replaced by a new worker under a new id.</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    /// <summary>A worker that exits to be recycled (<see cref="RrqWorker.RecycleExitCode"/>) is started
    /// again at once, with the same id, configuration and log. One that exits abnormally (any other
    /// non-zero code, or a signal, unless <see cref="Kill(string)"/> or <see cref="Stop"/> asked for it)
    /// is replaced by a new worker under a new id (<c>brave_otter_2</c> becomes <c>brave_otter_2r1</c>), at
    /// most <see cref="MaxRestartsPerMinute"/> a minute, so a crash cannot leave the queue without workers.
    /// The crashed worker's task, if any, is found by lost-worker detection (DIED).</summary>
    private void Watch(string id, WorkerHandle p)
    {
        if (_restart is null)
        {
            return;
        }
        p.OnExit(code => _ = Task.Run(() => OnExitedAsync(id, code)));
    }

    private async Task OnExitedAsync(string id, int? exitCode)
    {
        if (exitCode is not { } code || code == 0 || _ending)
        {
            return;
        }
        var recycle = code == RrqWorker.RecycleExitCode;
        if (!recycle)
        {
            try
            {
                // Stopped through the API (WorkerStop with Kill marks it EXITED before killing it): not a crash.
                if (await _controller.WorkerStatusAsync(id).ConfigureAwait(false) == RrqWorkerStatus.Exited)
                {
                    return;
                }
            }
            catch (Exception e) when (e is RrqException or ObjectDisposedException)
            {
                return;   // the controller is gone (its process ends), or the queue was destroyed
            }
        }
        string next;
        lock (_lock)
        {
            if (!recycle && _killed.Contains(id))
            {
                return;   // killed on purpose
            }
            if (!recycle)
            {
                while (_recentRestarts.Count > 0 && _controller.Time.GetUtcNow() - _recentRestarts.Peek() > TimeSpan.FromMinutes(1))
                {
                    _recentRestarts.Dequeue();
                }
                if (_recentRestarts.Count >= MaxRestartsPerMinute)
                {
                    Logging.RrqLog.RestartGaveUp(_controller.Logger, id, code, MaxRestartsPerMinute, _logFiles[id]);
                    return;
                }
                _recentRestarts.Enqueue(_controller.Time.GetUtcNow());
            }
            next = recycle ? id : NextId(id);
        }
        try
        {
            var process = _restart!(next, id);
            lock (_lock)
            {
                _processes[next] = process;
                if (!recycle)
                {
                    _ids = [.. _ids.Select(i => i == id ? next : i)];
                    Interlocked.Increment(ref _restarts);
                    Logging.RrqLog.Restarted(_controller.Logger, id, code, next);
                }
                else
                {
                    Interlocked.Increment(ref _recycles);
                }
            }
            Watch(next, process);
        }
        catch (Exception e) when (e is RrqException or IOException or System.ComponentModel.Win32Exception or ObjectDisposedException)
        {
            Logging.RrqLog.RestartFailed(_controller.Logger, e, next);
        }
    }

    /// <summary>The id for the replacement of a crashed worker: its own with r1, r2... (no id is used twice).</summary>
    private string NextId(string id)
    {
        var baseId = id;
        var r = id.LastIndexOf('r');
        if (r > 0 && int.TryParse(id.AsSpan(r + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)
            && _processes.ContainsKey(id[..r]))
        {
            baseId = id[..r];
        }
        for (var n = 1; ; n++)
        {
            var candidate = $"{baseId}r{n}";
            if (!_processes.ContainsKey(candidate))
            {
                _logFiles[candidate] = Path.Combine(Path.GetDirectoryName(_logFiles[id]) ?? "", candidate + ".log");
                return candidate;
            }
        }
    }

    /// <summary>The worker ids, e.g. brave_otter_1, brave_otter_2 (a crashed worker's replacement in its place).</summary>
    public IReadOnlyList<string> Ids => Volatile.Read(ref _ids);

    /// <summary>The first (or only) worker id.</summary>
    public string Id => Ids[0];

    /// <summary>Process id of each worker on this machine (of its current process, when it has been recycled); workers a
    /// scheduler runs are in <see cref="Jobs"/> instead.</summary>
    public IReadOnlyDictionary<string, int> Pids => Ids.Where(i => _processes[i].Pid is not null)
        .ToDictionary(i => i, i => _processes[i].Pid!.Value, StringComparer.Ordinal);

    /// <summary>The scheduler job of each worker a scheduler runs (Slurm: "job_task" of the spawn's job array), by id;
    /// empty for workers spawned on this machine.</summary>
    public IReadOnlyDictionary<string, string> Jobs => Ids.Where(i => _processes[i].Job is not null)
        .ToDictionary(i => i, i => _processes[i].Job!, StringComparer.Ordinal);

    /// <summary>The file each worker's output goes to (crashed workers' included).</summary>
    public IReadOnlyDictionary<string, string> LogFiles => _logFiles;

    /// <summary>True while the worker's process (or job) runs.</summary>
    public bool IsAlive(string workerId) => !Process(workerId).HasExited;

    /// <summary>The lines of the worker's output so far.</summary>
    public IReadOnlyList<string> Logs(string workerId) =>
        File.Exists(LogFiles[Check(workerId)]) ? File.ReadAllLines(LogFiles[workerId]) : [];

    /// <summary>Kills the worker's process at once (SIGKILL), as a crash would: nothing is written to
    /// Redis, so its status and task stay as they were until lost-worker detection finds it.
    /// Use <see cref="RrqController.WorkerStop"/> to stop it cleanly.</summary>
    public void Kill(string workerId)
    {
        lock (_lock)
        {
            _killed.Add(workerId);
        }
        Process(workerId).Kill();
    }

    /// <summary>Stops the workers of a spawn that failed part way: those that registered leave cleanly (EXITED),
    /// the others are killed. Returns the ids of those that had registered.</summary>
    internal async Task<IReadOnlyList<string>> AbandonAsync()
    {
        _ending = true;
        var live = (await _controller.WorkerListAsync().ConfigureAwait(false)).Intersect(Ids, StringComparer.Ordinal).ToArray();
        foreach (var id in Ids)
        {
            Kill(id);
        }
        foreach (var id in live)
        {
            await _controller.WorkerExitAsync(id, "STOP SPAWN FAILED").ConfigureAwait(false);
        }
        return live;
    }

    /// <summary>Kills every worker of this spawn (see <see cref="Kill(string)"/>).</summary>
    public void Kill()
    {
        _ending = true;
        foreach (var id in Ids)
        {
            Kill(id);
        }
    }

    /// <summary>Stops the workers cleanly (STOP message) and waits for their processes to end.</summary>
    public void Stop(TimeSpan? timeout = null)
    {
        _ending = true;
        _controller.WorkerStop(Ids.Where(IsAlive), RrqWorkerStopType.Message);
        var deadline = _controller.Time.GetUtcNow() + (timeout ?? TimeSpan.FromSeconds(30));
        foreach (var (id, p) in _processes)
        {
            if (!p.WaitForExit(deadline - _controller.Time.GetUtcNow()))
            {
                throw new RrqException($"Worker {id} ({(p.Pid is { } pid ? $"process {pid}" : $"job {p.Job}")}) did not exit within the timeout; use Kill().");
            }
        }
    }

    /// <summary>
    /// Waits until every worker has registered. Fails fast, with the workers' logs in the message, when
    /// a worker process dies first or the time runs out. Shows progress on a terminal.
    /// </summary>
    public Task WaitAliveAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        _controller.WorkerWaitAsync(Ids, timeout, isDead: id => _processes[id].HasExited,
            fetchLogs: id => [.. _processes[id].Describe(), $"({LogFiles[id]})", .. Logs(id)], cancellationToken: cancellationToken);

    /// <summary>Synchronous form of <see cref="WaitAliveAsync"/>.</summary>
    public void WaitAlive(TimeSpan timeout) => WaitAliveAsync(timeout).GetAwaiter().GetResult();

    private WorkerHandle Process(string workerId) => _processes[Check(workerId)];

    private string Check(string workerId) => _processes.ContainsKey(workerId) ? workerId
        : throw new RrqException($"Worker '{workerId}' was not started by this spawn; its workers are {string.Join(", ", Ids)}.");

    /// <inheritdoc />
    public override string ToString() => $"<rrq_worker_spawn: {string.Join(", ", Ids.Select(i =>
        $"{i} ({(_processes[i].Pid is { } pid ? $"pid {pid}" : $"job {_processes[i].Job}")})"))}>";
}
