using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Faults;

[Trait(RedisServer.OnGarnet, "yes")]
public class HeartbeatTests
{
    private static readonly RrqWorkerConfig OneSecond = new() { HeartbeatPeriod = TimeSpan.FromSeconds(1), PollQueue = TimeSpan.FromSeconds(1) };

    [Fact]
    public async Task A_heartbeat_key_expires_after_three_periods_is_refreshed_and_goes_on_a_clean_exit()
    {
        await using var q = await TestQueue.CreateAsync();
        q.Controller.WorkerConfigSave("hb", OneSecond);
        var w = await q.WorkerAsync("beating", "hb");
        var key = $"{{{q.QueueId}}}:worker:beating:heartbeat";
        Assert.Equal(key, q.Controller.WorkerInfo()["beating"].HeartbeatKey);
        var db = RedisServer.Instance.Connection.GetDatabase();
        var ttl = (await db.KeyTimeToLiveAsync(key))!.Value;
        Assert.InRange(ttl.TotalMilliseconds, 2000 - 100, 3000);
        await Task.Delay(2500);   // past the first expiry window (Redis's own key expiry): only refreshing keeps it
        ttl = (await db.KeyTimeToLiveAsync(key))!.Value;
        Assert.InRange(ttl.TotalMilliseconds, 1000, 3000);
        await w.StopAsync();
        Assert.False(await db.KeyExistsAsync(key));
        Assert.Equal(RrqWorkerStatus.Exited, q.Controller.WorkerStatus("beating"));
        Assert.True(q.Controller.WorkerDetectExited().IsEmpty);
    }

    [Fact]
    public async Task Detecting_on_a_queue_with_no_workers_finds_nothing()
    {
        await using var q = await TestQueue.CreateAsync();
        var found = q.Controller.WorkerDetectExited();
        Assert.True(found.IsEmpty);
        Assert.Empty(found.LostWorkers);
        Assert.Empty(found.OrphanedTasks);
        Assert.Equal("No lost workers", found.ToString());
    }

    [Fact]
    public async Task A_sigkilled_worker_is_lost_its_task_died_and_dependents_impossible_once_its_heartbeat_expires()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("hb", OneSecond);
        var w = await q.SpawnAsync(1, "hb");
        var t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(3_600_000)");
        var dependent = obj.TaskCreateExpr("1", dependsOn: [t]);
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running, 60);
        Assert.Equal(RrqWorkerStatus.Busy, obj.WorkerStatus(w.Id));

        w.Kill(w.Id);
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(t));
        Assert.Equal(RrqWorkerStatus.Busy, obj.WorkerStatus(w.Id));
        var db = RedisServer.Instance.Connection.GetDatabase();
        await Poll.Until(async () => !await db.KeyExistsAsync($"{{{q.QueueId}}}:worker:{w.Id}:heartbeat"), 10);

        var found = obj.WorkerDetectExited();
        Assert.Equal([w.Id], found.LostWorkers);
        Assert.Equal(t, found.OrphanedTasks[w.Id]);
        Assert.Equal($"Lost 1 worker:\n  - {w.Id}\nOrphaning 1 task:\n  - {t}", found.ToString());
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        Assert.Equal(RrqTaskStatus.Impossible, obj.TaskStatus(dependent));
        Assert.Equal(RrqWorkerStatus.Lost, obj.WorkerStatus(w.Id));
        Assert.StartsWith($"Task not successful: DIED (its worker {w.Id} was declared lost at ", ((RrqTaskError)obj.TaskResult(t)!).Message);
        Assert.EndsWith("its heartbeat had expired, so the worker's process died, froze or was cut off from Redis)",
            ((RrqTaskError)obj.TaskResult(t)!).Message);
        Assert.Empty(obj.WorkerList());
        Assert.True(obj.WorkerDetectExited().IsEmpty);
    }

    [Fact]
    public async Task A_sigkilled_workers_task_dies_by_itself_when_another_worker_sweeps()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("hb", OneSecond);
        var w = await q.SpawnAsync(2, "hb");
        var t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(3_600_000)");
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running, 60);
        var busy = obj.TaskInfo(t).Worker!;
        var idle = w.Ids.Single(i => i != busy);

        var waiting = obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60));
        var sw = Stopwatch.StartNew();
        w.Kill(busy);
        Assert.False(await waiting);   // woken by the sweep of the other worker: nobody called anything
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        Assert.Equal(RrqWorkerStatus.Lost, obj.WorkerStatus(busy));
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(idle));
        Assert.Single(obj.WorkerLogTail(busy, 0), l => l.Command == "LOST");
        Console.WriteLine($"SIGKILL to DIED with a 1 s heartbeat: {sw.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task When_sweeping_workers_and_a_controller_find_one_lost_worker_exactly_one_of_them_acts()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("hb", OneSecond);
        var w = await q.SpawnAsync(3, "hb");
        // A retry on DIED shows how many times the loss was acted on: each action would retry once more.
        var t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(3_600_000)",
            retry: new RrqRetryPolicy { MaxAttempts = 5, On = [RrqTaskStatus.Died] });
        await Poll.Until(async () => await obj.TaskStatusAsync(t, follow: false) == RrqTaskStatus.Running, 60);
        var busy = obj.TaskInfo(t).Worker!;

        w.Kill(busy);
        var foundByController = new List<string>();
        while (await obj.TaskStatusAsync(t, follow: false) == RrqTaskStatus.Running)
        {
            foundByController.AddRange((await obj.WorkerDetectExitedAsync()).LostWorkers);
        }
        Assert.Equal(RrqTaskStatus.Moved, obj.TaskStatus(t, follow: false));
        Assert.Single(obj.TaskInfo(t).Moved.Down);
        Assert.Equal(2, obj.TaskList().Count);
        Assert.Single(obj.WorkerLogTail(busy, 0), l => l.Command == "LOST");
        Assert.Single(obj.WorkerLogTail(busy, 0), l => l.Command == "TASK_DIED");
        Assert.True(foundByController.Count <= 1);
        Assert.Equal(RrqWorkerStatus.Lost, obj.WorkerStatus(busy));
    }

    [Fact]
    public async Task Workers_with_one_heartbeat_period_take_turns_to_sweep_one_sweep_per_period_in_all()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        // Periods long enough that the workers' own beats do not take a turn while the test asks.
        obj.WorkerConfigSave("slow", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromSeconds(20) });
        obj.WorkerConfigSave("slower", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromSeconds(30) });
        var a = await q.WorkerAsync("turn_a", "slow");
        var b = await q.WorkerAsync("turn_b", "slow");
        var c = await q.WorkerAsync("turn_c", "slower");
        Assert.True(await a.TakeSweepTurnAsync());
        Assert.False(await b.TakeSweepTurnAsync());                            // a has this period's turn
        Assert.False(await a.TakeSweepTurnAsync());
        Assert.True(await c.TakeSweepTurnAsync());                             // another period has its own turns
        var db = RedisServer.Instance.Connection.GetDatabase();
        var turn = $"{{{q.QueueId}}}:sweep:20000";
        Assert.Equal("turn_a", (string?)await db.StringGetAsync(turn));
        Assert.InRange((await db.KeyTimeToLiveAsync(turn))!.Value.TotalSeconds, 17, 18);   // 0.9 of a period
        await db.KeyDeleteAsync(turn);                                         // as when the turn runs out
        Assert.True(await b.TakeSweepTurnAsync());

        await db.KeyDeleteAsync(turn);
        await a.StopAsync();
        Assert.False(await a.TakeSweepTurnAsync());                            // a stopped worker takes no turn
        Assert.False(await db.KeyExistsAsync(turn));                           // and writes nothing
    }

    [Fact]
    public async Task A_worker_sigkilled_after_claiming_a_task_but_before_starting_it_leaves_a_task_that_detection_marks_died()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        // A long poll: the worker looks for work only when a task is submitted, so it cannot find the new
        // environment on an idle look (and load it before the task is even claimed).
        obj.WorkerConfigSave("hb", OneSecond with { DetectLostWorkers = false, PollQueue = TimeSpan.FromMinutes(5) });
        var w = await q.SpawnAsync(1, "hb");
        // One task first: the worker has finished starting (it looks for an environment as it starts, and must not
        // find the slow one there).
        Assert.True(obj.TaskWait(obj.TaskCreateExpr("0"), TimeSpan.FromSeconds(60)));
        // A new environment, without telling the workers: the worker finds it when it claims the next task,
        // and loads it (here, slowly) before it starts that task.
        var slow = Path.Combine(Path.GetTempPath(), $"rrq-slow-{Guid.NewGuid():N}.csx");
        await File.WriteAllTextAsync(slow, "System.Threading.Thread.Sleep(60_000);\npublic int Never() => 0;\n");
        try
        {
            obj.WorkerEnvirSet(new RrqEnvir([slow]), notify: false);
            var t = obj.TaskCreateExpr("1");
            var db = RedisServer.Instance.Connection.GetDatabase();
            await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running, 60);
            Assert.False(await db.HashExistsAsync($"{{{q.QueueId}}}:task:result", t));
            Assert.DoesNotContain(obj.WorkerLogTail(w.Id, 0), l => l.Command == "ENVIR" && l.Message.StartsWith("version 1", StringComparison.Ordinal));

            w.Kill(w.Id);
            Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(t));
            Assert.Empty(obj.QueueList());   // claimed: in no queue, but owned by the worker on record
            Assert.Equal(t, obj.WorkerTaskId([w.Id])[w.Id]);
            await Poll.Until(async () => !await db.KeyExistsAsync($"{{{q.QueueId}}}:worker:{w.Id}:heartbeat"), 10);
            var found = obj.WorkerDetectExited();
            Assert.Equal(t, found.OrphanedTasks[w.Id]);
            Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
            Assert.False(obj.TaskWait(t, TimeSpan.FromSeconds(5)));
        }
        finally
        {
            File.Delete(slow);
        }
    }

    [Fact]
    public async Task Workers_stopped_through_the_api_are_exited_not_lost()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("hb", OneSecond with { DetectLostWorkers = false });
        var w = await q.SpawnAsync(2, "hb");
        obj.WorkerStop([w.Ids[0]], timeout: TimeSpan.FromSeconds(30));
        obj.WorkerStop([w.Ids[1]], RrqWorkerStopType.Kill);
        await Task.Delay(3500);   // longer than the heartbeat key's expiry, which Redis's clock runs
        Assert.True(obj.WorkerDetectExited().IsEmpty);
        Assert.All(w.Ids, id => Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(id)));
    }

    [Fact]
    public async Task Workers_without_a_heartbeat_are_never_declared_lost()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.SpawnAsync();
        var t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(3_600_000)");
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running, 60);
        w.Kill(w.Id);
        Assert.True(obj.WorkerDetectExited().IsEmpty);
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(t));
        Assert.Equal(RrqWorkerStatus.Busy, obj.WorkerStatus(w.Id));
    }

    [Fact]
    public async Task A_task_that_completed_is_never_turned_died_by_detection()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("hb", OneSecond with { DetectLostWorkers = false });
        var w = await q.SpawnAsync(1, "hb");
        var t = obj.TaskCreateExpr("21 * 2");
        Assert.True(obj.TaskWait(t, TimeSpan.FromSeconds(60)));
        // Put back the state rrq's race could leave (the worker still pointing at its finished task),
        // then lose the worker: the finished task must keep its outcome.
        var db = RedisServer.Instance.Connection.GetDatabase();
        await db.HashSetAsync($"{{{q.QueueId}}}:worker:task", w.Id, t);
        w.Kill(w.Id);
        await Poll.Until(async () => !await db.KeyExistsAsync($"{{{q.QueueId}}}:worker:{w.Id}:heartbeat"), 10);
        var found = obj.WorkerDetectExited();
        Assert.Equal([w.Id], found.LostWorkers);
        Assert.Empty(found.OrphanedTasks);
        Assert.Equal(RrqTaskStatus.Complete, obj.TaskStatus(t));
        Assert.Equal(42, obj.TaskResult(t));
    }

    [Fact]
    public async Task A_lost_worker_that_comes_back_finds_itself_removed_and_exits_without_touching_its_task()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var w = await q.WorkerAsync("partitioned");
        var t = obj.TaskCreateExpr("slow(1500)");
        var step = w.StepAsync();
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running);
        // What detection does to a worker whose heartbeat expired while it was cut off from Redis.
        var db = RedisServer.Instance.Connection.GetDatabase();
        await db.SetRemoveAsync($"{{{q.QueueId}}}:worker:id", "partitioned");
        await db.HashSetAsync($"{{{q.QueueId}}}:task:status", t, "DIED");
        await step;
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        Assert.Equal(RrqWorkerStepKind.Stopped, (await w.StepAsync()).Kind);
    }

    [Fact]
    public async Task A_worker_frozen_past_its_heartbeat_is_declared_lost_then_rejoins_and_its_task_stays_DIED()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("hb", OneSecond);
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var w = await q.SpawnAsync(2, "hb");
        var t = obj.TaskCreateExpr("slow(2000)");
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running, 60);
        var frozen = obj.TaskInfo(t).Worker!;
        var pid = w.Pids[frozen].ToString(System.Globalization.CultureInfo.InvariantCulture);

        using (var stop = Process.Start("kill", ["-STOP", pid])) { await stop.WaitForExitAsync(); }
        try
        {
            await Poll.Until(async () => await obj.WorkerStatusAsync(frozen) == RrqWorkerStatus.Lost, 30);   // the other worker's sweep
        }
        finally
        {
            using var cont = Process.Start("kill", ["-CONT", pid]);
            await cont.WaitForExitAsync();
        }
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        await Poll.Until(async () => (await obj.WorkerListAsync()).Contains(frozen), 30);
        Assert.Contains(obj.WorkerLogTail(frozen, 0), l => l.Command == "REJOIN");
        Assert.True(w.IsAlive(frozen));
        // Its late outcome was dropped: the task ended once, DIED, and the worker works again.
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        Assert.DoesNotContain(obj.WorkerLogTail(frozen, 0), l => l.Command == "TASK_COMPLETE" && l.Message == t);
        var next = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 20).Select(i => (object)new { i }));
        Assert.True(obj.TaskWait(next, TimeSpan.FromSeconds(60)));
    }
}
