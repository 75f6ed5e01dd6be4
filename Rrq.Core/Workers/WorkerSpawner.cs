using System.Collections.Concurrent;
using System.Diagnostics;

namespace Rrq.Workers;

/// <summary>Starts worker processes and waits for them to register (or to die trying).</summary>
internal static class WorkerSpawner
{
    // Spawned processes are kept here for the life of this process: their standard-input pipes are
    // the workers' lifeline, and must not be closed by the garbage collector.
    private static readonly ConcurrentBag<Process> Alive = [];

    public static async Task<RrqWorkerSpawnResult> SpawnAsync(RrqController controller, int n, string config,
        TimeSpan timeout, string? logDir, CancellationToken cancellationToken)
    {
        logDir ??= Path.Combine(Path.GetTempPath(), "rrq-workers", Sanitize(controller.QueueId));
        Directory.CreateDirectory(logDir);
        var prefix = await WorkerNames.UnusedBaseAsync(controller, n).ConfigureAwait(false);
        var ids = Enumerable.Range(1, n).Select(i => $"{prefix}_{i}").ToArray();
        var env = new Dictionary<string, string>(StringComparer.Ordinal) { ["RRQ_REDIS"] = controller.RedisConfiguration };
        if (controller.Offload is { } offload)
        {
            env["RRQ_OFFLOAD"] = offload.Path;
            env["RRQ_OFFLOAD_THRESHOLD"] = offload.ThresholdBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var processes = new Dictionary<string, Process>(StringComparer.Ordinal);
        var logs = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Console.IsErrorRedirected is false)
        {
            Console.Error.WriteLine($"ℹ Spawning {n} worker{(n > 1 ? "s" : "")} with prefix '{prefix}'");
        }
        foreach (var id in ids)
        {
            var log = Path.Combine(logDir, id + ".log");
            logs[id] = log;
            await controller.Queue.RunAsync(db => db.HashSetAsync(controller.Keys.WorkerProcess, id, log), cancellationToken).ConfigureAwait(false);
            var p = WorkerLauncher.Start([controller.QueueId, "--config", config, "--name", id, "--exit-with-stdin"], log, env);
            processes[id] = p;
            Alive.Add(p);
        }
        var result = new RrqWorkerSpawnResult(controller, ids, processes, logs, restart: id =>
        {
            var p = WorkerLauncher.Start([controller.QueueId, "--config", config, "--name", id, "--exit-with-stdin"], logs[id], env);
            Alive.Add(p);
            return p;
        });
        if (timeout > TimeSpan.Zero)
        {
            await result.WaitAliveAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        return result;
    }

    private static string Sanitize(string s) => string.Concat(s.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
}
