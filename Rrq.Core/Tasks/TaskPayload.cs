using MemoryPack;

namespace Rrq.Tasks;

/// <summary>What a task runs, as stored in <c>task:expr</c>: the expression and its locals, each
/// local encoded by <see cref="Store.RrqValueCodec"/>.</summary>
[MemoryPackable]
internal sealed partial class TaskPayload
{
    public string Expression { get; set; } = "";
    public string[] LocalNames { get; set; } = [];
    public byte[][] LocalValues { get; set; } = [];

    /// <summary>Locals shared by a whole bulk submission, stored once under this id in
    /// <c>{queue}:shared</c> (null when there are none).</summary>
    public string? SharedId { get; set; }

    /// <summary>The W3C trace context (traceparent) of the code that submitted the task; null when it had none.</summary>
    public string? TraceParent { get; set; }

    /// <summary>The W3C tracestate that goes with <see cref="TraceParent"/>.</summary>
    public string? TraceState { get; set; }

    /// <summary>When it was submitted (Unix milliseconds), for the queue-wait span; 0 when not traced.</summary>
    public long SubmittedAt { get; set; }
}

/// <summary>A failed task's error object as stored in <c>task:result</c>.</summary>
[MemoryPackable]
internal sealed partial class TaskErrorData
{
    public string Message { get; set; } = "";
    public string Status { get; set; } = "ERROR";
    public string? ExceptionType { get; set; }
    public string? From { get; set; }
    public string? Trace { get; set; }
    public string[] Warnings { get; set; } = [];
    public string QueueId { get; set; } = "";
    public string TaskId { get; set; } = "";
}
