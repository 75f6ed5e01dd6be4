namespace Rrq;

/// <summary>
/// How many workers were alive and how many tasks were running over time, read from worker logs
/// (rrq's <c>rrq_worker_load</c>). Each point is the state just after a log line changed it.
/// </summary>
public sealed class RrqWorkerLoad
{
    internal RrqWorkerLoad(IReadOnlyList<RrqWorkerLoadPoint> points, DateTimeOffset now)
    {
        Points = points;
        Now = now;
    }

    /// <summary>The changes, oldest first.</summary>
    public IReadOnlyList<RrqWorkerLoadPoint> Points { get; }

    /// <summary>When it was read (the Redis server's clock).</summary>
    public DateTimeOffset Now { get; }

    /// <summary>
    /// Time-averaged load over the last <paramref name="window"/> before <see cref="Now"/> (null: since
    /// the first log line): the mean number of live workers, of running tasks, and their ratio.
    /// </summary>
    public RrqLoadMean Mean(TimeSpan? window = null)
    {
        if (Points.Count == 0)
        {
            return new RrqLoadMean(window, 0, 0);
        }
        var from = window is { } w ? Now - w : Points[0].Time;
        if (from >= Now)
        {
            var last = Points.LastOrDefault(p => p.Time <= Now) ?? Points[0];
            return new RrqLoadMean(window, last.Workers, last.Tasks);
        }
        double workers = 0, tasks = 0;
        for (var i = 0; i < Points.Count; i++)
        {
            var start = Points[i].Time < from ? from : Points[i].Time;
            var end = i + 1 < Points.Count ? Points[i + 1].Time : Now;
            if (end > Now)
            {
                end = Now;
            }
            if (end <= start)
            {
                continue;
            }
            var span = (end - start).TotalSeconds;
            workers += Points[i].Workers * span;
            tasks += Points[i].Tasks * span;
        }
        var total = (Now - from).TotalSeconds;
        return new RrqLoadMean(window, workers / total, tasks / total);
    }

    /// <summary>The means over the last 1, 5 and 15 minutes and over all time, like a system's load averages.</summary>
    public IReadOnlyList<RrqLoadMean> Means() =>
        [Mean(TimeSpan.FromMinutes(1)), Mean(TimeSpan.FromMinutes(5)), Mean(TimeSpan.FromMinutes(15)), Mean()];
}

/// <summary>The load just after one change.</summary>
/// <param name="Time">When.</param>
/// <param name="Workers">Live workers.</param>
/// <param name="Tasks">Tasks running.</param>
public sealed record RrqWorkerLoadPoint(DateTimeOffset Time, int Workers, int Tasks);

/// <summary>A time-averaged load.</summary>
/// <param name="Window">The window averaged over; null for all time.</param>
/// <param name="Workers">Mean number of live workers.</param>
/// <param name="Tasks">Mean number of running tasks.</param>
public sealed record RrqLoadMean(TimeSpan? Window, double Workers, double Tasks)
{
    /// <summary>The share of worker time spent running tasks (0 when there were no workers).</summary>
    public double Utilisation => Workers > 0 ? Tasks / Workers : 0;
}
