using Microsoft.Extensions.Logging;
using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

/// <summary>What a worker logs, through the controller's ILogger: events with structured fields.</summary>
public class WorkerLoggingTests
{
    [Fact]
    public async Task A_running_worker_logs_its_tasks_with_task_id_status_and_elapsed_as_fields_inside_a_worker_and_queue_scope()
    {
        await using var q = await TestQueue.CreateAsync();
        var log = new ListLogger();
        await using var obj = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address, logger: log);
        var ok = await obj.TaskCreateExprAsync("6 * 7");
        var bad = await obj.TaskCreateExprAsync("int.Parse(\"no\")");
        await using var w = await RrqWorker.CreateAsync(obj, new Rrq.Scripting.RoslynTaskEvaluator(), "logged");
        using var cts = new CancellationTokenSource();
        var running = w.RunAsync(cts.Token);
        Assert.False(await obj.TaskWaitAsync([ok, bad], TimeSpan.FromSeconds(60)));
        await cts.CancelAsync();
        await running;

        ListLogger.Entry[] entries;
        lock (log.Lines)
        {
            entries = [.. log.Entries];
        }
        var finished = entries.Where(e => e.Event.Name == "TaskFinished" || e.Event.Name == "TaskFinishedWith").ToList();
        Assert.Equal(2, finished.Count);
        var complete = finished.Single(e => (string?)e.Fields["TaskId"] == ok);
        Assert.Equal(LogLevel.Information, complete.Level);
        Assert.Equal(212, complete.Event.Id);
        Assert.Equal("COMPLETE", complete.Fields["Status"]);
        Assert.IsType<double>(complete.Fields["ElapsedMs"]);
        Assert.Equal("logged", complete.Scope["WorkerId"]);
        Assert.Equal(q.QueueId, complete.Scope["QueueId"]);
        Assert.StartsWith($"task {ok} COMPLETE in ", complete.Message);
        var error = finished.Single(e => (string?)e.Fields["TaskId"] == bad);
        Assert.Equal("ERROR", error.Fields["Status"]);
        Assert.Contains("'no'", (string?)error.Fields["Detail"]);
        Assert.Contains(entries, e => e.Event.Name == "TaskStarted" && (string?)e.Fields["TaskId"] == ok);
        Assert.Contains(entries, e => e.Event.Name == "Stopped" && (string?)e.Fields["Reason"] == "OK (INTERRUPTED)");
    }
}
