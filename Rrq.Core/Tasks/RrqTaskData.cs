namespace Rrq;

/// <summary>What a task runs: its expression and its named values (rrq's <c>rrq_task_data</c>).</summary>
/// <param name="Expression">The C# expression.</param>
/// <param name="Locals">The named values, as the task sees them.</param>
public sealed record RrqTaskData(string Expression, IReadOnlyDictionary<string, object?> Locals);
