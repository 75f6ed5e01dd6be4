using System.Diagnostics;
using Rrq.Tests.Support;
using StackExchange.Redis;

namespace Rrq.Tests.Workers;

/// <summary>Worker bookkeeping: existence, exited workers, running tasks, load, waiting for external workers, destroy.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class WorkerStateTests
{
    [Fact]
    public async Task A_task_a_leaving_worker_took_but_never_started_goes_back_to_the_front_of_its_queue()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync("leaving");
        var first = obj.TaskCreateExpr("1");
        var second = obj.TaskCreateExpr("2");
        // What the finishing script does for a busy worker: take its next task (RUNNING on it) before it starts.
        var claimed = await obj.Queue.ClaimAsync(w.Id, ["default"], "token-1");
        Assert.Equal(first, claimed.Task!.Id);
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(first));

        await obj.WorkerExitAsync(w.Id, "STOP OK (BYE)", notStarted: [first]);
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(first));
        Assert.Equal([first, second], obj.QueueList());
        Assert.Null(obj.TaskInfo(first).Worker);
        Assert.Null(obj.TaskTimes(first).Start);
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(w.Id));
        Assert.Contains(obj.WorkerLogTail(w.Id, 0), l => l.Command == "TASK_RETURNED" && l.Message == first);
        var other = await q.WorkerAsync("other");
        Assert.Equal(first, (await other.StepAsync()).TaskId);
        Assert.Equal(1, obj.TaskResult(first));
    }

    [Fact]
    public async Task Exited_workers_are_listed_and_deleted_only_when_they_have_left()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var a = await q.WorkerAsync("w_a");
        var b = await q.WorkerAsync("w_b");
        Assert.Equal(2, obj.WorkerLen());
        await a.StopAsync();
        Assert.False(obj.WorkerExists("w_a"));
        Assert.True(obj.WorkerExists("w_b"));
        Assert.Equal(1, obj.WorkerLen());
        Assert.Equal(["w_a"], obj.WorkerListExited());

        var live = Assert.Throws<RrqException>(() => obj.WorkerDeleteExited(["w_a", "w_b"]));
        Assert.Contains("Worker 'w_b' is still live", live.Message);
        var unknown = Assert.Throws<RrqException>(() => obj.WorkerDeleteExited(["w_zz"]));
        Assert.Contains("No worker 'w_zz' has been registered", unknown.Message);
        Assert.Equal(["w_a"], obj.WorkerListExited());                        // nothing was deleted

        var table = obj.WorkerInfo(["w_b", "w_a"]);   // in the order asked, as a table
        Assert.Equal(["w_b", "w_a"], table.Keys);
        var lines = table.ToString().Split('\n');
        Assert.StartsWith("worker  host", lines[0]);
        Assert.StartsWith("w_b ", lines[1]);
        Assert.Contains($"{Environment.ProcessId}", lines[2]);
        Assert.Throws<KeyNotFoundException>(() => table["w_c"]);

        Assert.Equal(["w_a"], obj.WorkerDeleteExited());
        Assert.Empty(obj.WorkerListExited());
        var db = RedisServer.Instance.Connection.GetDatabase();
        Assert.False(await db.KeyExistsAsync($"{{{q.QueueId}}}:worker:w_a:log"));
        Assert.False(await db.HashExistsAsync($"{{{q.QueueId}}}:worker:status", "w_a"));
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus("w_b"));
        Assert.NotNull(b);
    }

    [Fact]
    public async Task Worker_task_id_names_the_running_task_and_the_load_follows_the_logs()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.SpawnAsync();
        Assert.Null(obj.WorkerTaskId()[w.Id]);
        using var gate = new Gate();
        var t = obj.TaskCreateExpr(Gate.Wait, gate.Locals);
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running, 60);
        Assert.Equal(t, obj.WorkerTaskId([w.Id])[w.Id]);
        await Task.Delay(1500);   // the load is read from the server's clock: the task must be seen running across time
        gate.Open();
        Assert.True(obj.TaskWait(t, TimeSpan.FromSeconds(60)));
        Assert.Null(obj.WorkerTaskId()[w.Id]);

        var load = obj.WorkerLoad();
        Assert.Equal([(1, 0), (1, 1), (1, 0)], load.Points.Select(p => (p.Workers, p.Tasks)));
        var all = load.Mean();
        Assert.Equal(1.0, all.Workers, 3);
        var p = load.Points;
        var busy = (p[2].Time - p[1].Time).TotalSeconds;
        Assert.True(busy >= 1.4, $"busy {busy} s");
        Assert.Equal(busy / (load.Now - p[0].Time).TotalSeconds, all.Tasks, 6);   // busy time over the worker's life so far
        Assert.Equal(all.Tasks, all.Utilisation, 6);
        Assert.Equal(0.0, load.Mean(TimeSpan.FromMilliseconds(1)).Tasks);   // idle right now
        Assert.Equal(4, load.Means().Count);

        obj.WorkerStop(timeout: TimeSpan.FromSeconds(30));
        Assert.Equal((0, 0), (obj.WorkerLoad().Points[^1].Workers, obj.WorkerLoad().Points[^1].Tasks));
    }

    [Fact]
    public async Task Worker_wait_waits_for_workers_started_elsewhere_and_fails_fast_for_dead_ones_with_their_logs()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        // A worker started by hand, as a scheduler would start one.
        using var p = WorkerProcess.Start(q.QueueId, "--name", "by_hand_1", "--exit-with-stdin");
        _ = p.StandardOutput.ReadToEndAsync();
        try
        {
            var took = await obj.WorkerWaitAsync(["by_hand_1"], TimeSpan.FromSeconds(60));
            Assert.True(obj.WorkerExists("by_hand_1"));
            Assert.True(took < TimeSpan.FromSeconds(60));
            Assert.True(await obj.WorkerWaitAsync(["by_hand_1"]) < TimeSpan.FromSeconds(1));   // already there

            var sw = Stopwatch.StartNew();
            var never = await Assert.ThrowsAsync<RrqException>(() => obj.WorkerWaitAsync(["never_1"], TimeSpan.FromMilliseconds(300)));
            Assert.StartsWith("Worker not ready in time", never.Message);
            var dead = await Assert.ThrowsAsync<RrqException>(() => obj.WorkerWaitAsync(["by_hand_1", "crashed_1"], TimeSpan.FromSeconds(60),
                isDead: id => id == "crashed_1", fetchLogs: id => [$"{id} could not start: out of memory"]));
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
            Assert.StartsWith("1 / 2 workers died", dead.Message);
            Assert.Contains("crashed_1 could not start: out of memory", dead.Message);

            obj.WorkerStop(["by_hand_1"], timeout: TimeSpan.FromSeconds(30));
            var left = await Assert.ThrowsAsync<RrqException>(() => obj.WorkerWaitAsync(["by_hand_1"], TimeSpan.FromSeconds(60)));
            Assert.StartsWith("Worker died", left.Message);                 // it registered once and has left
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task Destroy_stops_the_workers_deletes_every_key_and_a_worker_busy_meanwhile_writes_nothing_back()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("hb", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromSeconds(1), PollQueue = TimeSpan.FromSeconds(1) });
        var w = await q.SpawnAsync(2, "hb");
        var done = obj.TaskCreateExpr("1 + 1");
        Assert.True(obj.TaskWait(done, TimeSpan.FromSeconds(60)), $"{obj.TaskStatus(done)}: {obj.TaskResult(done)}");
        using var gate = new Gate();
        var slow = obj.TaskCreateExpr(Gate.Wait, gate.Locals);
        await Poll.Until(async () => await obj.TaskStatusAsync(slow) == RrqTaskStatus.Running, 60);
        var busy = obj.WorkerTaskId().Single(p => p.Value == slow).Key;
        var db = RedisServer.Instance.Connection.GetDatabase();
        var logFiles = (await db.HashGetAllAsync(obj.Keys.WorkerProcess)).ToDictionary(e => (string)e.Name!, e => (string)e.Value!);

        var deleted = obj.Destroy();
        Assert.True(deleted > 10, $"{deleted} keys deleted");
        gate.Open();
        Assert.Throws<ObjectDisposedException>(() => obj.TaskList());
        var server = RedisServer.Instance.Connection.GetServer(RedisServer.Instance.Address);
        // The idle worker obeyed STOP; the busy one finishes its task, finds the queue gone and exits.
        try
        {
            await Poll.Until(() => !w.IsAlive(busy) && w.Ids.All(id => !w.IsAlive(id)), 60);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"still running: {string.Join(", ", w.Ids.Where(w.IsAlive))} (busy: {busy})\n" + string.Join("\n",
                logFiles.Select(f => $"--- {f.Key}\n{string.Join('\n', File.Exists(f.Value) ? File.ReadLines(f.Value).TakeLast(40) : [])}")));
        }
        var left = new List<string>();
        await foreach (var key in server.KeysAsync(pattern: "{" + q.QueueId + "}:*"))
        {
            left.Add(key!);
        }
        // Nothing but the mark that says the queue was destroyed on purpose (it expires after a day).
        Assert.True(left.SequenceEqual([$"{{{q.QueueId}}}:destroyed"]), string.Join(", ", left.Select(k => k[(q.QueueId.Length + 2)..])));
        Assert.InRange(await db.KeyTimeToLiveAsync($"{{{q.QueueId}}}:destroyed") ?? TimeSpan.Zero,
            TimeSpan.FromHours(23), TimeSpan.FromDays(1));
    }

    [Fact]
    public async Task A_worker_that_looks_for_work_while_Destroy_deletes_the_queue_leaves_and_writes_nothing()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var t = obj.TaskCreateExpr("1 + 1");
        Assert.Equal(t, (await w.StepAsync()).TaskId);
        var server = RedisServer.Instance.Connection.GetServer(RedisServer.Instance.Address);
        async Task<List<string>> KeysAsync()
        {
            var keys = new List<string>();
            await foreach (var key in server.KeysAsync(pattern: "{" + q.QueueId + "}:*"))
            {
                keys.Add(((string)key!)[(q.QueueId.Length + 3)..]);
            }
            return [.. keys.Order(StringComparer.Ordinal)];
        }

        // Destroy's first step, and not yet the deletion of the other keys (which the worker's claim meets in a real
        // Destroy when the claim comes in between): the worker finds itself unregistered, and leaves rather than joining
        // again a queue that is being deleted.
        await obj.Queue.QueueDestroyAsync(obj.Time.GetUtcNow(), TimeSpan.FromMinutes(5), CancellationToken.None);
        var before = await KeysAsync();
        Assert.Contains("task:status", before);
        var step = await w.StepAsync();
        Assert.Equal(RrqWorkerStepKind.Stopped, step.Kind);
        Assert.Equal("not registered", step.Detail);
        await w.DisposeAsync();
        var after = await KeysAsync();
        Assert.Empty(after.Except(before));   // it wrote no key back (no registration, no log line, no exit record)
        Assert.All(before.Except(after), k => Assert.Equal($"worker:{w.Id}:heartbeat", k));   // it took away its heartbeat
    }
}
