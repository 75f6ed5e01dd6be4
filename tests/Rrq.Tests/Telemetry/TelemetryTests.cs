using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Rrq.Tests.Support;

namespace Rrq.Tests.Telemetry;

/// <summary>Rrq's ActivitySource and Meter, read with OpenTelemetry's in-memory exporter.</summary>
public class TelemetryTests
{
    private static readonly ActivitySource Test = new("Rrq.Tests.Telemetry");

    [Fact]
    public async Task A_task_carries_its_submitters_trace_into_the_worker_and_its_child_and_is_counted_by_outcome()
    {
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        using var tracing = Sdk.CreateTracerProviderBuilder().AddSource(Test.Name, RrqTelemetry.ActivitySourceName).AddInMemoryExporter(spans).Build();
        using var meters = Sdk.CreateMeterProviderBuilder().AddMeter(RrqTelemetry.MeterName).AddInMemoryExporter(metrics).Build();

        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        string inProcess, separate, failing, untraced;
        ActivityTraceId traceId;
        using (var root = Test.StartActivity("analysis"))
        {
            traceId = root!.TraceId;
            inProcess = await obj.TaskCreateExprAsync("System.Diagnostics.Activity.Current?.TraceId.ToString()");
            separate = await obj.TaskCreateExprAsync("System.Diagnostics.Activity.Current?.TraceId.ToString()", separateProcess: true);
            failing = await obj.TaskCreateExprAsync("int.Parse(\"x\")");
        }
        untraced = await obj.TaskCreateExprAsync("System.Diagnostics.Activity.Current?.TraceId.ToString()");
        var w = await q.WorkerAsync();
        using (var cts = new CancellationTokenSource())
        {
            var running = Task.Run(() => w.RunAsync(cts.Token));
            Assert.False(await obj.TaskWaitAsync([inProcess, separate, failing, untraced], TimeSpan.FromSeconds(90)));
            await cts.CancelAsync();
            await running;
        }

        // The task's own code ran inside the submitter's trace, in the worker and in its separate process.
        Assert.Equal(traceId.ToString(), await obj.TaskResultAsync(inProcess));
        Assert.Equal(traceId.ToString(), await obj.TaskResultAsync(separate));
        Assert.NotEqual(traceId.ToString(), await obj.TaskResultAsync(untraced));   // submitted outside the trace

        tracing.ForceFlush();
        Activity[] ours;
        lock (spans)
        {
            ours = [.. spans.Where(s => s.TraceId == traceId)];
        }
        Activity Span(string name, string taskId) => ours.Single(s => s.OperationName == name && Equals(s.GetTagItem("rrq.task_id"), taskId));
        var submit = Span("rrq.submit", inProcess);
        Assert.Equal(ActivityKind.Producer, submit.Kind);
        Assert.Equal(q.QueueId, submit.GetTagItem("rrq.queue_id"));
        foreach (var id in new[] { inProcess, separate, failing })
        {
            var submitted = Span("rrq.submit", id);
            var wait = Span("rrq.queue_wait", id);
            var run = Span("rrq.run", id);
            Assert.Equal(submitted.SpanId, wait.ParentSpanId);
            Assert.Equal(submitted.SpanId, run.ParentSpanId);
            Assert.Equal(ActivityKind.Consumer, run.Kind);
            Assert.Equal(w.Id, run.GetTagItem("rrq.worker_id"));
            Assert.True(wait.StartTimeUtc <= run.StartTimeUtc);
            Assert.Equal(run.SpanId, Span("rrq.finish", id).ParentSpanId);
        }
        Assert.Equal("COMPLETE", Span("rrq.run", inProcess).GetTagItem("rrq.status"));
        Assert.Equal(true, Span("rrq.run", separate).GetTagItem("rrq.separate_process"));
        var failed = Span("rrq.run", failing);
        Assert.Equal("ERROR", failed.GetTagItem("rrq.status"));
        Assert.Equal(ActivityStatusCode.Error, failed.Status);

        // Metrics: finished tasks by outcome with their durations, submissions, and the gauges for this queue.
        meters.ForceFlush();
        long Sum(string name, string status) => metrics.Where(m => m.Name == name).SelectMany(Points)
            .Where(p => Tag(p, "rrq.queue_id") == q.QueueId && Tag(p, "rrq.status") == status)
            .Sum(p => p.GetSumLong());
        Assert.Equal(3, Sum("rrq.tasks.finished", "COMPLETE"));
        Assert.Equal(1, Sum("rrq.tasks.finished", "ERROR"));
        var durations = metrics.Where(m => m.Name == "rrq.task.duration").SelectMany(Points).Where(p => Tag(p, "rrq.queue_id") == q.QueueId).ToList();
        Assert.Equal(4, durations.Sum(p => p.GetHistogramCount()));
        Assert.Equal(4, metrics.Where(m => m.Name == "rrq.tasks.submitted").SelectMany(Points).Where(p => Tag(p, "rrq.queue_id") == q.QueueId)
            .Sum(p => p.GetSumLong()));
        var length = metrics.Where(m => m.Name == "rrq.queue.length").SelectMany(Points)
            .Single(p => Tag(p, "rrq.queue_id") == q.QueueId && Tag(p, "rrq.queue") == "default");
        Assert.Equal(0, length.GetGaugeLastValueLong());
        Assert.Contains(metrics.Where(m => m.Name == "rrq.workers.alive").SelectMany(Points), p => Tag(p, "rrq.queue_id") == q.QueueId);
    }

    [Fact]
    public async Task A_spawned_worker_process_runs_a_task_and_its_child_inside_the_submitters_trace_with_no_exporter_of_its_own()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        await q.SpawnAsync(1);
        string inWorker, inChild;
        ActivityTraceId traceId;
        // No listener in this test: the trace context is the caller's own activity, carried as it is.
        using (var root = new Activity("analysis").SetIdFormat(ActivityIdFormat.W3C).Start())
        {
            traceId = root.TraceId;
            inWorker = await obj.TaskCreateExprAsync("System.Diagnostics.Activity.Current?.TraceId.ToString()");
            inChild = await obj.TaskCreateExprAsync("System.Diagnostics.Activity.Current?.TraceId.ToString()", separateProcess: true);
        }
        Assert.True(await obj.TaskWaitAsync([inWorker, inChild], TimeSpan.FromSeconds(90)));
        Assert.Equal(traceId.ToString(), await obj.TaskResultAsync(inWorker));
        Assert.Equal(traceId.ToString(), await obj.TaskResultAsync(inChild));
    }

    private static IEnumerable<MetricPoint> Points(Metric metric)
    {
        var points = new List<MetricPoint>();
        foreach (ref readonly var p in metric.GetMetricPoints())
        {
            points.Add(p);
        }
        return points;
    }

    private static string? Tag(MetricPoint point, string key)
    {
        foreach (var tag in point.Tags)
        {
            if (tag.Key == key)
            {
                return tag.Value?.ToString();
            }
        }
        return null;
    }
}
