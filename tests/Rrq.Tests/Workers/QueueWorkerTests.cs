using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

/// <summary>Multiple queues and bulk work with real rrq-worker processes.</summary>
public class QueueWorkerTests
{
    [Fact]
    public async Task A_short_worker_keeps_short_tasks_moving_while_the_long_worker_is_busy()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("short", new RrqWorkerConfig { Queues = ["short"], PollQueue = TimeSpan.FromSeconds(1) });
        obj.WorkerConfigSave("long", new RrqWorkerConfig { Queues = ["long", "short"], PollQueue = TimeSpan.FromSeconds(1) });
        var shortWorker = await q.SpawnAsync(1, "short");
        var longWorker = await q.SpawnAsync(1, "long");
        Assert.Equal(["short", "default"], obj.WorkerInfo()[shortWorker.Id].Queues);
        Assert.Equal(["long", "short", "default"], obj.WorkerInfo()[longWorker.Id].Queues);

        using var gate = new Gate();
        var slow = obj.TaskCreateExpr(Gate.Wait + " \"long\"", gate.Locals, queue: "long");
        await Poll.Until(async () => await obj.TaskStatusAsync(slow) == RrqTaskStatus.Running, 60);
        Assert.Equal(longWorker.Id, obj.TaskInfo(slow).Worker);
        var quick = obj.TaskCreateBulkExpr("i * 10", Enumerable.Range(0, 20).Select(i => new { i }), queue: "short");
        Assert.True(await obj.TaskWaitAsync(quick, TimeSpan.FromSeconds(60), progress: false));
        // Every short task finished while the long one was still running, on the short worker.
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(slow));
        Assert.All(quick, t => Assert.Equal(shortWorker.Id, obj.TaskInfo(t).Worker));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => i * 10), obj.TaskResults(quick).Cast<int>());
        gate.Open();
        Assert.True(obj.TaskWait(slow, TimeSpan.FromSeconds(60)));
        Assert.Equal("long", obj.TaskResult(slow));
    }

    [Fact]
    public async Task Thousands_of_bulk_tasks_with_a_dependency_chain_run_on_two_worker_processes()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("quiet", new RrqWorkerConfig { Verbose = false });
        var w = await q.SpawnAsync(2, "quiet");
        var start = obj.TaskCreateExpr("0");
        var middle = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 3000).Select(i => new { i }), dependsOn: [start]);
        var last = obj.TaskCreateExpr("\"all done\"", dependsOn: middle);
        Assert.True(await obj.TaskWaitAsync([.. middle, last], TimeSpan.FromMinutes(3), progress: false));
        Assert.Equal("all done", obj.TaskResult(last));
        Assert.Equal(Enumerable.Range(0, 3000), obj.TaskResults(middle).Cast<int>());
        var workers = middle.Select(t => obj.TaskInfo(t).Worker).Distinct().Order().ToArray();
        Assert.Equal(w.Ids.Order(), workers);   // both workers took a share
        Assert.Equal(3002, obj.TaskOverview()[RrqTaskStatus.Complete]);
    }
}
