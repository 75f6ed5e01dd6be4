using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace Rrq;

/// <summary>
/// Rrq's traces and metrics, both named <c>Rrq</c>: <c>tracing.AddSource(RrqTelemetry.ActivitySourceName)</c> and
/// <c>metrics.AddMeter(RrqTelemetry.MeterName)</c> with OpenTelemetry. A task carries the W3C trace context of the
/// code that submitted it, so its spans (<c>rrq.submit</c>, <c>rrq.queue_wait</c>, <c>rrq.run</c>, <c>rrq.finish</c>)
/// join the submitter's trace, and the task's own code (in the worker, or in its separate process) runs with
/// <see cref="Activity.Current"/> inside that trace. Metrics: <c>rrq.tasks.submitted</c>, <c>rrq.tasks.finished</c>
/// (by <c>rrq.status</c>), <c>rrq.task.duration</c> (seconds), and the gauges <c>rrq.queue.length</c> and
/// <c>rrq.workers.alive</c>, read from Redis for each open controller when a collector asks.
/// </summary>
public static class RrqTelemetry
{
    /// <summary>The name of Rrq's <see cref="ActivitySource"/>.</summary>
    public const string ActivitySourceName = "Rrq";

    /// <summary>The name of Rrq's <see cref="System.Diagnostics.Metrics.Meter"/>.</summary>
    public const string MeterName = "Rrq";

    private static readonly string Version =
        typeof(RrqTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";

    internal static readonly ActivitySource Source = new(ActivitySourceName, Version);

    internal static readonly Meter Meter = new(MeterName, Version);

    internal static readonly Counter<long> Submitted = Meter.CreateCounter<long>("rrq.tasks.submitted", "{task}", "Tasks submitted");

    internal static readonly Counter<long> Finished = Meter.CreateCounter<long>("rrq.tasks.finished", "{task}",
        "Tasks a worker finished, by outcome (rrq.status: COMPLETE, ERROR, DIED, TIMEOUT, CANCELLED)");

    internal static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("rrq.task.duration", "s",
        "How long tasks ran in a worker, from being taken to being recorded, by outcome");

    /// <summary>Open controllers, whose queues the gauges report (one observation per queue and Redis).</summary>
    private static readonly ConcurrentDictionary<RrqController, byte> Open = new();

    static RrqTelemetry()
    {
        Meter.CreateObservableGauge("rrq.queue.length", ObserveQueueLengths, "{task}", "Tasks waiting in each queue");
        Meter.CreateObservableGauge("rrq.workers.alive", ObserveWorkers, "{worker}", "Live workers of each Rrq queue");
    }

    internal static void Track(RrqController controller) => Open[controller] = 0;

    internal static void Untrack(RrqController controller) => Open.TryRemove(controller, out _);

    private static IEnumerable<RrqController> Distinct() =>
        Open.Keys.DistinctBy(c => (c.Address.Configuration, c.QueueId));

    private static IEnumerable<Measurement<long>> ObserveQueueLengths()
    {
        var seen = new List<Measurement<long>>();
        foreach (var c in Distinct())
        {
            try
            {
                foreach (var (queue, length) in c.ObservedQueueLengths())
                {
                    seen.Add(new Measurement<long>(length, new("rrq.queue_id", c.QueueId), new("rrq.queue", queue)));
                }
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or ObjectDisposedException or RrqException)
            {
                // Unreachable now: no observation rather than a wrong one.
            }
        }
        return seen;
    }

    private static IEnumerable<Measurement<long>> ObserveWorkers()
    {
        var seen = new List<Measurement<long>>();
        foreach (var c in Distinct())
        {
            try
            {
                seen.Add(new Measurement<long>(c.WorkerAliveAsync().GetAwaiter().GetResult().Count, new KeyValuePair<string, object?>("rrq.queue_id", c.QueueId)));
            }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or ObjectDisposedException or RrqException)
            {
            }
        }
        return seen;
    }

    /// <summary>The trace context to carry in a task: the current activity's, if any.</summary>
    internal static (string? Parent, string? State) Current() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } a ? (a.Id, a.TraceStateString) : (null, null);

    internal static KeyValuePair<string, object?> Tag(string key, object? value) => new(key, value);
}
