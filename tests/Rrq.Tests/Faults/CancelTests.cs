using Rrq.Tests.Support;

namespace Rrq.Tests.Faults;

[Trait(RedisServer.OnGarnet, "yes")]
public class CancelTests
{
    [Fact]
    public async Task Cancelling_a_pending_task_makes_it_cancelled_and_takes_it_off_its_queue()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("1");
        var other = obj.TaskCreateExpr("2");
        var waiting = obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30));
        Assert.True(obj.TaskCancel(t));
        Assert.False(await waiting);
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(t));
        Assert.Equal("Task not successful: CANCELLED", ((RrqTaskError)obj.TaskResult(t)!).Message);
        Assert.Equal([other], obj.QueueList());
        Assert.Equal(1, obj.QueueLength());
        var w = await q.WorkerAsync();
        Assert.Equal(other, (await w.StepAsync()).TaskId);
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
        var db = RedisServer.Instance.Connection.GetDatabase();
        Assert.Equal(0, await db.ListLengthAsync($"{{{q.QueueId}}}:queue:default"));   // its id was dropped by the claim
    }

    [Fact]
    public async Task Cancelling_a_running_separate_process_task_kills_its_child_and_the_worker_goes_on()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        _ = w.RunAsync();
        var t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)", separateProcess: true);
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running, 60);
        await Poll.Until(async () => (await obj.TaskInfoAsync(t)).Pid is not null, 60);
        Assert.True(await obj.TaskCancelAsync(t));
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(t));
        Assert.Contains(obj.WorkerLogTail(w.Id, 0), l => l.Command == "CANCEL");
        var next = obj.TaskCreateExpr("7");
        Assert.True(await obj.TaskWaitAsync(next, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Cancelling_a_running_in_process_task_is_a_clear_error_and_changes_nothing()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        using var gate = new Gate();
        var t = obj.TaskCreateExpr(Gate.Wait + " 5", gate.Locals);
        var step = w.StepAsync();
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running);
        var e = await Assert.ThrowsAsync<RrqException>(() => obj.TaskCancelAsync(t));
        Assert.Contains("inside worker", e.Message);
        Assert.Contains("separateProcess: true", e.Message);
        gate.Open();
        await step;
        Assert.Equal(RrqTaskStatus.Complete, obj.TaskStatus(t));
        Assert.Equal(5, obj.TaskResult(t));
    }

    /// <summary>Every field every per-task hash of the queue holds for <paramref name="id"/>, and its place in the
    /// finished sets: what a cancel that changes nothing must leave as it was.</summary>
    private static async Task<string> Snapshot(TestQueue q, string id)
    {
        var server = RedisServer.Instance.Connection.GetServer(RedisServer.Instance.Address);
        var db = RedisServer.Instance.Connection.GetDatabase();
        var lines = new List<string>();
        await foreach (var key in server.KeysAsync(pattern: "{" + q.QueueId + "}:*"))
        {
            var type = await db.KeyTypeAsync(key);
            if (type == StackExchange.Redis.RedisType.Hash && await db.HashGetAsync(key, id) is { IsNull: false } v)
            {
                lines.Add($"{key} = {Convert.ToHexString((byte[])v!)}");
            }
            else if (type == StackExchange.Redis.RedisType.SortedSet && await db.SortedSetScoreAsync(key, id) is { } score)
            {
                lines.Add($"{key} @ {score}");
            }
        }
        lines.Sort(StringComparer.Ordinal);
        return string.Join("\n", lines);
    }

    [Fact]
    public async Task Cancelling_a_task_that_is_not_cancelable_returns_false_and_writes_nothing_whatever_its_status()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        _ = w.RunAsync();
        var complete = obj.TaskCreateExpr("3");
        var error = obj.TaskCreateExpr("int.Parse(\"x\")");
        var died = obj.TaskCreateExpr("System.Environment.Exit(3)", separateProcess: true);
        var timeout = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)", separateProcess: true, timeout: TimeSpan.FromSeconds(1));
        Assert.True(obj.TaskWait(complete, TimeSpan.FromSeconds(60)));
        Assert.False(obj.TaskWait([error, died, timeout], TimeSpan.FromSeconds(60)));
        var impossible = obj.TaskCreateExpr("1", dependsOn: [error]);
        var moved = obj.TaskCreateExpr("int.Parse(\"y\")");
        Assert.False(obj.TaskWait(moved, TimeSpan.FromSeconds(60)));
        var retried = obj.TaskRetry(moved);
        Assert.False(obj.TaskWait(retried, TimeSpan.FromSeconds(60)));
        var cancelled = obj.TaskCreateExpr("1", queue: "nobody");
        Assert.True(obj.TaskCancel(cancelled));

        (string Id, RrqTaskStatus Status)[] cases =
        [
            (complete, RrqTaskStatus.Complete), (error, RrqTaskStatus.Error), (died, RrqTaskStatus.Died),
            (timeout, RrqTaskStatus.Timeout), (impossible, RrqTaskStatus.Impossible), (moved, RrqTaskStatus.Moved),
            (cancelled, RrqTaskStatus.Cancelled),
        ];
        foreach (var (id, status) in cases)
        {
            Assert.Equal(status, obj.TaskStatus(id, follow: false));
            var before = await Snapshot(q, id);
            Assert.False(obj.TaskCancel(id), $"cancel of a {status} task");
            Assert.False(await obj.TaskCancelAsync(id, wait: false), $"cancel of a {status} task, not waiting");
            Assert.Equal(status, obj.TaskStatus(id, follow: false));
            Assert.Equal(before, await Snapshot(q, id));
        }
        Assert.Equal(3, obj.TaskResult(complete));

        var missing = new string('f', 32);
        Assert.False(obj.TaskCancel(missing));
        Assert.Equal(RrqTaskStatus.Missing, obj.TaskStatus(missing));
        Assert.Equal("", await Snapshot(q, missing));
    }

    [Fact]
    public async Task Cancel_racing_a_claim_has_exactly_one_outcome()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var cancelled = 0;
        var ran = 0;
        for (var i = 0; i < 30; i++)
        {
            var t = await obj.TaskCreateExprAsync("i", new { i });
            var waiter = obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30));
            var step = w.StepAsync();
            bool? cancel;
            try
            {
                cancel = await obj.TaskCancelAsync(t, wait: false);
            }
            catch (RrqException)
            {
                cancel = null;   // the worker had claimed it: RUNNING in-process
            }
            var s = await step;
            var waited = await waiter;
            var status = await obj.TaskStatusAsync(t);
            Assert.Equal(status == RrqTaskStatus.Complete, waited);   // a waiter's answer is the final outcome
            if (cancel == true)
            {
                cancelled++;
                Assert.Equal(RrqTaskStatus.Cancelled, status);
                Assert.Equal(RrqWorkerStepKind.Idle, s.Kind);
            }
            else
            {
                ran++;
                Assert.Equal(RrqTaskStatus.Complete, status);
                Assert.Equal(t, s.TaskId);
                Assert.Equal(i, await obj.TaskResultAsync(t));
            }
        }
        Assert.Equal(30, cancelled + ran);
    }
}
