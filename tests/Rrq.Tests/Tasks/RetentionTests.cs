using Rrq.Tests.Support;
using StackExchange.Redis;

namespace Rrq.Tests.Tasks;

/// <summary>Retention of finished tasks, and the sliced walk that fails a failed task's dependents.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class RetentionTests
{
    private static IDatabase Db => RedisServer.Instance.Connection.GetDatabase();

    /// <summary>A worker without a heartbeat, so that it never sweeps: these tests count what their own sweeps expire.</summary>
    private static async Task<RrqWorker> QuietWorkerAsync(TestQueue q)
    {
        await q.Controller.WorkerConfigSaveAsync("quiet", new RrqWorkerConfig { HeartbeatPeriod = null });
        return await q.WorkerAsync(config: "quiet");
    }

    [Fact]
    public async Task Retention_is_off_by_default_and_takes_positive_durations_or_null()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        Assert.Equal(RrqRetention.KeepAll, obj.RetentionGet());
        obj.RetentionSet(TimeSpan.FromHours(1), TimeSpan.FromDays(7));
        Assert.Equal(new RrqRetention(TimeSpan.FromHours(1), TimeSpan.FromDays(7)), obj.RetentionGet());
        obj.RetentionSet(null, TimeSpan.FromMinutes(5));
        Assert.Equal(new RrqRetention(null, TimeSpan.FromMinutes(5)), obj.RetentionGet());
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => obj.RetentionSet(TimeSpan.Zero, null));
        Assert.Contains("must be positive, or null", e.Message);
        Assert.Equal(new RrqRetention(null, TimeSpan.FromMinutes(5)), obj.RetentionGet());   // unchanged by the refusal

        var t = obj.TaskCreateExpr("1");
        await (await QuietWorkerAsync(q)).StepAsync();
        Assert.Equal(0, obj.RetentionSweep());   // COMPLETE is kept for ever, and this failed-only setting leaves it
        Assert.Equal(RrqTaskStatus.Complete, obj.TaskStatus(t));
    }

    [Fact]
    public async Task A_sweep_expires_whole_finished_chains_with_their_values_and_logs_and_leaves_unfinished_ones()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await QuietWorkerAsync(q);
        var ok = obj.TaskCreateExpr("1");
        var bad = obj.TaskCreateExpr("int.Parse(\"x\")");
        var retried = obj.TaskCreateExpr("int.Parse(\"y\")");
        var stillRetrying = obj.TaskCreateExpr("int.Parse(\"z\")");
        for (var i = 0; i < 4; i++)
        {
            await w.StepAsync();
        }
        var second = obj.TaskRetry(retried);
        await w.StepAsync();                               // fails again: the chain retried → second is finished
        var pending = obj.TaskRetry(stillRetrying);        // that chain's newest task is PENDING: it stays
        var waiting = obj.TaskCreateExpr("2", dependsOn: [pending]);

        obj.RetentionSet(TimeSpan.FromMilliseconds(300), TimeSpan.FromMilliseconds(300));
        await Task.Delay(400);   // retention reads the Redis server's clock, which a test cannot move
        Assert.Equal(4, obj.RetentionSweep());             // ok, bad, retried → second
        Assert.All(obj.TaskStatus([ok, bad, retried, second], follow: false), st => Assert.Equal(RrqTaskStatus.Missing, st));
        Assert.Equal([RrqTaskStatus.Moved, RrqTaskStatus.Pending, RrqTaskStatus.Deferred],
            obj.TaskStatus([stillRetrying, pending, waiting], follow: false));
        foreach (var id in new[] { ok, bad, retried, second })
        {
            Assert.False(await Db.HashExistsAsync(obj.Keys.TaskResult, id));
            Assert.False(await Db.HashExistsAsync(obj.Keys.TaskTimeComplete, id));
        }
        Assert.Equal(0, obj.RetentionSweep());             // nothing more is due

        // The chain left alone finishes later (failing again, so its dependent is IMPOSSIBLE), and goes a period after that.
        await w.StepAsync();
        Assert.Equal([RrqTaskStatus.Error, RrqTaskStatus.Impossible], obj.TaskStatus([pending, waiting]));
        await Task.Delay(400);   // retention reads the Redis server's clock, which a test cannot move
        Assert.Equal(3, obj.RetentionSweep());             // stillRetrying → pending, and waiting
        Assert.Equal(0, await Db.SortedSetLengthAsync(obj.Keys.DoneComplete));
        Assert.Equal(0, await Db.SortedSetLengthAsync(obj.Keys.DoneFailed));
    }

    [Fact]
    public async Task Complete_and_failed_tasks_have_their_own_periods()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await QuietWorkerAsync(q);
        var ok = obj.TaskCreateExpr("1");
        var bad = obj.TaskCreateExpr("int.Parse(\"x\")");
        await w.StepAsync();
        await w.StepAsync();
        obj.RetentionSet(TimeSpan.FromMilliseconds(200), TimeSpan.FromHours(1));
        await Task.Delay(300);   // retention reads the Redis server's clock, which a test cannot move
        Assert.Equal(1, obj.RetentionSweep());
        Assert.Equal([RrqTaskStatus.Missing, RrqTaskStatus.Error], obj.TaskStatus([ok, bad]));
    }

    [Fact]
    public async Task An_expired_dependency_counts_as_what_it_was_until_its_tombstone_goes()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await QuietWorkerAsync(q);
        var ok = obj.TaskCreateExpr("1");
        var bad = obj.TaskCreateExpr("int.Parse(\"x\")");
        var slow = obj.TaskCreateExpr("3");
        var both = obj.TaskCreateExpr("4", dependsOn: [ok, slow]);   // waits for slow; ok will expire meanwhile
        await w.StepAsync();
        await w.StepAsync();
        // Tombstones last as long as the retention: 3 s, so that the steps below (two tasks, on a loaded CI machine more
        // than a second) end before the tombstones go (with 1 s, CI once saw 'ok' unknown by the time it was depended on).
        obj.RetentionSet(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(3));
        await Task.Delay(3100);   // retention reads the Redis server's clock, which a test cannot move
        Assert.Equal(2, obj.RetentionSweep());
        Assert.Equal(RrqTaskStatus.Missing, obj.TaskStatus(ok));
        var gone = Assert.Throws<RrqException>(() => obj.TaskResult(bad));
        Assert.Contains("expired by the queue's retention (it had ended ERROR", gone.Message);

        // A task still waiting on an expired dependency runs when its other one completes.
        await w.StepAsync();                                            // slow
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(both));
        await w.StepAsync();
        Assert.Equal(4, obj.TaskResult(both));

        // Submitted after the expiry: the COMPLETE one counts as complete, the failed one as failed.
        var afterOk = obj.TaskCreateExpr("5", dependsOn: [ok]);
        var afterBad = obj.TaskCreateExpr("6", dependsOn: [bad]);
        Assert.Equal([RrqTaskStatus.Pending, RrqTaskStatus.Impossible], obj.TaskStatus([afterOk, afterBad]));

        // The tombstones go after as long again: then the ids are unknown, and the error says so.
        await Task.Delay(3100);   // retention reads the Redis server's clock, which a test cannot move
        obj.RetentionSweep();   // (which expires the tasks above that finished over a second ago, too)
        Assert.False(await Db.HashExistsAsync(obj.Keys.Expired, ok));
        Assert.False(await Db.HashExistsAsync(obj.Keys.Expired, bad));
        var e = Assert.Throws<RrqException>(() => obj.TaskCreateExpr("7", dependsOn: [ok]));
        Assert.Contains(ok, e.Message);
    }

    [Fact]
    public async Task A_worker_with_a_heartbeat_expires_what_is_due_and_trims_its_log()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        await obj.WorkerConfigSaveAsync("hb", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromMilliseconds(300) });
        var w = await q.WorkerAsync(config: "hb");
        var ids = Enumerable.Range(0, 5).Select(i => obj.TaskCreateExpr("i", new { i })).ToArray();
        for (var i = 0; i < ids.Length; i++)
        {
            await w.StepAsync();
        }
        Assert.Equal(5, obj.WorkerLogTail(w.Id, 0).Count(l => l.Command == "TASK_COMPLETE"));
        obj.RetentionSet(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        await Poll.Until(() => obj.TaskStatus(ids).All(st => st == RrqTaskStatus.Missing));
        // The same sweep drops the log lines of those tasks (older than the period), just after deleting them.
        await Poll.Until(() => !obj.WorkerLogTail(w.Id, 0).Any(l => l.Command is "TASK_START" or "TASK_COMPLETE"));
        var fresh = obj.TaskCreateExpr("6");
        await w.StepAsync();
        Assert.Contains(obj.WorkerLogTail(w.Id, 0), l => l.Command == "TASK_COMPLETE" && l.Message == fresh);   // newer lines stay
    }

    [Fact]
    public async Task Thousands_of_dependents_of_a_cancelled_task_become_impossible_across_several_scripts_and_waiters_hear_it()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var parent = obj.TaskCreateExpr("1");
        var children = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 1500).Select(i => (object)new { i }), dependsOn: [parent]);
        var grandchild = obj.TaskCreateExpr("2", dependsOn: [children[^1]]);
        var waiting = obj.TaskWaitAsync([children[0], children[^1], grandchild], TimeSpan.FromSeconds(30));
        await Poll.Until(() => obj.WaitsListening > 0);
        Assert.True(obj.TaskCancel(parent));
        Assert.All(obj.TaskStatus([.. children, grandchild]), st => Assert.Equal(RrqTaskStatus.Impossible, st));
        Assert.Equal(0, await Db.ListLengthAsync(obj.Keys.Fanout));
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.False(await waiting);
        Assert.True(sw.Elapsed < RrqController.WaitSafetyPoll, "the waiter heard the notices rather than polling");
        Assert.Equal(1502, await Db.SortedSetLengthAsync(obj.Keys.DoneFailed));   // the children, the grandchild and the parent
    }

    [Fact]
    public async Task A_fan_out_left_half_done_by_a_process_that_died_is_finished_by_a_sweeping_worker()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var parent = obj.TaskCreateExpr("1");
        var children = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 1000).Select(i => (object)new { i }), dependsOn: [parent]);
        // The cancel script alone, as if its caller died before carrying the walk on.
        await obj.Queue.TaskCancelAsync(parent, "default", "cancel", CancellationToken.None);
        var statuses = obj.TaskStatus(children);
        Assert.Contains(RrqTaskStatus.Impossible, statuses);
        Assert.Contains(RrqTaskStatus.Deferred, statuses);      // not all in one script
        Assert.Equal(1, await Db.ListLengthAsync(obj.Keys.Fanout));

        await obj.WorkerConfigSaveAsync("hb", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromMilliseconds(300) });
        await using var w = await q.WorkerAsync(config: "hb");
        await Poll.Until(() => obj.TaskStatus(children).All(st => st == RrqTaskStatus.Impossible));
        Assert.Equal(0, await Db.ListLengthAsync(obj.Keys.Fanout));
    }

    [Fact]
    public async Task A_retry_during_a_half_done_fan_out_re_arms_every_dependent_and_the_rest_of_the_walk_fails_none()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var parent = obj.TaskCreateExpr("1");
        var children = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 1000).Select(i => (object)new { i }), dependsOn: [parent]);
        // The parent is cancelled by the script alone (its walk left half done), then retried.
        await obj.Queue.TaskCancelAsync(parent, "default", "cancel", CancellationToken.None);
        Assert.Contains(RrqTaskStatus.Deferred, obj.TaskStatus(children));
        var again = obj.TaskRetry(parent);
        Assert.All(obj.TaskStatus(children), st => Assert.Equal(RrqTaskStatus.Deferred, st));
        await obj.Queue.WalksDrainAsync(CancellationToken.None);
        Assert.All(obj.TaskStatus(children), st => Assert.Equal(RrqTaskStatus.Deferred, st));
        Assert.Equal(0, await Db.ListLengthAsync(obj.Keys.Fanout));
        Assert.Equal(RrqTaskStatus.Moved, obj.TaskStatus(parent, follow: false));
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(again));
    }

    [Fact]
    public async Task Deleting_a_queued_task_with_thousands_of_dependents_fails_them_all_and_leaves_no_links()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var parent = obj.TaskCreateExpr("1");
        var children = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 1200).Select(i => (object)new { i }), dependsOn: [parent]);
        obj.TaskDelete(parent);
        Assert.All(obj.TaskStatus(children), st => Assert.Equal(RrqTaskStatus.Impossible, st));
        Assert.Equal(0, await Db.SortedSetLengthAsync(obj.Keys.TaskDependsDown));
        obj.TaskDelete(children);
        Assert.Equal(0, await Db.SortedSetLengthAsync(obj.Keys.DoneFailed));
    }
}
