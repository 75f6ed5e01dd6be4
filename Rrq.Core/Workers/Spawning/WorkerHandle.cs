using System.Diagnostics;

namespace Rrq.Workers;

/// <summary>What a spawn holds of one worker it started: a local process, or a task of a scheduler's job.</summary>
internal abstract class WorkerHandle
{
    /// <summary>True once the worker's process (or job) has ended.</summary>
    public abstract bool HasExited { get; }

    /// <summary>Its process id on this machine (null when it runs elsewhere, under a scheduler).</summary>
    public abstract int? Pid { get; }

    /// <summary>Its scheduler job, e.g. Slurm's "1234_2" (null for a local process).</summary>
    public virtual string? Job => null;

    /// <summary>Ends it at once (SIGKILL, or the scheduler's cancel).</summary>
    public abstract void Kill();

    /// <summary>Waits for it to end; false when it had not ended in time.</summary>
    public abstract bool WaitForExit(TimeSpan timeout);

    /// <summary>What is known about why it ended or has not started (the scheduler's state and reason), for messages.</summary>
    public virtual IEnumerable<string> Describe() => [];

    /// <summary>Calls <paramref name="exited"/> with the exit code once it ends; false when it cannot tell (then a crashed
    /// worker is not replaced by the spawn: lost-worker detection still finds its task).</summary>
    public virtual bool OnExit(Action<int?> exited) => false;
}

/// <summary>A worker started as a process on this machine.</summary>
internal sealed class ProcessHandle(Process process) : WorkerHandle
{
    public Process Process { get; } = process;

    public override bool HasExited => Process.HasExited;

    public override int? Pid => Process.Id;

    public override void Kill()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit(5000);
        }
    }

    public override bool WaitForExit(TimeSpan timeout) => Process.WaitForExit(timeout > TimeSpan.Zero ? timeout : TimeSpan.Zero);

    public override bool OnExit(Action<int?> exited)
    {
        Process.EnableRaisingEvents = true;
        Process.Exited += (_, _) =>
        {
            int? code;
            try
            {
                code = Process.ExitCode;
            }
            catch (InvalidOperationException)
            {
                code = null;
            }
            exited(code);
        };
        return true;
    }
}
