using System.Text;

namespace Rrq;

/// <summary>
/// The result of a task that did not produce a value. It is returned by
/// <see cref="RrqController.TaskResult(string, bool, bool?)"/>, not thrown, so that failures can be
/// inspected as data; pass <c>error: true</c> to have it thrown, or <c>throw</c> it yourself.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1710", Justification = "rrq's name for a failed task's result; the public name is fixed.")]
[Display.TypeFormatterSource(typeof(Display.RrqFormatterSource))]
public class RrqTaskError : Exception
{
    /// <summary>Creates an error object for a task.</summary>
    public RrqTaskError(string message, string queueId, string taskId, RrqTaskStatus status,
        string? exceptionType = null, string? from = null, string? trace = null,
        IReadOnlyList<string>? warnings = null)
        : base(message)
    {
        QueueId = queueId;
        TaskId = taskId;
        Status = status;
        ExceptionType = exceptionType;
        From = from;
        Trace = trace;
        Warnings = warnings ?? [];
    }

    /// <summary>The error object of a task that ended without running its code to an error
    /// (DIED, TIMEOUT, CANCELLED, IMPOSSIBLE): message "Task not successful: STATUS", followed by why in
    /// parentheses when that is known (a DIED task: its worker was lost or left, or its process exited); no trace.</summary>
    public static RrqTaskError NotSuccessful(string queueId, string taskId, RrqTaskStatus status, string? reason = null) =>
        new($"Task not successful: {status.ToRedisString()}{(string.IsNullOrEmpty(reason) ? "" : $" ({reason})")}", queueId, taskId, status);

    /// <summary>The queue the task belongs to.</summary>
    public string QueueId { get; }

    /// <summary>The id of the task that ran (for a retried task, the newer id).</summary>
    public string TaskId { get; }

    /// <summary>The status the task ended with; kept when the task later becomes MOVED.</summary>
    public RrqTaskStatus Status { get; }

    /// <summary>The full name of the exception the task threw, e.g. <c>System.ArgumentNullException</c>;
    /// <c>Rrq.CompilationError</c> when the expression did not compile; null when nothing was thrown.</summary>
    public string? ExceptionType { get; }

    /// <summary>Where it failed: the innermost frame of user code, e.g.
    /// <c>fit_model(double[], double[]) at fault.csx:3</c>, or the task expression itself.</summary>
    public string? From { get; }

    /// <summary>The stack trace with <c>.csx</c> file and line, worker-internal frames trimmed;
    /// null when there is none (DIED, TIMEOUT, CANCELLED, IMPOSSIBLE).</summary>
    public string? Trace { get; }

    /// <summary>Warnings raised by the task (<c>RrqTask.Warning</c>) and compiler warnings on its expression, in order.</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The error formatted as rrq prints it: from, error, queue, task, status and what else it holds.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine("<rrq_task_error>");
        if (From is not null)
        {
            sb.Append("  from:   ").AppendLine(From);
        }
        sb.Append("  error:  ").AppendLine(Message);
        if (ExceptionType is not null)
        {
            sb.Append("  type:   ").AppendLine(ExceptionType);
        }
        sb.Append("  queue:  ").AppendLine(QueueId);
        sb.Append("  task:   ").AppendLine(TaskId);
        sb.Append("  status: ").AppendLine(Status.ToRedisString());
        sb.AppendLine("  * To throw this error, use `throw error` or TaskResult(id, error: true)");
        if (Trace is not null)
        {
            sb.AppendLine("  * This error has a stack trace, use .Trace to see it");
        }
        if (Warnings.Count > 0)
        {
            sb.AppendLine("  * This error has warnings, use .Warnings to see them");
        }
        return sb.ToString().TrimEnd();
    }
}
