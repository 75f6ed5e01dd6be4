using Rrq.Scripts;
using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

/// <summary>Workers with RrqWorkerConfig.Concurrency above 1: several tasks at once in one process, each with its own
/// claim, status, progress, cancel and timeout, and all of them DIED when the process dies.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class ConcurrencyTests
{
    private static RrqWorkerConfig Slots(int n) => new()
    {
        Concurrency = n, HeartbeatPeriod = TimeSpan.FromSeconds(1), PollQueue = TimeSpan.FromSeconds(1),
    };

    private static async Task<RrqController> WithSlotsAsync(TestQueue q, int n)
    {
        var obj = q.Controller;
        obj.WorkerConfigSave("slots", Slots(n));
        await obj.WorkerEnvirSetAsync(new RrqEnvir([TestQueue.Env("slots.csx")]));
        return obj;
    }

    [Fact]
    public async Task Eight_tasks_run_at_once_in_one_worker_process_each_with_its_own_locals_and_progress()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = await WithSlotsAsync(q, 8);
        var spawn = await q.SpawnAsync(1, "slots");
        // Each task reports its own progress, then waits until all eight are inside the process at once.
        var ids = Enumerable.Range(0, 8).Select(i => obj.TaskCreateExpr(
            "RrqTask.Progress(x * 10); Meet.At(8) >= 8 ? (x, Environment.ProcessId) : (-1, 0)", new { x = i })).ToArray();
        Assert.True(await obj.TaskWaitAsync(ids, TimeSpan.FromSeconds(60)));
        var pids = new HashSet<int>();
        for (var i = 0; i < 8; i++)
        {
            var (x, pid) = ((int, int))obj.TaskResult(ids[i])!;
            Assert.Equal(i, x);
            pids.Add(pid);
            Assert.Equal(i * 10, obj.TaskProgress(ids[i]));
            Assert.Equal(spawn.Ids[0], obj.TaskInfo(ids[i]).Worker);
        }
        Assert.Single(pids);
        Assert.Equal(8, obj.WorkerInfo()[spawn.Ids[0]].Concurrency);
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(spawn.Ids[0]));
        Assert.Empty(obj.WorkerTaskIds()[spawn.Ids[0]]);
        Assert.Null(obj.WorkerTaskId()[spawn.Ids[0]]);
    }

    [Fact]
    public async Task A_sigkilled_worker_running_eight_tasks_has_all_eight_died_or_retried_by_their_policy()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = await WithSlotsAsync(q, 8);
        var spawn = await q.SpawnAsync(1, "slots");
        var w = spawn.Ids[0];
        var plain = Enumerable.Range(0, 6).Select(_ => obj.TaskCreateExpr("Meet.Forever()")).ToArray();
        var retried = Enumerable.Range(0, 2).Select(_ => obj.TaskCreateExpr("Meet.Forever()",
            retry: new RrqRetryPolicy { MaxAttempts = 2 })).ToArray();
        var dependent = obj.TaskCreateExpr("1", dependsOn: [plain[0]]);
        string[] all = [.. plain, .. retried];
        await Poll.Until(async () => (await obj.WorkerTaskIdsAsync([w]))[w].Count == 8, 60);
        Assert.Equal(all.Order(), obj.WorkerTaskIds([w])[w].Order());
        Assert.Equal(string.Join(' ', obj.WorkerTaskIds([w])[w]), obj.WorkerTaskId([w])[w]);
        Assert.All(obj.TaskStatus(all), s => Assert.Equal(RrqTaskStatus.Running, s));
        Assert.Equal(RrqWorkerStatus.Busy, obj.WorkerStatus(w));

        spawn.Kill(w);
        var db = RedisServer.Instance.Connection.GetDatabase();
        await Poll.Until(async () => !await db.KeyExistsAsync($"{{{q.QueueId}}}:worker:{w}:heartbeat"), 10);
        var found = obj.WorkerDetectExited();
        Assert.Equal([w], found.LostWorkers);
        Assert.Equal(all.Order(), found.OrphanedTaskIds[w].Order());
        Assert.Contains("Orphaning 8 tasks:", found.ToString(), StringComparison.Ordinal);
        Assert.All(obj.TaskStatus(plain), s => Assert.Equal(RrqTaskStatus.Died, s));
        Assert.Equal(RrqTaskStatus.Impossible, obj.TaskStatus(dependent));
        foreach (var t in retried)
        {
            Assert.Equal(RrqTaskStatus.Moved, obj.TaskStatus(t, follow: false));
            Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(t));   // followed to its retry, queued again
        }
        // Each has a retry of its own.
        var next = retried.Select(t => Assert.Single(obj.TaskInfo(t).Moved.Down)).ToArray();
        Assert.Equal(2, next.Distinct().Count());
        Assert.All(obj.TaskStatus(next), s => Assert.Equal(RrqTaskStatus.Pending, s));
        Assert.Empty(obj.WorkerTaskIds([w])[w]);
        Assert.Equal(RrqWorkerStatus.Lost, obj.WorkerStatus(w));
    }

    [Fact]
    public async Task Separate_process_tasks_in_slots_are_cancelled_and_timed_out_one_by_one_while_the_others_run_on()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = await WithSlotsAsync(q, 5);
        var spawn = await q.SpawnAsync(1, "slots");
        using var gate = new Gate();
        var cancelled = obj.TaskCreateExpr("System.Threading.Thread.Sleep(600_000); 1", separateProcess: true);
        var timedOut = obj.TaskCreateExpr("System.Threading.Thread.Sleep(600_000); 2", separateProcess: true,
            timeout: TimeSpan.FromSeconds(2));
        var gated = obj.TaskCreateExpr("Console.WriteLine(\"from three\"); " + Gate.Wait + " 3", gate.Locals, separateProcess: true);
        var other = obj.TaskCreateExpr("Console.WriteLine(\"from five\"); " + Gate.Wait + " 5", gate.Locals, separateProcess: true);
        var inProcess = obj.TaskCreateExpr(Gate.Wait + " 4", gate.Locals);
        string[] all = [cancelled, timedOut, gated, other, inProcess];
        await Poll.Until(async () => (await obj.TaskStatusAsync(all)).All(s => s == RrqTaskStatus.Running), 60);

        Assert.True(obj.TaskCancel(cancelled));
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(cancelled));
        Assert.False(await obj.TaskWaitAsync(timedOut, TimeSpan.FromSeconds(30)));   // false: it ended, but not COMPLETE
        Assert.Equal(RrqTaskStatus.Timeout, obj.TaskStatus(timedOut));
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(gated));
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(inProcess));
        Assert.Equal(new[] { gated, other, inProcess }.Order(), obj.WorkerTaskIds()[spawn.Ids[0]].Order());

        gate.Open();
        Assert.True(await obj.TaskWaitAsync([gated, other, inProcess], TimeSpan.FromSeconds(30)));
        Assert.Equal(3, obj.TaskResult(gated));
        Assert.Equal(5, obj.TaskResult(other));
        Assert.Equal(4, obj.TaskResult(inProcess));
        // Each task's output is in its own log.
        Assert.Equal(["from three"], obj.TaskLog(gated));
        Assert.Equal(["from five"], obj.TaskLog(other));
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(spawn.Ids[0]));
    }

    [Fact]
    public async Task Messages_are_answered_by_a_free_slot_and_a_stop_waits_for_the_running_tasks()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = await WithSlotsAsync(q, 2);
        var spawn = await q.SpawnAsync(1, "slots");
        var w = spawn.Ids[0];
        using var gate = new Gate();
        var running = obj.TaskCreateExpr(Gate.Wait + " 7", gate.Locals);
        await Poll.Until(async () => await obj.TaskStatusAsync(running) == RrqTaskStatus.Running, 60);

        // One slot is busy; the other answers at once.
        Assert.Equal("PONG", obj.MessageSendAndWait("PING", timeout: TimeSpan.FromSeconds(10))[w].Result);
        Assert.Equal(2, obj.MessageSendAndWait("EVAL", "1 + 1", timeout: TimeSpan.FromSeconds(10))[w].Result);

        // STOP: the worker takes no more work and leaves once the running task is recorded.
        var id = obj.MessageSend("STOP");
        var later = obj.TaskCreateExpr("8");
        Assert.Equal("BYE", obj.MessageGetResponse(id, [w], timeout: TimeSpan.FromSeconds(10))[w].Result);
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(running));
        Assert.Contains(w, obj.WorkerList());
        gate.Open();
        await Poll.Until(async () => await obj.WorkerStatusAsync(w) == RrqWorkerStatus.Exited, 30);
        Assert.Equal(RrqTaskStatus.Complete, obj.TaskStatus(running));
        Assert.Equal(7, obj.TaskResult(running));
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(later));
        Assert.Contains(obj.WorkerLogTail(w, 0), l => l.Command == "STOP" && l.Message == "OK (BYE)");
    }

    [Fact]
    public async Task A_recycle_limit_stops_the_slots_taking_work_and_the_worker_leaves_once_they_drain()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("recycle", Slots(4) with { RecycleAfterTasks = 3, HeartbeatPeriod = null });
        var ids = Enumerable.Range(0, 12).Select(i => obj.TaskCreateExpr("x", new { x = i })).ToArray();
        var w = await q.WorkerAsync("recycling", "recycle");
        await w.RunAsync().WaitAsync(TimeSpan.FromSeconds(60));
        // Slots finishing together may each count past the limit before one of them checks it.
        Assert.Matches("^ran [3-7] tasks$", w.Recycled);
        var statuses = obj.TaskStatus(ids);
        // It stopped taking work at its third task; tasks its slots held then ran to the end: none died. That is up to
        // one per slot: the three others, and one a claim in flight took for the slot that had just finished the third.
        Assert.InRange(statuses.Count(s => s == RrqTaskStatus.Complete), 3, 3 + 4);
        Assert.All(statuses, s => Assert.True(s is RrqTaskStatus.Complete or RrqTaskStatus.Pending, s.ToString()));
        Assert.Equal(12, statuses.Count(s => s == RrqTaskStatus.Complete) + obj.QueueLength());
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(w.Id));
        Assert.Contains(obj.WorkerLogTail(w.Id, 0), l => l.Command == "STOP" && l.Message.StartsWith("OK (RECYCLE: ran ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Claims_of_several_slots_hold_tasks_side_by_side_and_a_claim_returns_only_tasks_of_no_live_claim()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync("slotted");
        var a = obj.TaskCreateExpr("1");
        var b = obj.TaskCreateExpr("2");
        var c = obj.TaskCreateExpr("3");
        // Slot 0 takes a; slot 1, with slot 0's claim live, takes b and leaves a RUNNING.
        Assert.Equal(a, (await obj.Queue.ClaimAsync(w.Id, ["default"], "t1", $"{w.Id} 1 0 0 t1")).Task!.Id);
        Assert.Equal(b, (await obj.Queue.ClaimAsync(w.Id, ["default"], "t2", $"{w.Id}#1 1 0 0 t1 t2")).Task!.Id);
        Assert.Equal([a, b], obj.WorkerTaskIds([w.Id])[w.Id]);
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(a));
        // The same claim sent again gets the same task.
        Assert.Equal(b, (await obj.Queue.ClaimAsync(w.Id, ["default"], "t2", $"{w.Id}#1 1 0 0 t1 t2")).Task!.Id);
        // A claim that knows only t2 is live: a's claim is not the worker's any more (Redis lost the worker's record of
        // it), so a goes back to the front of the queue and is taken again by this claim.
        Assert.Equal(a, (await obj.Queue.ClaimAsync(w.Id, ["default"], "t3", $"{w.Id}#2 1 1 0 t2 t3")).Task!.Id);
        Assert.Contains(obj.WorkerLogTail(w.Id, 0), l => l.Command == "TASK_RETURNED" && l.Message == a);
        Assert.Equal([b, a], obj.WorkerTaskIds([w.Id])[w.Id]);
        Assert.Equal([c], obj.QueueList());

        // Leaving with a taken but not started: a goes back, b (running) DIED.
        var died = await obj.WorkerExitAsync(w.Id, "STOP OK (BYE)", notStarted: [a]);
        Assert.Equal([b], died);
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(a));
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(b));
        Assert.Equal([a, c], obj.QueueList());
        Assert.Empty(obj.WorkerTaskIds([w.Id])[w.Id]);
    }

    [Fact]
    public async Task A_new_environment_is_loaded_by_a_free_slot_while_a_task_runs_on_in_the_old_one()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = await WithSlotsAsync(q, 2);
        var spawn = await q.SpawnAsync(1, "slots");
        using var gate = new Gate();
        var old = obj.TaskCreateExpr(Gate.Wait + " Meet.At(1)", gate.Locals);
        await Poll.Until(async () => await obj.TaskStatusAsync(old) == RrqTaskStatus.Running, 60);

        await obj.WorkerEnvirSetAsync(new RrqEnvir([TestQueue.Env("version2.csx")]));
        var fresh = obj.TaskCreateExpr("Version()");
        Assert.True(await obj.TaskWaitAsync(fresh, TimeSpan.FromSeconds(60)));
        Assert.Equal(2, obj.TaskResult(fresh));
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(old));

        gate.Open();
        Assert.True(await obj.TaskWaitAsync(old, TimeSpan.FromSeconds(30)));
        Assert.Equal(1, obj.TaskResult(old));
        Assert.Contains(obj.WorkerLogTail(spawn.Ids[0], 0), l => l.Command == "ENVIR" && l.Message.StartsWith("version 2 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task One_claim_takes_a_task_for_each_free_slot_each_under_its_own_token()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync("greedy");
        var ids = Enumerable.Range(0, 5).Select(i => obj.TaskCreateExpr("i", new { i })).ToArray();
        // A claim for three slots takes three tasks, in queue order.
        var r = await obj.Queue.ClaimAsync(w.Id, ["default"], "x.1", $"{w.Id} 3 0 0 x.1");
        Assert.Equal(ClaimKind.Task, r.Kind);
        Assert.Equal(2, r.More.Count);
        Assert.Equal(ids[..3], new[] { r.Task!.Id, r.More[0].Id, r.More[1].Id });
        Assert.Equal(ids[..3], obj.WorkerTaskIds([w.Id])[w.Id]);
        Assert.Equal(ids[3..], obj.QueueList());
        // Each is held under a token of its own, which its finish must bring.
        var db = RedisServer.Instance.Connection.GetDatabase();
        Assert.Equal("x.1+2", (string?)await db.HashGetAsync($"{{{q.QueueId}}}:task:claim", ids[1]));
        // Sent again, the same claim gets the same three tasks, and takes no more.
        var again = await obj.Queue.ClaimAsync(w.Id, ["default"], "x.1", $"{w.Id} 3 0 0 x.1");
        Assert.Equal(new[] { r.Task!.Id, r.More[0].Id, r.More[1].Id }, new[] { again.Task!.Id, again.More[0].Id, again.More[1].Id });
        Assert.Equal(ids[3..], obj.QueueList());
        // A later claim that knows the first claim is live returns none of them; only two are left to take.
        var more = await obj.Queue.ClaimAsync(w.Id, ["default"], "x.2", $"{w.Id}#1 4 1 1 x.1 x.2");
        Assert.Single(more.More);
        Assert.Equal(ids, obj.WorkerTaskIds([w.Id])[w.Id]);
        // Leaving, the tasks it took and never started go back in order; none died.
        Assert.Empty(await obj.WorkerExitAsync(w.Id, "STOP OK (BYE)", notStarted: ids));
        Assert.All(obj.TaskStatus(ids), s => Assert.Equal(RrqTaskStatus.Pending, s));
        Assert.Equal(ids, obj.QueueList());
    }

    [Fact]
    public void Concurrency_is_checked()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new RrqWorkerConfig { Concurrency = 0 }.Validate());
        Assert.Contains("Concurrency must be from 1 to 64", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RrqWorkerConfig { Concurrency = 65 }.Validate());
        new RrqWorkerConfig { Concurrency = 64 }.Validate();
    }
}
