namespace Rrq;

/// <summary>
/// Calls available to task code while a worker runs it (the namespace <c>Rrq</c> is imported in
/// every environment). Outside a running task they do nothing, so environment functions can also
/// be called at a REPL.
/// </summary>
public static class RrqTask
{
    private static readonly AsyncLocal<RrqTaskContext?> CurrentContext = new();

    /// <summary>The task being run on this flow of execution, or null outside a task.</summary>
    public static RrqTaskContext? Current => CurrentContext.Value;

    /// <summary>The id of the running task, or null outside a task.</summary>
    public static string? Id => CurrentContext.Value?.TaskId;

    /// <summary>Raises a warning: the task goes on, and the warning is kept with the task's error
    /// object if it later fails (rrq keeps R's <c>warning()</c> the same way).</summary>
    public static void Warning(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        CurrentContext.Value?.AddWarning(message);
    }

    /// <summary>
    /// Reports how far the running task has got (rrq's <c>rrq_task_progress_update</c>): any value a
    /// task could return, e.g. a fraction, a count or a message. The latest report is what
    /// <see cref="RrqController.TaskProgress"/> reads, from anywhere, while the task runs and after.
    /// Works in separate-process tasks too. Outside a task it does nothing, or throws when
    /// <paramref name="error"/> is true.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called outside a running task with <paramref name="error"/> true.</exception>
    /// <exception cref="RrqValueException">The value cannot be stored (the message names its type).</exception>
    public static void Progress(object? value, bool error = false)
    {
        var context = CurrentContext.Value;
        if (context is null)
        {
            if (error)
            {
                throw new InvalidOperationException("RrqTask.Progress was called outside a running task; only task code run by a worker can report progress.");
            }
            return;
        }
        context.ReportProgress(value);
    }

    /// <summary>Sets the current task for the calling flow (used by evaluators).</summary>
    public static IDisposable Enter(RrqTaskContext context)
    {
        var previous = CurrentContext.Value;
        CurrentContext.Value = context;
        return new Restore(previous);
    }

    private sealed class Restore(RrqTaskContext? previous) : IDisposable
    {
        public void Dispose() => CurrentContext.Value = previous;
    }
}
