using System.Diagnostics;
using System.Globalization;
using System.Text;
using Rrq.Workers;

namespace Rrq;

/// <summary>
/// Starts workers as one Slurm job array (<c>sbatch --array=1-N</c>), each array task one <c>rrq-worker</c> of the queue
/// with its own id: <c>obj.WorkerSpawn(4, launcher: new RrqSlurmLauncher { Partition = "short" })</c>. The connection
/// string travels in the job's environment (<c>RRQ_REDIS</c>, exported by sbatch), never on a command line. A worker that
/// stops to be recycled is started again inside its job. Logs go to <c>LogDirectory</c>, which the nodes must see (a
/// shared file system). The Slurm commands run on this machine: sbatch, squeue, scontrol and scancel must be on the PATH.
/// </summary>
public sealed class RrqSlurmLauncher : RrqWorkerLauncher
{
    /// <summary>The partition (<c>--partition</c>); null: the cluster's default.</summary>
    public string? Partition { get; init; }

    /// <summary>Each worker's time limit (<c>--time</c>); null: the partition's. A worker whose limit passes is ended
    /// by Slurm, and its running task DIED (its heartbeat stops).</summary>
    public TimeSpan? TimeLimit { get; init; }

    /// <summary>Memory per worker in Slurm's form, e.g. "4G" (<c>--mem</c>); null: the cluster's default.</summary>
    public string? Memory { get; init; }

    /// <summary>CPUs per worker (<c>--cpus-per-task</c>); null: one. A worker with slots (Concurrency) wants as many.</summary>
    public int? CpusPerWorker { get; init; }

    /// <summary>The job's name (<c>--job-name</c>); null: "rrq-" and the queue id.</summary>
    public string? JobName { get; init; }

    /// <summary>More <c>sbatch</c> arguments, e.g. <c>["--account=lab", "--qos=long"]</c>.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>How the nodes run the worker, e.g. <c>["rrq-worker"]</c> (the .NET tool on their PATH) or
    /// <c>["/shared/dotnet/dotnet", "/shared/app/rrq-worker/rrq-worker.dll"]</c>. Null: the rrq-worker this machine
    /// would spawn, with this machine's dotnet, which the nodes then must see at the same paths.</summary>
    public IReadOnlyList<string>? WorkerCommand { get; init; }

    /// <summary>Where workers write their logs and the job its script; the nodes must see it. Null: the logDir given to
    /// WorkerSpawn, else <c>~/.rrq-workers/&lt;queue&gt;</c> (a home directory is shared on most clusters; /tmp is not).</summary>
    public string? LogDirectory { get; init; }

    /// <summary>How often a spawn's view of its jobs' states is refreshed at most (squeue is asked no more often).</summary>
    internal static TimeSpan StatePeriod { get; } = TimeSpan.FromMilliseconds(500);

    /// <inheritdoc />
    public override string ToString() => $"Slurm{(Partition is null ? "" : $" partition {Partition}")}";

    /// <summary>The Slurm job this process runs in ("job_task" for an array task), from the variables Slurm sets; null
    /// when it is not in one.</summary>
    internal static string? JobOfThisProcess()
    {
        var array = Environment.GetEnvironmentVariable("SLURM_ARRAY_JOB_ID");
        var task = Environment.GetEnvironmentVariable("SLURM_ARRAY_TASK_ID");
        return array is { Length: > 0 } && task is { Length: > 0 } ? $"{array}_{task}"
            : Environment.GetEnvironmentVariable("SLURM_JOB_ID") is { Length: > 0 } job ? job : null;
    }

    /// <summary>The sbatch arguments for <paramref name="n"/> workers, the script last.</summary>
    internal IReadOnlyList<string> SbatchArguments(int n, string queueId, string logDir, string script)
    {
        var args = new List<string>
        {
            "--parsable", $"--array=1-{n}", $"--job-name={JobName ?? "rrq-" + queueId}",
            $"--output={Path.Combine(logDir, "slurm-%A_%a.out")}", "--export=ALL",
        };
        if (Partition is not null)
        {
            args.Add($"--partition={Partition}");
        }
        if (TimeLimit is { } t)
        {
            // Slurm's minutes, rounded up: a limit is never shorter than asked.
            args.Add($"--time={(long)Math.Ceiling(t.TotalMinutes)}");
        }
        if (Memory is not null)
        {
            args.Add($"--mem={Memory}");
        }
        if (CpusPerWorker is { } c)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(c, 1, nameof(CpusPerWorker));
            args.Add($"--cpus-per-task={c}");
        }
        args.AddRange(ExtraArguments);
        args.Add(script);
        return args;
    }

    /// <summary>The job's script: array task i runs worker ids[i], and starts it again when it stops to be recycled.</summary>
    internal static string Script(string queueId, IReadOnlyList<string> ids, IReadOnlyList<string> command, string config, string logDir)
    {
        var sb = new StringBuilder();
        sb.Append("#!/bin/bash\n# Rrq workers of queue ").Append(queueId).Append(", one per task of this job array (written by WorkerSpawn).\n");
        sb.Append("ids=(none ").AppendJoin(' ', ids.Select(Quote)).Append(")\n");
        sb.Append("id=${ids[$SLURM_ARRAY_TASK_ID]}\n");
        sb.Append("log=").Append(Quote(logDir)).Append("/\"$id.log\"\n");
        // Slurm's SIGTERM (scancel, the time limit) reaches the worker itself, which finishes its task and exits 0. The shell
        // outlives it (a trap that does nothing; the worker still gets the default handling) and waits for the worker, so
        // the worker stays a child of the job's shell and Slurm's SIGKILL at the end of KillWait still finds it (with
        // proctrack/linuxproc, a worker whose shell had died would be out of Slurm's reach).
        sb.Append("trap ':' TERM\n");
        sb.Append("while true; do\n  ").AppendJoin(' ', command.Select(Quote)).Append(' ').Append(Quote(queueId))
          .Append(" --config ").Append(Quote(config)).Append(" --name \"$id\" >> \"$log\" 2>&1 &\n");
        sb.Append("  pid=$!\n  wait \"$pid\"\n  code=$?\n");
        sb.Append("  # wait returns early when the shell is signalled: wait again until the worker has really exited.\n");
        sb.Append("  while kill -0 \"$pid\" 2>/dev/null; do wait \"$pid\"; code=$?; done\n");
        sb.Append("  # ").Append(RrqWorker.RecycleExitCode).Append(": the worker stopped to be recycled; start it again in this job.\n");
        sb.Append("  [ \"$code\" -eq ").Append(RrqWorker.RecycleExitCode).Append(" ] || exit \"$code\"\ndone\n");
        return sb.ToString();
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Runs a Slurm command to its end: (exit code, standard output, standard error).</summary>
    internal static (int Code, string Out, string Err) Run(string command, IEnumerable<string> args, IReadOnlyDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        WorkerLauncher.SetEnvironment(psi, env ?? new Dictionary<string, string>());
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new RrqException($"Could not start {command}.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new RrqException($"Could not run Slurm's {command} ({e.Message}): run WorkerSpawn with RrqSlurmLauncher on a machine " +
                "that can submit Slurm jobs (a login node), with Slurm's commands on the PATH.", e);
        }
        using (p)
        {
            var err = p.StandardError.ReadToEndAsync();
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output, err.GetAwaiter().GetResult());
        }
    }

    /// <summary>Cancels a job or array task: SIGKILL to every process of it first (as a crash would end them), then the
    /// job itself (a pending one never starts).</summary>
    internal static void Cancel(string job)
    {
        Run("scancel", ["--full", "--signal=KILL", job]);
        Run("scancel", [job]);
    }

    /// <summary>A job's state now: (state, reason, exit code); state null when Slurm no longer knows it.</summary>
    internal static (string? State, string? Reason, string? ExitCode) State(string job)
    {
        var (code, output, _) = Run("squeue", ["-h", "-j", job, "-o", "%T|%r"]);
        var line = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault();
        if (code == 0 && line is not null)
        {
            var parts = line.Split('|');
            return (parts[0], parts.Length > 1 && parts[1] != "None" ? parts[1] : null, null);
        }
        // Gone from the queue: scontrol remembers a finished job for MinJobAge (5 minutes by default). An array task that
        // never started (cancelled while pending) has no record of its own: the array's record stands for it.
        var (sc, show, _) = Run("scontrol", ["show", "job", "-o", job]);
        var record = sc == 0 ? show.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() : null;
        if (record is null && job.Split('_') is [var array, var task] && int.TryParse(task, NumberStyles.None, CultureInfo.InvariantCulture, out var index))
        {
            var (ac, all, _) = Run("scontrol", ["show", "job", "-o", array]);
            record = ac != 0 ? null : all.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .FirstOrDefault(line => Field(line, "ArrayTaskId") is { } ids && Covers(ids, index));
        }
        if (record is null)
        {
            return (null, null, null);
        }
        var reason = Field(record, "Reason");
        return (Field(record, "JobState"), reason is null or "None" ? null : reason, Field(record, "ExitCode"));
    }

    private static string? Field(string record, string name) => record.Split(' ', StringSplitOptions.RemoveEmptyEntries)
        .FirstOrDefault(f => f.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..];

    /// <summary>Whether an ArrayTaskId field ("3", "1-4", "1,3-5%2", or 4294967294 for a whole array not yet split) covers
    /// task <paramref name="index"/>.</summary>
    internal static bool Covers(string ids, int index)
    {
        if (ids == "4294967294")
        {
            return true;
        }
        foreach (var part in ids.Split('%')[0].Split(','))
        {
            var range = part.Split('-');
            if (range.Length == 1 && int.TryParse(range[0], CultureInfo.InvariantCulture, out var one) && one == index)
            {
                return true;
            }
            if (range.Length == 2 && int.TryParse(range[0], CultureInfo.InvariantCulture, out var from)
                && int.TryParse(range[1], CultureInfo.InvariantCulture, out var to) && from <= index && index <= to)
            {
                return true;
            }
        }
        return false;
    }
}

/// <summary>A worker that is one task of a Slurm job array.</summary>
internal sealed class SlurmHandle(string job, TimeProvider? time = null) : WorkerHandle
{
    // COMPLETING: its processes have ended and Slurm is cleaning up after them; the worker is gone.
    private static readonly string[] Ended = ["COMPLETED", "COMPLETING", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
        "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED", "SPECIAL_EXIT"];

    private readonly Lock _lock = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private (DateTimeOffset At, string? State, string? Reason, string? ExitCode) _last = (DateTimeOffset.MinValue, null, null, null);

    public override string Job { get; } = job;

    public override int? Pid => null;

    public override bool HasExited
    {
        get
        {
            var (state, _, _) = Current();
            return state is null || Ended.Any(e => state.StartsWith(e, StringComparison.Ordinal));
        }
    }

    private (string? State, string? Reason, string? ExitCode) Current()
    {
        lock (_lock)
        {
            if (_time.GetUtcNow() - _last.At > RrqSlurmLauncher.StatePeriod)
            {
                var (s, r, e) = RrqSlurmLauncher.State(Job);
                _last = (_time.GetUtcNow(), s, r, e);
            }
            return (_last.State, _last.Reason, _last.ExitCode);
        }
    }

    /// <summary>Cancels the job and waits (up to 10 s, as a local kill does) until Slurm has it ended.</summary>
    public override void Kill()
    {
        RrqSlurmLauncher.Cancel(Job);
        lock (_lock)
        {
            _last = (DateTimeOffset.MinValue, null, null, null);
        }
        WaitForExit(TimeSpan.FromSeconds(10));
    }

    public override bool WaitForExit(TimeSpan timeout)
    {
        var deadline = _time.GetUtcNow() + timeout;
        while (!HasExited)
        {
            if (_time.GetUtcNow() >= deadline)
            {
                return false;
            }
            Thread.Sleep(RrqSlurmLauncher.StatePeriod);
        }
        return true;
    }

    public override IEnumerable<string> Describe()
    {
        lock (_lock)
        {
            _last = (DateTimeOffset.MinValue, null, null, null);
        }
        var (state, reason, exit) = Current();
        return [state is null
            ? $"Slurm job {Job}: no longer known to Slurm"
            : $"Slurm job {Job}: {state}{(reason is null ? "" : $" (reason: {reason})")}{(exit is null ? "" : $", exit code {exit}")}"];
    }
}
