using System.Diagnostics;

namespace Rrq.Workers;

/// <summary>
/// The spans of a task's run on a worker: its wait in the queue and its run, joined to the trace it was submitted in, when
/// something in the worker's process records Rrq's activity source; otherwise, for a traced task, an unrecorded activity
/// that only carries the trace to the task's code (and to a separate process).
/// </summary>
internal static class TaskTrace
{
    /// <summary>The task's run span (after its queue-wait span, when it was submitted inside a trace): recorded when
    /// someone listens to Rrq's activity source; otherwise, for a traced task, an unrecorded activity that only
    /// carries the trace to the task's code.</summary>
    public static Activity? Start(string queueId, string workerId, string taskId, Tasks.TaskPayload payload, bool separateProcess)
    {
        if (!RrqTelemetry.Source.HasListeners())
        {
            // Nobody records Rrq's spans in this process: no span, only the trace carried to the task's code.
            return payload.TraceParent is null ? null : CarryTrace(payload);
        }
        var parent = payload.TraceParent is { } tp && ActivityContext.TryParse(tp, payload.TraceState, out var ctx) ? ctx : default;
        KeyValuePair<string, object?>[] tags =
        [
            new("rrq.queue_id", queueId), new("rrq.task_id", taskId), new("rrq.worker_id", workerId), new("rrq.separate_process", separateProcess),
        ];
        if (parent != default && payload.SubmittedAt > 0)
        {
            using var wait = RrqTelemetry.Source.StartActivity("rrq.queue_wait", ActivityKind.Internal, parent, tags,
                startTime: DateTimeOffset.FromUnixTimeMilliseconds(payload.SubmittedAt));
        }
        var run = parent == default
            ? RrqTelemetry.Source.StartActivity("rrq.run", ActivityKind.Consumer, parentContext: default, tags)
            : RrqTelemetry.Source.StartActivity("rrq.run", ActivityKind.Consumer, parent, tags);
        return run ?? (payload.TraceParent is null ? null : CarryTrace(payload));
    }

    /// <summary>An unrecorded activity that only puts the task's code inside its submitter's trace.</summary>
    private static Activity CarryTrace(Tasks.TaskPayload payload)
    {
        var carrier = new Activity("rrq.run").SetParentId(payload.TraceParent!);
        carrier.TraceStateString = payload.TraceState;
        return carrier.Start();
    }
}
