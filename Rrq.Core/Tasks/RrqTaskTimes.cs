namespace Rrq;

/// <summary>When a task was submitted, started, finished and retried; null for what has not happened.</summary>
/// <param name="TaskId">The id as it was asked for.</param>
/// <param name="Submit">When it was queued.</param>
/// <param name="Start">When a worker claimed it.</param>
/// <param name="Complete">When it reached a terminal status.</param>
/// <param name="Moved">When it was retried.</param>
public sealed record RrqTaskTimes(string TaskId, DateTimeOffset? Submit, DateTimeOffset? Start,
    DateTimeOffset? Complete, DateTimeOffset? Moved);
