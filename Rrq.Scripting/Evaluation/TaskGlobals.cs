using System.ComponentModel;

namespace Rrq.Scripting.Evaluation;

/// <summary>
/// The globals object of environments and task expressions: the worker puts a task's local values
/// here, and the compiled expression reads them into typed variables before evaluating.
/// Not for use by task code.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class TaskGlobals
{
    private readonly AsyncLocal<object?[]> _locals = new();

    /// <summary>The current task's local values, in the order of its names. Each flow of execution has its own, so a
    /// worker running several tasks at once (one environment, one globals object) hands each task its own values.</summary>
#pragma warning disable CA1819, CA1707 // read by generated code only; the odd name keeps it out of users' way
    public object?[] __rrq_locals
    {
        get => _locals.Value ?? [];
        set => _locals.Value = value;
    }
#pragma warning restore CA1819, CA1707
}
