namespace Rrq;

/// <summary>
/// A queue at a glance, as <see cref="RrqController.Summary"/> reads it: its queues, workers, how many tasks are in each
/// status, the newest failures and how many tasks finished in each of the last minutes. Every part is read from the
/// queue's indexes (queue lists, finished sets, workers' held lists), so its cost grows with the number of queues and
/// workers, never with the number of tasks.
/// </summary>
/// <param name="QueueId">The controller's queue id.</param>
/// <param name="Time">When it was read (the Redis server's clock).</param>
/// <param name="Queues">Each named queue tasks have been submitted to, by name.</param>
/// <param name="Workers">Live workers first (by id), then those that exited or were lost.</param>
/// <param name="Counts">How many tasks are in each status.</param>
/// <param name="RecentFailures">The newest failed tasks, newest first.</param>
/// <param name="Throughput">Tasks finished per minute, oldest minute first; the last is the minute in progress.</param>
public sealed record RrqQueueSummary(string QueueId, DateTimeOffset Time, IReadOnlyList<RrqQueueLength> Queues,
    IReadOnlyList<RrqWorkerSummary> Workers, RrqStatusCounts Counts, IReadOnlyList<RrqTaskRow> RecentFailures,
    IReadOnlyList<RrqThroughputPoint> Throughput);

/// <summary>One named queue (the <c>queue:</c> argument of a submission).</summary>
/// <param name="Name">Its name ("default" unless another was given).</param>
/// <param name="Pending">Tasks waiting in it to be claimed.</param>
/// <param name="Delayed">Automatic retries waiting for their delay before they join it.</param>
/// <param name="IdleWorkers">Workers listening to it that found nothing to do at their last claim.</param>
public sealed record RrqQueueLength(string Name, long Pending, long Delayed, long IdleWorkers);

/// <summary>One worker as an operator sees it.</summary>
/// <param name="WorkerId">Its id.</param>
/// <param name="Status">IDLE, BUSY, PAUSED, EXITED or LOST.</param>
/// <param name="Tasks">The tasks it is running now, oldest first.</param>
/// <param name="Info">What it reported when it started (null when that is gone).</param>
/// <param name="LastHeartbeat">How long ago its heartbeat was last set (null: a worker with no heartbeat, or not live).</param>
/// <param name="LastLog">Its newest log line (null when it has none).</param>
public sealed record RrqWorkerSummary(string WorkerId, RrqWorkerStatus Status, IReadOnlyList<string> Tasks,
    RrqWorkerInfo? Info, TimeSpan? LastHeartbeat, RrqWorkerLogEntry? LastLog)
{
    /// <summary>How many of its slots are busy, as a fraction (0 to 1) of <see cref="RrqWorkerInfo.Concurrency"/>.</summary>
    public double Load => Tasks.Count / (double)Math.Max(1, Info?.Concurrency ?? 1);
}

/// <summary>How many tasks are in each status, from the queue's indexes. A retried task (MOVED) is counted as the newest
/// task of its chain, so MOVED has no count of its own.</summary>
/// <param name="Pending">Queued (including automatic retries waiting for their delay).</param>
/// <param name="Deferred">Waiting for dependencies.</param>
/// <param name="Running">Held by workers now.</param>
/// <param name="Complete">Finished with a value.</param>
/// <param name="Failed">Finished without one: ERROR, DIED, TIMEOUT, CANCELLED and IMPOSSIBLE together.</param>
/// <param name="FailedByStatus">The failures split by status; exact when <paramref name="FailedSplitExact"/>, otherwise
/// the split of the newest <see cref="RrqController.SummarySplitLimit"/> failures.</param>
/// <param name="FailedSplitExact">Whether <paramref name="FailedByStatus"/> covers every failure.</param>
public sealed record RrqStatusCounts(long Pending, long Deferred, long Running, long Complete, long Failed,
    IReadOnlyDictionary<RrqTaskStatus, long> FailedByStatus, bool FailedSplitExact)
{
    /// <summary>Every task counted (a retry chain counts once).</summary>
    public long Total => Pending + Deferred + Running + Complete + Failed;
}

/// <summary>Tasks that finished in one minute.</summary>
/// <param name="Minute">The start of the minute.</param>
/// <param name="Complete">How many ended COMPLETE.</param>
/// <param name="Failed">How many ended in a failure.</param>
public sealed record RrqThroughputPoint(DateTimeOffset Minute, long Complete, long Failed);

/// <summary>Which tasks <see cref="RrqController.TaskPage"/> lists.</summary>
public enum RrqTaskGroup
{
    /// <summary>Queued, next to run first, queue by queue (by name), then retries waiting for their delay.</summary>
    Pending,
    /// <summary>Waiting for dependencies (in no particular order).</summary>
    Deferred,
    /// <summary>Held by workers now, worker by worker.</summary>
    Running,
    /// <summary>Finished with a value, newest first.</summary>
    Complete,
    /// <summary>Finished without a value (ERROR, DIED, TIMEOUT, CANCELLED, IMPOSSIBLE), newest first.</summary>
    Failed,
}

/// <summary>One page of tasks.</summary>
/// <param name="Group">What was listed.</param>
/// <param name="Offset">The place of the first row in the whole list (0-based).</param>
/// <param name="Total">How many tasks the whole list has.</param>
/// <param name="Tasks">The rows.</param>
public sealed record RrqTaskPage(RrqTaskGroup Group, long Offset, long Total, IReadOnlyList<RrqTaskRow> Tasks);

/// <summary>One task in a list: what can be read without its payload or result.</summary>
/// <param name="Id">The task id.</param>
/// <param name="Status">Its status now (MISSING if it was deleted since it was listed).</param>
/// <param name="Queue">The queue it was submitted to.</param>
/// <param name="Worker">The worker that took it, once claimed.</param>
/// <param name="Submit">When it was queued.</param>
/// <param name="Start">When it was claimed.</param>
/// <param name="Complete">When it finished.</param>
public sealed record RrqTaskRow(string Id, RrqTaskStatus Status, string? Queue, string? Worker,
    DateTimeOffset? Submit, DateTimeOffset? Start, DateTimeOffset? Complete)
{
    /// <summary>The first line of its expression, shortened (filled in for <see cref="RrqQueueSummary.RecentFailures"/>).</summary>
    public string? Expression { get; init; }

    /// <summary>Its error's first line (filled in for <see cref="RrqQueueSummary.RecentFailures"/>).</summary>
    public string? Error { get; init; }
}
