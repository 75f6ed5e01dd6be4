using Rrq.Tests.Support;

namespace Rrq.Tests.Tasks;

[Trait(RedisServer.OnGarnet, "yes")]
public class AutoRetryTests
{
    private static string Counter() => Path.Combine(Path.GetTempPath(), "rrq-auto-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task A_failing_task_is_retried_by_itself_and_waiting_on_its_first_id_gives_the_final_outcome()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var counter = Counter();
        var t1 = obj.TaskCreateExpr("stochastic_failure(0.5, counter, 2)", new { counter }, retry: new RrqRetryPolicy { MaxAttempts = 3 });
        var dependent = obj.TaskCreateExpr("\"after\"", dependsOn: [t1]);
        var waiting = obj.TaskWaitAsync(t1, TimeSpan.FromSeconds(30));
        var w = await q.WorkerAsync();
        Assert.Equal(RrqTaskStatus.Error, (await w.StepAsync()).Status);
        Assert.False(waiting.IsCompleted);                                    // the failure was retried, not reported
        Assert.Equal(RrqTaskStatus.Deferred, obj.TaskStatus(dependent));      // and the dependent keeps waiting
        await w.StepAsync();
        await w.StepAsync();
        Assert.True(await waiting);
        Assert.Equal(0.5728534, obj.TaskResult(t1));
        var chain = obj.TaskInfo(t1).Moved.Down;
        Assert.Equal(2, chain.Count);
        Assert.Equal([RrqTaskStatus.Moved, RrqTaskStatus.Moved, RrqTaskStatus.Complete], obj.TaskStatus([t1, .. chain], follow: false));
        Assert.Equal("Convergence failure - x is only 0.10", ((RrqTaskError)obj.TaskResult(t1, follow: false)!).Message);
        Assert.Equal(2, obj.WorkerLogTail(w.Id, 0).Count(l => l.Command == "RETRY"));
        Assert.Equal(dependent, (await w.StepAsync()).TaskId);   // released by the last attempt's success
        Assert.Equal("after", obj.TaskResult(dependent));
        File.Delete(counter);
    }

    [Fact]
    public async Task When_attempts_run_out_the_last_failure_stands_and_dependents_become_impossible()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var counter = Counter();
        var t1 = obj.TaskCreateExpr("stochastic_failure(0.5, counter, 5)", new { counter }, retry: new RrqRetryPolicy { MaxAttempts = 2 });
        var dependent = obj.TaskCreateExpr("1", dependsOn: [t1]);
        var w = await q.WorkerAsync();
        await w.StepAsync();
        await w.StepAsync();
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
        Assert.False(obj.TaskWait(t1, TimeSpan.FromSeconds(5)));
        Assert.Equal(RrqTaskStatus.Error, obj.TaskStatus(t1));
        Assert.Single(obj.TaskInfo(t1).Moved.Down);
        Assert.Equal(RrqTaskStatus.Impossible, obj.TaskStatus(dependent));
        Assert.Equal("Convergence failure - x is only 0.20", ((RrqTaskError)obj.TaskResult(t1)!).Message);
        File.Delete(counter);
    }

    [Fact]
    public async Task Only_the_listed_outcomes_are_retried()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("throw new Exception(\"plain error\")", retry: new RrqRetryPolicy { On = [RrqTaskStatus.Died] });
        var w = await q.WorkerAsync();
        await w.StepAsync();
        Assert.Equal(RrqTaskStatus.Error, obj.TaskStatus(t, follow: false));
        Assert.Empty(obj.TaskInfo(t).Moved.Down);
    }

    [Fact]
    public async Task A_delayed_retry_waits_its_delay_before_it_is_queued()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var counter = Counter();
        var t1 = obj.TaskCreateExpr("stochastic_failure(0.5, counter, 1)", new { counter },
            retry: new RrqRetryPolicy { Delay = TimeSpan.FromSeconds(4) });
        var w = await q.WorkerAsync();
        await w.StepAsync();
        var t2 = Assert.Single(obj.TaskInfo(t1).Moved.Down);
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(t2));
        Assert.Equal(0, obj.QueueLength());                       // waiting in the delayed set, not the queue
        Assert.Equal(RrqWorkerStepKind.Idle, (await w.StepAsync()).Kind);
        using var cts = new CancellationTokenSource();
        var loop = w.RunAsync(cts.Token);
        Assert.True(await obj.TaskWaitAsync(t1, TimeSpan.FromSeconds(30)));
        var failedAt = obj.TaskTimes(t1, follow: false).Complete!.Value;
        var retriedAt = obj.TaskTimes(t2).Start!.Value;
        Assert.True(retriedAt - failedAt >= TimeSpan.FromSeconds(3.9), $"retried after {(retriedAt - failedAt).TotalSeconds:0.00} s");
        cts.Cancel();
        await loop;
        File.Delete(counter);
    }

    [Fact]
    public async Task A_retry_waiting_its_delay_can_be_cancelled()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var t1 = obj.TaskCreateExpr("throw new Exception()", retry: new RrqRetryPolicy { Delay = TimeSpan.FromMinutes(10) });
        var w = await q.WorkerAsync();
        await w.StepAsync();
        var t2 = Assert.Single(obj.TaskInfo(t1).Moved.Down);
        Assert.True(obj.TaskCancel(t2));
        var db = RedisServer.Instance.Connection.GetDatabase();
        Assert.Equal(0, await db.SortedSetLengthAsync($"{{{q.QueueId}}}:delayed:default"));
        Assert.Equal(RrqTaskStatus.Cancelled, obj.TaskStatus(t1));
    }

    [Fact]
    public async Task A_retried_task_whose_worker_is_sigkilled_dies_is_retried_and_completes()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        obj.WorkerConfigSave("hb", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromSeconds(1), PollQueue = TimeSpan.FromSeconds(1) });
        var w = await q.SpawnAsync(2, "hb");
        var marker = Counter();
        var t = obj.TaskCreateExpr("hang_first_time(marker)", new { marker }, retry: new RrqRetryPolicy { On = [RrqTaskStatus.Died] });
        await Poll.Until(async () => File.Exists(marker), 60);
        var busy = obj.TaskInfo(t).Worker!;
        var waiting = obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60));
        w.Kill(busy);
        Assert.True(await waiting);                                 // DIED, retried, COMPLETE: nobody called anything
        Assert.Equal("second time lucky", obj.TaskResult(t));
        Assert.Equal(RrqTaskStatus.Died, ((RrqTaskError)obj.TaskResult(t, follow: false)!).Status);
        var retried = Assert.Single(obj.TaskInfo(t).Moved.Down);
        Assert.NotEqual(busy, obj.TaskInfo(retried).Worker);
        Assert.Equal(RrqWorkerStatus.Lost, obj.WorkerStatus(busy));
        File.Delete(marker);
    }

    [Fact]
    public async Task Reading_a_chain_while_it_is_being_retried_never_reports_MOVED_as_its_outcome()
    {
        // Following a chain and reading the end's status must be one step: a worker retrying the end in
        // between would otherwise show the reader MOVED, and a wait would end early with false.
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("int.Parse(\"again\")", retry: new RrqRetryPolicy { MaxAttempts = 200 });
        var w = await q.WorkerAsync();
        var waiting = obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60));
        using var cts = new CancellationTokenSource();
        var loop = w.RunAsync(cts.Token);
        var seen = new HashSet<RrqTaskStatus>();
        var endedEarly = false;
        while (true)
        {
            var waitEnded = waiting.IsCompleted;
            var status = await obj.TaskStatusAsync([t]);
            endedEarly |= waitEnded && status[0] != RrqTaskStatus.Error;
            seen.Add(status[0]);
            var results = await obj.TaskStatusAsync([t, t, t]);
            seen.UnionWith(results);
            if (status[0] == RrqTaskStatus.Error)
            {
                break;
            }
        }
        cts.Cancel();
        await loop;
        Assert.DoesNotContain(RrqTaskStatus.Moved, seen);
        Assert.False(endedEarly, "the wait ended while the chain was still being retried");
        Assert.False(await waiting);                                   // it ended as ERROR, after all 200 attempts
        Assert.Equal(199, obj.TaskInfo(t).Moved.Down.Count);
        Assert.Contains("'again'", ((RrqTaskError)obj.TaskResult(t)!).Message);
    }

    [Fact]
    public async Task A_bad_policy_is_refused_at_the_call_naming_the_field()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        Assert.Equal("MaxAttempts", Assert.ThrowsAny<ArgumentException>(() => obj.TaskCreateExpr("1", retry: new RrqRetryPolicy { MaxAttempts = 0 })).ParamName);
        Assert.Equal("Backoff", Assert.ThrowsAny<ArgumentException>(() => obj.TaskCreateExpr("1", retry: new RrqRetryPolicy { Backoff = 0.5 })).ParamName);
        Assert.Equal("Delay", Assert.ThrowsAny<ArgumentException>(() => obj.TaskCreateExpr("1", retry: new RrqRetryPolicy { Delay = TimeSpan.FromSeconds(-1) })).ParamName);
        Assert.Equal("On", Assert.ThrowsAny<ArgumentException>(() => obj.TaskCreateExpr("1", retry: new RrqRetryPolicy { On = [RrqTaskStatus.Cancelled] })).ParamName);
        Assert.Empty(obj.TaskList());
    }
}
