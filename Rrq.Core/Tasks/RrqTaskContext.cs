namespace Rrq;

/// <summary>The task being run, as task code sees it through <see cref="RrqTask"/>.</summary>
public sealed class RrqTaskContext
{
    private readonly List<string> _warnings = [];

    /// <summary>Creates the context of one task run.</summary>
    public RrqTaskContext(string queueId, string taskId, string workerId)
    {
        QueueId = queueId;
        TaskId = taskId;
        WorkerId = workerId;
    }

    /// <summary>The queue of the task.</summary>
    public string QueueId { get; }

    /// <summary>The id of the task.</summary>
    public string TaskId { get; }

    /// <summary>The id of the worker running it.</summary>
    public string WorkerId { get; }

    /// <summary>Warnings raised so far, in order.</summary>
    public IReadOnlyList<string> Warnings
    {
        get
        {
            lock (_warnings)
            {
                return [.. _warnings];
            }
        }
    }

    /// <summary>The W3C trace context the task's code runs in (passed on to a separate process); null when none.</summary>
    internal string? TraceParent { get; set; }

    /// <summary>Where progress reports go (the worker sets it; null drops them).</summary>
    internal Action<byte[]>? ProgressSink { get; set; }

    internal void ReportProgress(object? value)
    {
        // Encoded here, so a value that cannot be stored fails in the task code that reported it.
        var bytes = Store.RrqValueCodec.Serialize(value);
        ProgressSink?.Invoke(bytes);
    }

    internal void AddWarning(string message)
    {
        lock (_warnings)
        {
            _warnings.Add(message);
        }
    }
}
