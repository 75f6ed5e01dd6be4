using System.Text;

namespace Rrq;

/// <summary>
/// Thrown by <c>TaskResults(ids, error: true)</c> when some of the tasks failed: every failure,
/// grouped (rrq's <c>rrq_task_error_group</c>). It is an <see cref="RrqTaskError"/> (of the first
/// failed task), so code catching that catches this too.
/// </summary>
public sealed class RrqTaskErrorGroup : RrqTaskError
{
    internal RrqTaskErrorGroup(IReadOnlyList<RrqTaskError> errors, int total)
        : base(Summary(errors, total), errors[0].QueueId, errors[0].TaskId, errors[0].Status)
    {
        Errors = errors;
        Total = total;
    }

    /// <summary>The failed tasks' errors, in the order the ids were given.</summary>
    public IReadOnlyList<RrqTaskError> Errors { get; }

    /// <summary>How many results were asked for.</summary>
    public int Total { get; }

    private static string Summary(IReadOnlyList<RrqTaskError> errors, int total)
    {
        var sb = new StringBuilder($"{errors.Count}/{total} tasks failed:");
        var shown = errors.Count > 5 ? errors.Take(4) : errors;
        foreach (var e in shown)
        {
            sb.Append("\n    - ").Append(e.TaskId).Append(": ").Append(e.Message);
        }
        if (errors.Count > 5)
        {
            sb.Append("\n    - ...");
        }
        return sb.ToString();
    }

    /// <summary>The summary, then how to reach each error.</summary>
    public override string ToString() =>
        $"<rrq_task_error_group>\n  {Message.Replace("\n", "\n  ", StringComparison.Ordinal)}\n  * To inspect individual errors, see .Errors";
}
