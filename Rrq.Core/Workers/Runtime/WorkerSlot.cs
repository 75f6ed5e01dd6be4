using Rrq.Scripts;

namespace Rrq.Workers;

/// <summary>
/// One of a worker's slots: a place for one task at a time (a worker has <see cref="RrqWorkerConfig.Concurrency"/> of
/// them). Each slot claims for itself, so each task has its own claim token, and a slot's next task can be taken in the
/// same script that records its last one.
/// </summary>
internal sealed class WorkerSlot(int index, string claimField)
{
    /// <summary>Its place among the worker's slots, from 0.</summary>
    public int Index { get; } = index;

    /// <summary>Its field in worker:claim, where the last message it took is kept (the worker id for slot 0).</summary>
    public string ClaimField { get; } = claimField;

    /// <summary>The step taken with its last task's outcome: a task to run next, or a message (null when it must look for
    /// work itself).</summary>
    public ClaimReply? Next;

    /// <summary>The token of the claim that took the task it runs, and of the claim made with that task's outcome.</summary>
    public string TaskToken = "", NextToken = "";

    /// <summary>The separate-process task it runs (null for none), and what a cancel of it completes.</summary>
    public volatile string? SeparateTask;

    public TaskCompletionSource CancelSignal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Whether it holds a task (counted in the worker's active slots).</summary>
    public bool Active;

    /// <summary>Whether its last claim found nothing to do.</summary>
    public bool LastClaimIdle;

    /// <summary>Whether the claim made with its last task's outcome found nothing to do: its next step waits to be woken
    /// rather than claiming again at once (which would only find nothing a second time).</summary>
    public bool FinishFoundNothing;

    /// <summary>Task code runs on thread-pool threads and may block (I/O, sleeps, locks). The pool adds threads only slowly
    /// past its minimum (about one a second), so without this the slots of a worker whose tasks block would start one by
    /// one, seconds apart; and the connection's replies need threads too.</summary>
    public static void ReserveThreads(int slots)
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        var needed = Environment.ProcessorCount + slots + 2;
        if (slots > 1 && workers < needed)
        {
            ThreadPool.SetMinThreads(needed, io);
        }
    }
}
