using Microsoft.Extensions.Logging;
using System.Diagnostics;

namespace Rrq;

/// <summary>
/// Workers started by <see cref="RrqController.WorkerSpawn"/>: their ids, process ids and log files,
/// and ways to wait for them, stop them and kill them (rrq's spawn manager).
/// </summary>
public sealed class RrqWorkerSpawnResult
{
    private readonly RrqController _controller;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Process> _processes;
    private readonly Func<string, Process>? _restart;
    private int _recycles;
    private volatile bool _ending;

    internal RrqWorkerSpawnResult(RrqController controller, IReadOnlyList<string> ids,
        IReadOnlyDictionary<string, Process> processes, IReadOnlyDictionary<string, string> logFiles,
        Func<string, Process>? restart = null)
    {
        _controller = controller;
        Ids = ids;
        _processes = new(processes, StringComparer.Ordinal);
        LogFiles = logFiles;
        _restart = restart;
        foreach (var (id, p) in processes)
        {
            Watch(id, p);
        }
    }

    /// <summary>How many times a worker of this spawn stopped to be recycled and was started again.</summary>
    public int Recycles => Volatile.Read(ref _recycles);

    /// <summary>A worker that exits to be recycled (<see cref="RrqWorker.RecycleExitCode"/>) is started
    /// again at once, with the same id, configuration and log.</summary>
    private void Watch(string id, Process p)
    {
        if (_restart is null)
        {
            return;
        }
        p.EnableRaisingEvents = true;
        p.Exited += (_, _) =>
        {
            int code;
            try
            {
                code = p.ExitCode;
            }
            catch (InvalidOperationException)
            {
                return;
            }
            if (code != RrqWorker.RecycleExitCode || _ending)
            {
                return;
            }
            try
            {
                var next = _restart(id);
                _processes[id] = next;
                Interlocked.Increment(ref _recycles);
                Watch(id, next);
            }
            catch (Exception e) when (e is RrqException or IOException or System.ComponentModel.Win32Exception)
            {
                _controller.Logger.LogError(e, "Could not restart recycled worker {WorkerId}", id);
            }
        };
    }

    /// <summary>The worker ids, e.g. brave_otter_1, brave_otter_2.</summary>
    public IReadOnlyList<string> Ids { get; }

    /// <summary>The first (or only) worker id.</summary>
    public string Id => Ids[0];

    /// <summary>Process id of each worker (of its current process, when it has been recycled).</summary>
    public IReadOnlyDictionary<string, int> Pids => Ids.ToDictionary(i => i, i => _processes[i].Id, StringComparer.Ordinal);

    /// <summary>The file each worker's output goes to.</summary>
    public IReadOnlyDictionary<string, string> LogFiles { get; }

    /// <summary>True while the worker's process runs.</summary>
    public bool IsAlive(string workerId) => !Process(workerId).HasExited;

    /// <summary>The lines of the worker's output so far.</summary>
    public IReadOnlyList<string> Logs(string workerId) =>
        File.Exists(LogFiles[Check(workerId)]) ? File.ReadAllLines(LogFiles[workerId]) : [];

    /// <summary>Kills the worker's process at once (SIGKILL), as a crash would: nothing is written to
    /// Redis, so its status and task stay as they were until lost-worker detection finds it.
    /// Use <see cref="RrqController.WorkerStop"/> to stop it cleanly.</summary>
    public void Kill(string workerId)
    {
        var p = Process(workerId);
        if (!p.HasExited)
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
        }
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
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        foreach (var p in _processes.Values)
        {
            var left = deadline - DateTime.UtcNow;
            if (!p.WaitForExit(left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                throw new RrqException($"Worker process {p.Id} did not exit within the timeout; use Kill().");
            }
        }
    }

    /// <summary>
    /// Waits until every worker has registered. Fails fast, with the workers' logs in the message, when
    /// a worker process dies first or the time runs out. Shows progress on a terminal.
    /// </summary>
    public Task WaitAliveAsync(TimeSpan timeout, CancellationToken cancellationToken = default) =>
        _controller.WorkerWaitAsync(Ids, timeout, isDead: id => _processes[id].HasExited,
            fetchLogs: id => [$"({LogFiles[id]})", .. Logs(id)], cancellationToken: cancellationToken);

    /// <summary>Synchronous form of <see cref="WaitAliveAsync"/>.</summary>
    public void WaitAlive(TimeSpan timeout) => WaitAliveAsync(timeout).GetAwaiter().GetResult();

    private Process Process(string workerId) => _processes[Check(workerId)];

    private string Check(string workerId) => _processes.ContainsKey(workerId) ? workerId
        : throw new RrqException($"Worker '{workerId}' was not started by this spawn; its workers are {string.Join(", ", Ids)}.");

    /// <inheritdoc />
    public override string ToString() => $"<rrq_worker_spawn: {string.Join(", ", Ids.Select(i => $"{i} (pid {Pids[i]})"))}>";
}
