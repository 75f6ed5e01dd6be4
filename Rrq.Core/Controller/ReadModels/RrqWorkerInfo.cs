namespace Rrq;

/// <summary>What a worker says about itself when it starts (rrq's <c>rrq_worker_info</c>).</summary>
/// <param name="WorkerId">The worker's id.</param>
/// <param name="Hostname">The machine it runs on.</param>
/// <param name="Pid">Its process id.</param>
/// <param name="Username">The user it runs as.</param>
/// <param name="Config">The name of the configuration it was started with.</param>
/// <param name="Queues">The queues it listens to, highest priority first.</param>
/// <param name="RrqVersion">The version of Rrq it runs.</param>
/// <param name="Runtime">The .NET runtime and operating system.</param>
/// <param name="Started">When it started.</param>
/// <param name="HeartbeatKey">The Redis key of its heartbeat, when it has one.</param>
[Display.TypeFormatterSource(typeof(Display.RrqFormatterSource))]
public sealed record RrqWorkerInfo(string WorkerId, string Hostname, int Pid, string Username,
    string Config, IReadOnlyList<string> Queues, string RrqVersion, string Runtime,
    DateTimeOffset Started, string? HeartbeatKey)
{
    /// <summary>When its operating-system process started (null when unknown). Killing a worker checks it,
    /// so that a pid the system has since given to another process is never killed.</summary>
    public DateTimeOffset? ProcessStarted { get; init; }

    /// <summary>How many tasks it runs at once (<see cref="RrqWorkerConfig.Concurrency"/>); 1 for a worker that
    /// recorded none.</summary>
    public int Concurrency { get; init; } = 1;

    /// <summary>The Slurm job it runs in, when a Slurm job started it: "&lt;array job id&gt;_&lt;array task id&gt;" for a task of a
    /// job array (how <see cref="RrqSlurmLauncher"/> starts workers), else the job id; null otherwise.
    /// <see cref="RrqController.WorkerStop"/> with Kill cancels it with <c>scancel</c>.</summary>
    public string? SlurmJob { get; init; }
}
