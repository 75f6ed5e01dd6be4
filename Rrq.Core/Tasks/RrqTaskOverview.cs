using System.Collections.ObjectModel;
using System.Globalization;

namespace Rrq;

/// <summary>What <see cref="RrqController.TaskOverview"/> returns: how many tasks are in each status. It
/// prints as one line, <c>PENDING 3, RUNNING 1, COMPLETE 10, ...</c>.</summary>
public sealed class RrqTaskOverview : ReadOnlyDictionary<RrqTaskStatus, long>
{
    internal RrqTaskOverview(IDictionary<RrqTaskStatus, long> counts)
        : base(counts)
    {
    }

    /// <summary>Every status and its count, in the order of the statuses.</summary>
    public override string ToString() =>
        string.Join(", ", this.OrderBy(p => p.Key).Select(p => $"{p.Key.ToRedisString()} {p.Value.ToString(CultureInfo.InvariantCulture)}"));
}
