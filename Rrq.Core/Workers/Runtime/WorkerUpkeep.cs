namespace Rrq.Workers;

/// <summary>
/// A worker's housekeeping between tasks: when it should stop to be replaced (its config's recycle limits), and what an
/// idle spell gives back (ready children beyond one, and the memory its heap no longer uses).
/// </summary>
internal sealed class WorkerUpkeep(RrqWorkerConfig config, IRrqTaskEvaluator evaluator, SeparateRunner separate, IdleClock idle)
{
    /// <summary>How long a worker finds nothing to do before it stops all but one of its ready children, and gives
    /// the memory its heap no longer uses back.</summary>
    private static readonly TimeSpan IdleChildrenAfter = TimeSpan.FromSeconds(2);

    /// <summary>How many tasks the worker had run when it last gave memory back (once per idle spell).</summary>
    private int _trimmedSince;

    /// <summary>How many times an idle spell has given memory back.</summary>
    public int HeapTrims { get; private set; }

    /// <summary>The recycle limit reached after <paramref name="tasksRun"/> tasks, if any (checked between tasks).</summary>
    public string? RecycleLimit(int tasksRun)
    {
        if (config.RecycleAfterTasks is { } tasks && tasksRun >= tasks)
        {
            return $"ran {tasksRun} tasks";
        }
        if (config.RecycleAfterCompiles is { } compiles && evaluator.CompiledCount >= compiles)
        {
            return $"compiled {evaluator.CompiledCount} expressions";
        }
        if (config.RecycleMemoryBytes is { } bytes && Environment.WorkingSet >= bytes)
        {
            return $"working set {Environment.WorkingSet / (1024 * 1024)} MiB";
        }
        return null;
    }

    /// <summary>After a slot's step: why the worker should take no more work, if it should: a recycle limit reached after a
    /// task (also returned as <c>Recycle</c>), or the idle timeout run out with no slot busy.</summary>
    public (string Reason, string? Recycle)? DueToLeave(RrqWorkerStep step, int tasksRun, int activeSlots)
    {
        if (step.Kind == RrqWorkerStepKind.Task && RecycleLimit(tasksRun) is { } limit)
        {
            return ($"OK (RECYCLE: {limit})", limit);
        }
        return step.Kind == RrqWorkerStepKind.Idle && idle.TimedOut && activeSlots == 0 ? ("OK (TIMEOUT)", null) : null;
    }

    /// <summary>A claim found nothing to do. Idle for a while (not just between two tasks), with no slot busy: one child
    /// stays ready for the next separate-process task, not more; and, once per idle spell, the memory a burst of tasks
    /// left in the heap goes back to the system (the collector's budget scales with the CPU cache, so a busy worker can
    /// hold tens of MiB it no longer uses).</summary>
    public void Idle(int activeSlots, int tasksRun)
    {
        if (activeSlots == 0 && idle.Idle >= IdleChildrenAfter)
        {
            separate.Trim(Math.Min(1, config.ReadyChildren));
            if (Interlocked.Exchange(ref _trimmedSince, tasksRun) != tasksRun)
            {
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                HeapTrims++;
            }
        }
    }
}
