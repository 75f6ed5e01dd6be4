using System.Diagnostics;

namespace Rrq;

/// <summary>
/// Workers started by <see cref="RrqController.WorkerSpawn"/>: their ids, process ids and log files,
/// and ways to wait for them, stop them and kill them (rrq's spawn manager).
/// </summary>
public sealed class RrqWorkerSpawnResult
{
    private readonly RrqController _controller;
    private readonly IReadOnlyDictionary<string, Process> _processes;

    internal RrqWorkerSpawnResult(RrqController controller, IReadOnlyList<string> ids,
        IReadOnlyDictionary<string, Process> processes, IReadOnlyDictionary<string, string> logFiles)
    {
        _controller = controller;
        Ids = ids;
        _processes = processes;
        LogFiles = logFiles;
        Pids = processes.ToDictionary(p => p.Key, p => p.Value.Id);
    }

    /// <summary>The worker ids, e.g. brave_otter_1, brave_otter_2.</summary>
    public IReadOnlyList<string> Ids { get; }

    /// <summary>The first (or only) worker id.</summary>
    public string Id => Ids[0];

    /// <summary>Process id of each worker.</summary>
    public IReadOnlyDictionary<string, int> Pids { get; }

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
        foreach (var id in Ids)
        {
            Kill(id);
        }
    }

    /// <summary>Stops the workers cleanly (STOP message) and waits for their processes to end.</summary>
    public void Stop(TimeSpan? timeout = null)
    {
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
