using Rrq.Tests.Support;

namespace Rrq.Tests.Tasks;

/// <summary>Tasks submitted to run no sooner than a delay after submission.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class DelayTests
{
    [Fact]
    public async Task A_delayed_task_is_pending_outside_its_queue_until_due_then_an_idle_worker_wakes_for_it()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        // A worker that would only look again by itself after a minute: it must be woken, then wait for the due time.
        obj.WorkerConfigSave("patient", new RrqWorkerConfig { PollQueue = TimeSpan.FromMinutes(1) });
        var w = await q.WorkerAsync(config: "patient");
        using var cts = new CancellationTokenSource();
        var loop = w.RunAsync(cts.Token);
        await Poll.Until(async () => (await obj.WorkerLogTailAsync([w.Id], 0)).Any(l => l.Command == "QUEUE"));

        var t = obj.TaskCreateExpr("6 * 7", delay: TimeSpan.FromSeconds(1.5));
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(t));
        Assert.Equal(0, obj.TaskPosition(t));                                   // not in the queue yet
        Assert.Equal(0, obj.QueueLength());
        Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(20)));
        Assert.Equal(42, obj.TaskResult(t));
        var times = obj.TaskTimes(t);
        Assert.True((times.Start!.Value - times.Submit!.Value).TotalSeconds >= 1.49, $"started {times.Start - times.Submit} after submission");
        await cts.CancelAsync();
        await loop;
    }

    [Fact]
    public async Task Delayed_bulk_tasks_wait_together_run_in_submission_order_and_a_cancelled_one_never_runs()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        // More than one submission script's slice (500), so order across slices counts too; with the server's script cache
        // emptied first, as after a restart, so each slice is sent again as text (NOSCRIPT): slices sent together came back
        // in another order then.
        await RedisServer.Instance.Connection.GetDatabase().ExecuteAsync("SCRIPT", "FLUSH");
        var ids = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 1200).Select(i => new { i }), delay: TimeSpan.FromSeconds(1));
        var now = obj.TaskCreateExpr("-1");
        Assert.Equal([now], obj.QueueList());
        Assert.True(obj.TaskCancel(ids[1]));
        var w = await q.WorkerAsync();
        using var cts = new CancellationTokenSource();
        var loop = w.RunAsync(cts.Token);
        var run = ids.Where((_, i) => i != 1).ToArray();
        Assert.True(await obj.TaskWaitAsync(run, TimeSpan.FromSeconds(60), progress: false));
        Assert.Equal(Enumerable.Range(0, 1200).Where(i => i != 1), obj.TaskResults(run).Cast<int>());
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(ids[1]));
        var started = obj.WorkerLogTail(w.Id, 0).Where(l => l.Command == "TASK_START").Select(l => l.Message).ToArray();
        Assert.Equal([now, .. run], started);   // the later task went ahead, the rest in submission order; the cancelled one never ran
        await cts.CancelAsync();
        await loop;
    }

    [Fact]
    public async Task A_delay_that_is_not_positive_or_comes_with_dependencies_is_refused_and_nothing_is_submitted()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var first = obj.TaskCreateExpr("1");
        var zero = Assert.Throws<ArgumentOutOfRangeException>(() => obj.TaskCreateExpr("2", delay: TimeSpan.Zero));
        Assert.Equal("delay", zero.ParamName);
        Assert.Contains("must be positive", zero.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => obj.TaskCreateBulkExpr("x", [new { x = 1 }], delay: TimeSpan.FromSeconds(-1)));
        var both = Assert.Throws<ArgumentException>(() => obj.TaskCreateExpr("3", dependsOn: [first], delay: TimeSpan.FromSeconds(1)));
        Assert.Contains("depend on other tasks", both.Message);
        Assert.Equal([first], obj.TaskList());
    }
}
