using System.Collections.Concurrent;
using System.Diagnostics;

namespace Rrq.Workers;

/// <summary>Starts worker processes and waits for them to register (or to die trying).</summary>
internal static class WorkerSpawner
{
    /// <summary>The file, in the workers' log folder, that holds the connection string they connect with.</summary>
    internal const string ConnectionFile = ".connection";

    // Spawned processes are kept here for the life of this process: their standard-input pipes are
    // the workers' lifeline, and must not be closed by the garbage collector.
    private static readonly ConcurrentBag<Process> Alive = [];

    public static async Task<RrqWorkerSpawnResult> SpawnAsync(RrqController controller, int n, string config,
        TimeSpan timeout, string? logDir, RrqWorkerLauncher? launcher, CancellationToken cancellationToken)
    {
        if (launcher is RrqSlurmLauncher slurm)
        {
            return await SpawnSlurmAsync(controller, slurm, n, config, timeout, logDir, cancellationToken).ConfigureAwait(false);
        }
        if (logDir is null)
        {
            logDir = Path.Combine(Path.GetTempPath(), "rrq-workers", Sanitize(controller.QueueId));
            WorkerLauncher.PrivateFolder(logDir);   // ours, in a folder every user sees: this user's only
        }
        else
        {
            Directory.CreateDirectory(logDir);      // the caller's: its files are private, the folder is left as it is
        }
        // The connection string (a password, maybe) goes in a file only this user can read, named on the command line:
        // not in the workers' environment, where their task code would find it.
        var connectionFile = Path.Combine(logDir, ConnectionFile);
        WorkerLauncher.PrivateFile(connectionFile);
        await File.WriteAllTextAsync(connectionFile, controller.Address.Configuration, cancellationToken).ConfigureAwait(false);
        var prefix = await WorkerNames.UnusedBaseAsync(controller, n).ConfigureAwait(false);
        var ids = Enumerable.Range(1, n).Select(i => $"{prefix}_{i}").ToArray();
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["RRQ_REDIS"] = "",   // "": not passed on (the connection file is)
            ["REDIS_URL"] = "",
            // The controller's keys, whatever this process's environment says ("" when it has none: they check nothing).
            [RrqSigningKeys.EnvironmentVariable] = controller.SigningKeys?.FileForWorkers() ?? "",
        };
        if (controller.Offload is { } offload)
        {
            env["RRQ_OFFLOAD"] = offload.Path;
            env["RRQ_OFFLOAD_THRESHOLD"] = offload.ThresholdBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var processes = new Dictionary<string, WorkerHandle>(StringComparer.Ordinal);
        var logs = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Console.IsErrorRedirected is false)
        {
            Console.Error.WriteLine($"ℹ Spawning {n} worker{(n > 1 ? "s" : "")} with prefix '{prefix}'");
        }
        async Task<WorkerHandle> StartAsync(string id, string log)
        {
            await controller.Queue.WorkerProcessLogSetAsync(id, log, cancellationToken).ConfigureAwait(false);
            var p = WorkerLauncher.Start([controller.QueueId, "--config", config, "--name", id, "--exit-with-stdin", "--redis-file", connectionFile], log, env);
            Alive.Add(p);
            return new ProcessHandle(p);
        }
        try
        {
            foreach (var id in ids)
            {
                logs[id] = Path.Combine(logDir, id + ".log");
                processes[id] = await StartAsync(id, logs[id]).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is RrqException or IOException or System.ComponentModel.Win32Exception)
        {
            foreach (var p in processes.Values)
            {
                p.Kill();
            }
            throw new RrqException($"Could not start worker {ids[processes.Count]} of {n} ({e.Message}); the {processes.Count} " +
                "started before it were killed.", e);
        }
        var result = new RrqWorkerSpawnResult(controller, ids, processes, logs, restart: (id, replaced) =>
            StartAsync(id, Path.Combine(logDir, id + ".log")).GetAwaiter().GetResult());
        await WaitAsync(result, ids, timeout, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>Waits for a spawn's workers to register; a partial spawn is no spawn: on failure the workers that did
    /// start are stopped, so none is left behind unseen.</summary>
    private static async Task WaitAsync(RrqWorkerSpawnResult result, string[] ids, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (timeout > TimeSpan.Zero)
        {
            try
            {
                await result.WaitAliveAsync(timeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RrqException or OperationCanceledException)
            {
                // A partial spawn is no spawn: the workers that did start are stopped, so none is left behind unseen.
                var started = await result.AbandonAsync().ConfigureAwait(false);
                throw new RrqException($"{e.Message}\nWorkers that did start were stopped: " +
                    $"{(started.Count == 0 ? "none" : string.Join(", ", started))}; not started: " +
                    $"{string.Join(", ", ids.Except(started, StringComparer.Ordinal))}.", e);
            }
        }
    }

    /// <summary>Workers as one Slurm job array: task i runs worker ids[i]. The connection string goes in sbatch's
    /// environment, which the job inherits (--export=ALL); nothing secret is on a command line or in the script.</summary>
    private static async Task<RrqWorkerSpawnResult> SpawnSlurmAsync(RrqController controller, RrqSlurmLauncher slurm, int n, string config,
        TimeSpan timeout, string? logDir, CancellationToken cancellationToken)
    {
        logDir = slurm.LogDirectory ?? logDir;
        if (logDir is null)
        {
            logDir = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".rrq-workers", Sanitize(controller.QueueId));
            WorkerLauncher.PrivateFolder(logDir);
        }
        else
        {
            Directory.CreateDirectory(logDir);
        }
        var prefix = await WorkerNames.UnusedBaseAsync(controller, n).ConfigureAwait(false);
        var ids = Enumerable.Range(1, n).Select(i => $"{prefix}_{i}").ToArray();
        var command = slurm.WorkerCommand ?? LocalCommand();
        var script = Path.Combine(logDir, prefix + ".sbatch");
        WorkerLauncher.PrivateFile(script);
        await File.WriteAllTextAsync(script, RrqSlurmLauncher.Script(controller.QueueId, ids, command, config, logDir), cancellationToken).ConfigureAwait(false);
        var logs = ids.ToDictionary(id => id, id => Path.Combine(logDir, id + ".log"), StringComparer.Ordinal);
        foreach (var (id, log) in logs)
        {
            WorkerLauncher.PrivateFile(log);
            await controller.Queue.WorkerProcessLogSetAsync(id, log, cancellationToken).ConfigureAwait(false);
        }
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["RRQ_REDIS"] = controller.Address.Configuration,
            ["REDIS_URL"] = "",
            [RrqSigningKeys.EnvironmentVariable] = controller.SigningKeys?.FileForWorkers() ?? "",
        };
        if (controller.Offload is { } offload)
        {
            env["RRQ_OFFLOAD"] = offload.Path;
            env["RRQ_OFFLOAD_THRESHOLD"] = offload.ThresholdBytes.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        var args = slurm.SbatchArguments(n, controller.QueueId, logDir, script);
        var (code, output, error) = RrqSlurmLauncher.Run("sbatch", args, env);
        if (code != 0)
        {
            throw new RrqException($"Slurm refused the job of {n} worker{(n > 1 ? "s" : "")} for queue '{controller.QueueId}' " +
                $"(sbatch exited {code}): {error.Trim()}\nNothing was started. The command was: sbatch {string.Join(' ', args)}");
        }
        var job = output.Trim().Split(';')[0];
        if (Console.IsErrorRedirected is false)
        {
            Console.Error.WriteLine($"ℹ Spawning {n} worker{(n > 1 ? "s" : "")} with prefix '{prefix}' as Slurm job {job}");
        }
        var handles = ids.Select((id, i) => (id, h: (WorkerHandle)new SlurmHandle($"{job}_{i + 1}")))
            .ToDictionary(p => p.id, p => p.h, StringComparer.Ordinal);
        var result = new RrqWorkerSpawnResult(controller, ids, handles, logs);
        await WaitAsync(result, ids, timeout, cancellationToken).ConfigureAwait(false);
        return result;
    }

    private static string[] LocalCommand()
    {
        var (file, prefix) = WorkerLauncher.Locate();
        return [file, .. prefix];
    }

    private static string Sanitize(string s) => string.Concat(s.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
}
