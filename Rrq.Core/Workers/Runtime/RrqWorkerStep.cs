namespace Rrq;

/// <summary>What one step of a worker did.</summary>
public enum RrqWorkerStepKind
{
    /// <summary>Nothing was waiting.</summary>
    Idle,
    /// <summary>A task ran.</summary>
    Task,
    /// <summary>A message was answered.</summary>
    Message,
    /// <summary>The worker has stopped (STOP message, idle timeout, or it was removed from the queue).</summary>
    Stopped,
}

/// <summary>The outcome of <see cref="RrqWorker.Step"/>.</summary>
/// <param name="Kind">What happened.</param>
/// <param name="TaskId">The task that ran, for <see cref="RrqWorkerStepKind.Task"/>.</param>
/// <param name="Status">The task's final status, for <see cref="RrqWorkerStepKind.Task"/>.</param>
/// <param name="Detail">The message command, or why the worker stopped.</param>
public sealed record RrqWorkerStep(RrqWorkerStepKind Kind, string? TaskId = null, RrqTaskStatus? Status = null, string? Detail = null);
