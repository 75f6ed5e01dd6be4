using System.Text;

namespace Rrq;

/// <summary>What <see cref="RrqController.WorkerDetectExited"/> found: the workers declared LOST and
/// the tasks they were running, now DIED. Prints like rrq's summary.</summary>
public sealed class RrqDetectExitedResult
{
    internal RrqDetectExitedResult(IReadOnlyList<string> lostWorkers, IReadOnlyDictionary<string, IReadOnlyList<string>> orphaned)
    {
        LostWorkers = lostWorkers;
        OrphanedTaskIds = orphaned;
        OrphanedTasks = orphaned.ToDictionary(p => p.Key, p => string.Join(' ', p.Value), StringComparer.Ordinal);
    }

    /// <summary>Workers whose heartbeat had expired, now LOST.</summary>
    public IReadOnlyList<string> LostWorkers { get; }

    /// <summary>Worker id → the task it was running, now DIED (idle lost workers are not listed). For a worker that ran
    /// several tasks at once (<see cref="RrqWorkerConfig.Concurrency"/>) it lists them all, separated by spaces; see
    /// <see cref="OrphanedTaskIds"/>.</summary>
    public IReadOnlyDictionary<string, string> OrphanedTasks { get; }

    /// <summary>Worker id → every task it was running, now DIED (or retried by their policy), oldest first.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> OrphanedTaskIds { get; }

    /// <summary>True when no worker was lost.</summary>
    public bool IsEmpty => LostWorkers.Count == 0;

    /// <summary>"Lost 1 worker: - id / Orphaning 1 task: - id", or "No lost workers".</summary>
    public override string ToString()
    {
        if (IsEmpty)
        {
            return "No lost workers";
        }
        var sb = new StringBuilder();
        sb.Append("Lost ").Append(LostWorkers.Count).Append(LostWorkers.Count == 1 ? " worker:" : " workers:").Append('\n');
        foreach (var w in LostWorkers)
        {
            sb.Append("  - ").Append(w).Append('\n');
        }
        var tasks = OrphanedTaskIds.Values.SelectMany(t => t).ToArray();
        if (tasks.Length > 0)
        {
            sb.Append("Orphaning ").Append(tasks.Length).Append(tasks.Length == 1 ? " task:" : " tasks:").Append('\n');
            foreach (var t in tasks)
            {
                sb.Append("  - ").Append(t).Append('\n');
            }
        }
        return sb.ToString().TrimEnd('\n');
    }
}
