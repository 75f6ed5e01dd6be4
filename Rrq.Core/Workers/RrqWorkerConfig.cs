using Rrq.Keys;

namespace Rrq;

/// <summary>
/// How a worker runs, saved by name in Redis with <see cref="RrqController.WorkerConfigSave"/> and
/// picked by <c>rrq-worker --config NAME</c> or <see cref="RrqController.WorkerSpawn"/>. The config
/// named "localhost" exists in every queue and holds these defaults.
/// </summary>
public sealed record RrqWorkerConfig
{
    /// <summary>Queues to take tasks from, highest priority first. "default" is added at the end
    /// unless listed (then its place sets its priority). Default: ["default"].</summary>
    public IReadOnlyList<string> Queues { get; init; } = [RrqKeys.DefaultQueue];

    /// <summary>Period of the worker's heartbeat; default 5 seconds, null for none. Its key expires after
    /// three periods, after which the worker is declared lost (by another worker's sweep, or
    /// <see cref="RrqController.WorkerDetectExited"/>) and its task DIED: with the default, within
    /// 15–20 seconds of the worker's process dying. See docs/fault-tolerance.md for choosing one.</summary>
    public TimeSpan? HeartbeatPeriod { get; init; } = DefaultHeartbeatPeriod;

    /// <summary>The heartbeat period of a config that does not set one: 5 seconds.</summary>
    public static readonly TimeSpan DefaultHeartbeatPeriod = TimeSpan.FromSeconds(5);

    /// <summary>With a heartbeat, also look for lost workers (expired heartbeats) and declare them LOST
    /// and their tasks DIED, so nobody has to call WorkerDetectExited. Default: true. The workers
    /// that share a heartbeat period take turns: one sweep per period in all, by whichever beats first.</summary>
    public bool DetectLostWorkers { get; init; } = true;

    /// <summary>Exit after being idle this long; null (the default) never.</summary>
    public TimeSpan? TimeoutIdle { get; init; }

    /// <summary>Longest wait for work before the worker looks again by itself. Workers are woken
    /// as soon as a task is queued; this only bounds how long a lost wake-up can delay them.
    /// Default: 5 seconds.</summary>
    public TimeSpan PollQueue { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Replace the worker process after it has run this many tasks; null (the default) never.
    /// See <see cref="RrqWorker.Recycled"/>.</summary>
    public int? RecycleAfterTasks { get; init; }

    /// <summary>Replace the worker process after it has compiled this many distinct task expressions
    /// (compiled code is never unloaded, so a worker fed ever-new expressions grows); null never.</summary>
    public int? RecycleAfterCompiles { get; init; }

    /// <summary>Replace the worker process when its working set passes this many bytes after a task;
    /// null never.</summary>
    public long? RecycleMemoryBytes { get; init; }

    /// <summary>How many child processes the worker keeps started ahead of separate-process tasks, at most:
    /// each task still runs in a fresh process, but one that has started and loaded the environment before
    /// the task comes. Once the worker has run a separate-process task it keeps one ready; while more of them
    /// wait in its queues it keeps up to this many; idle, it keeps one. 0 starts each task's process only when
    /// the task comes (slower, but no idle processes). Default: 2.</summary>
    public int ReadyChildren { get; init; } = 2;

    /// <summary>How many tasks the worker runs at once, each in a slot of its own with its own claim (default 1, as rrq).
    /// The slots share the worker's process, its compiled environment and its cache of compiled expressions, so eight
    /// slots cost far less memory than eight workers; a task that blocks (I/O, waiting) leaves the others running.
    /// In-process tasks then run side by side in one process: environment code they share must be safe to call from
    /// several threads. Separate-process tasks each get their own child, as always. From 1 to 64. See docs/rrq.md,
    /// "Processes, slots or separate processes".</summary>
    public int Concurrency { get; init; } = 1;

    /// <summary>Print what the worker does to its standard output. Default: true.</summary>
    public bool Verbose { get; init; } = true;

    /// <summary>The largest <see cref="Concurrency"/>: 64.</summary>
    public const int MaxConcurrency = 64;

    /// <summary>The queues in the order the worker polls them, "default" included.</summary>
    public IReadOnlyList<string> EffectiveQueues =>
        Queues.Contains(RrqKeys.DefaultQueue, StringComparer.Ordinal) ? Queues : [.. Queues, RrqKeys.DefaultQueue];

    /// <summary>Checks every field; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (Queues is null || Queues.Count == 0)
        {
            throw new ArgumentException("RrqWorkerConfig.Queues must list at least one queue (\"default\" is added for you).", nameof(Queues));
        }
        foreach (var q in Queues)
        {
            QueueIdValidation.CheckName(q, "queue name", nameof(Queues));
        }
        if (Queues.Distinct(StringComparer.Ordinal).Count() != Queues.Count)
        {
            throw new ArgumentException($"RrqWorkerConfig.Queues lists a queue twice: {string.Join(", ", Queues)}.", nameof(Queues));
        }
        if (HeartbeatPeriod is { } hb && hb <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(HeartbeatPeriod), hb, "HeartbeatPeriod must be positive (or null for no heartbeat).");
        }
        if (TimeoutIdle is { } ti && ti < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(TimeoutIdle), ti, "TimeoutIdle must be zero or more (or null to never exit when idle).");
        }
        if (PollQueue <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(PollQueue), PollQueue, "PollQueue must be positive.");
        }
        if (RecycleAfterTasks is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(RecycleAfterTasks), RecycleAfterTasks, "RecycleAfterTasks must be at least 1 (or null for never).");
        }
        if (RecycleAfterCompiles is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(RecycleAfterCompiles), RecycleAfterCompiles, "RecycleAfterCompiles must be at least 1 (or null for never).");
        }
        if (ReadyChildren is < 0 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(ReadyChildren), ReadyChildren, "ReadyChildren must be from 0 to 64.");
        }
        if (Concurrency is < 1 or > MaxConcurrency)
        {
            throw new ArgumentOutOfRangeException(nameof(Concurrency), Concurrency,
                $"Concurrency must be from 1 to {MaxConcurrency}: the number of tasks a worker runs at once. For more, start more workers.");
        }
        if (RecycleMemoryBytes is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(RecycleMemoryBytes), RecycleMemoryBytes, "RecycleMemoryBytes must be positive (or null for never).");
        }
    }
}
