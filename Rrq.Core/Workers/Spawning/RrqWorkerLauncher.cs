namespace Rrq;

/// <summary>
/// How <see cref="RrqController.WorkerSpawn"/> starts workers: <see cref="Local"/> processes on this machine (the
/// default), or jobs of a cluster scheduler (<see cref="RrqSlurmLauncher"/>). Either way the workers are the same
/// <c>rrq-worker</c> program on the same queue: the controller sees, messages and stops them alike.
/// </summary>
public abstract class RrqWorkerLauncher
{
    private protected RrqWorkerLauncher()
    {
    }

    /// <summary>Worker processes on this machine, tied to this process (they stop when it exits).</summary>
    public static RrqWorkerLauncher Local { get; } = new RrqLocalLauncher();
}

/// <summary>Worker processes on this machine (what <see cref="RrqWorkerLauncher.Local"/> is).</summary>
public sealed class RrqLocalLauncher : RrqWorkerLauncher
{
    /// <inheritdoc />
    public override string ToString() => "local processes";
}
