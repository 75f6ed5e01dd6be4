namespace Rrq;

/// <summary>
/// Where a task is in its life. PENDING → RUNNING → COMPLETE or ERROR is the common path;
/// <see cref="Missing"/> is never stored: it is what an unknown task id reads as.
/// </summary>
[Display.TypeFormatterSource(typeof(Display.RrqFormatterSource))]
public enum RrqTaskStatus
{
    /// <summary>Queued, waiting for a worker.</summary>
    Pending,
    /// <summary>Waiting for the tasks it depends on.</summary>
    Deferred,
    /// <summary>A worker has claimed it and is running it.</summary>
    Running,
    /// <summary>Ran and returned a value.</summary>
    Complete,
    /// <summary>Ran and threw (or did not compile); its result is an <see cref="RrqTaskError"/>.</summary>
    Error,
    /// <summary>Cancelled before or while running.</summary>
    Cancelled,
    /// <summary>Its process or its worker died while it ran.</summary>
    Died,
    /// <summary>Ran longer than its timeout and was stopped.</summary>
    Timeout,
    /// <summary>A task it depends on failed, so it can never run.</summary>
    Impossible,
    /// <summary>Retried: a newer task of the same chain carries on.</summary>
    Moved,
    /// <summary>No task with this id exists in the queue.</summary>
    Missing,
}

/// <summary>Status groups and the one conversion between enum values and stored strings.</summary>
public static class RrqTaskStatusExtensions
{
    /// <summary>True when the task will not change again by itself (MOVED included).</summary>
    public static bool IsTerminal(this RrqTaskStatus status) => status is RrqTaskStatus.Complete or
        RrqTaskStatus.Error or RrqTaskStatus.Cancelled or RrqTaskStatus.Died or RrqTaskStatus.Timeout or
        RrqTaskStatus.Impossible or RrqTaskStatus.Moved;

    /// <summary>True for the terminal statuses that mean the task did not produce a value.</summary>
    public static bool IsFailure(this RrqTaskStatus status) => status is RrqTaskStatus.Error or
        RrqTaskStatus.Cancelled or RrqTaskStatus.Died or RrqTaskStatus.Timeout or RrqTaskStatus.Impossible;

    /// <summary>True while a task may still run or is running (PENDING, DEFERRED, RUNNING).</summary>
    public static bool IsUnfinished(this RrqTaskStatus status) =>
        status is RrqTaskStatus.Pending or RrqTaskStatus.Deferred or RrqTaskStatus.Running;

    /// <summary>The string stored in Redis, as rrq writes it ("PENDING", "COMPLETE", ...).</summary>
    public static string ToRedisString(this RrqTaskStatus status) => status switch
    {
        RrqTaskStatus.Pending => "PENDING",
        RrqTaskStatus.Deferred => "DEFERRED",
        RrqTaskStatus.Running => "RUNNING",
        RrqTaskStatus.Complete => "COMPLETE",
        RrqTaskStatus.Error => "ERROR",
        RrqTaskStatus.Cancelled => "CANCELLED",
        RrqTaskStatus.Died => "DIED",
        RrqTaskStatus.Timeout => "TIMEOUT",
        RrqTaskStatus.Impossible => "IMPOSSIBLE",
        RrqTaskStatus.Moved => "MOVED",
        RrqTaskStatus.Missing => "MISSING",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, "Unknown task status."),
    };

    /// <summary>Parses a stored status; null (no such field) is <see cref="RrqTaskStatus.Missing"/>.</summary>
    public static RrqTaskStatus ParseTaskStatus(string? value) => value switch
    {
        null => RrqTaskStatus.Missing,
        "PENDING" => RrqTaskStatus.Pending,
        "DEFERRED" => RrqTaskStatus.Deferred,
        "RUNNING" => RrqTaskStatus.Running,
        "COMPLETE" => RrqTaskStatus.Complete,
        "ERROR" => RrqTaskStatus.Error,
        "CANCELLED" => RrqTaskStatus.Cancelled,
        "DIED" => RrqTaskStatus.Died,
        "TIMEOUT" => RrqTaskStatus.Timeout,
        "IMPOSSIBLE" => RrqTaskStatus.Impossible,
        "MOVED" => RrqTaskStatus.Moved,
        "MISSING" => RrqTaskStatus.Missing,
        _ => throw new FormatException($"Unknown task status '{value}' stored in Redis."),
    };
}
