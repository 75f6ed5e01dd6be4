using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

/// <summary>Workers replaced after a number of tasks, compiles or bytes of memory, losing nothing.</summary>
public class RecycleTests
{
    [Fact]
    public async Task A_spawned_worker_is_replaced_every_two_tasks_under_the_same_id_and_every_task_completes()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("two", new RrqWorkerConfig { RecycleAfterTasks = 2 });
        var w = await q.SpawnAsync(1, "two");
        var first = w.Pids[w.Id];
        var tasks = Enumerable.Range(0, 5).Select(_ => obj.TaskCreateExpr("Environment.ProcessId")).ToArray();
        Assert.True(await obj.TaskWaitAsync(tasks, TimeSpan.FromSeconds(120)));
        var pids = obj.TaskResults(tasks).Cast<int>().ToArray();
        Assert.Equal(first, pids[0]);
        Assert.Equal([pids[0], pids[0], pids[2], pids[2], pids[4]], pids);   // two tasks per process
        Assert.Equal(3, pids.Distinct().Count());
        Assert.Equal(2, w.Recycles);
        Assert.Equal(pids[4], w.Pids[w.Id]);
        Assert.Equal([w.Id], obj.WorkerList());
        var log = obj.WorkerLogTail(w.Id, 0);
        Assert.Equal(2, log.Count(l => l is { Command: "STOP", Message: "OK (RECYCLE: ran 2 tasks)" }));
        Assert.Equal(3, log.Count(l => l.Command == "ALIVE"));
    }

    [Fact]
    public async Task An_in_process_worker_stops_after_its_compile_limit_between_tasks_and_leaves_the_rest_queued()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("compiles", new RrqWorkerConfig { RecycleAfterCompiles = 2 });
        var t = new[] { obj.TaskCreateExpr("1"), obj.TaskCreateExpr("1"), obj.TaskCreateExpr("2"), obj.TaskCreateExpr("3") };
        var w = await q.WorkerAsync(config: "compiles");
        await w.RunAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("compiled 2 expressions", w.Recycled);
        Assert.Equal([RrqTaskStatus.Complete, RrqTaskStatus.Complete, RrqTaskStatus.Complete, RrqTaskStatus.Pending], obj.TaskStatus(t));
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(w.Id));
        Assert.Equal(1, obj.QueueLength());
    }

    [Fact]
    public async Task The_rrq_worker_program_exits_with_the_recycle_code_for_its_supervisor()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("memory", new RrqWorkerConfig { RecycleMemoryBytes = 1 });   // any process passes 1 byte
        var t = obj.TaskCreateExpr("6 * 7");
        using var p = WorkerProcess.Start(q.QueueId, "--config", "memory");
        var output = p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(RrqWorker.RecycleExitCode, p.ExitCode);
        Assert.Equal(42, obj.TaskResult(t));
        Assert.Contains("stopped: OK (RECYCLE: working set", await output);
    }

    [Fact]
    public async Task Recycle_limits_below_one_are_refused_naming_the_field()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        Assert.Equal("RecycleAfterTasks", Assert.ThrowsAny<ArgumentException>(() =>
            obj.WorkerConfigSave("bad", new RrqWorkerConfig { RecycleAfterTasks = 0 })).ParamName);
        Assert.Equal("RecycleAfterCompiles", Assert.ThrowsAny<ArgumentException>(() =>
            obj.WorkerConfigSave("bad", new RrqWorkerConfig { RecycleAfterCompiles = -1 })).ParamName);
        Assert.Equal("RecycleMemoryBytes", Assert.ThrowsAny<ArgumentException>(() =>
            obj.WorkerConfigSave("bad", new RrqWorkerConfig { RecycleMemoryBytes = 0 })).ParamName);
    }
}
