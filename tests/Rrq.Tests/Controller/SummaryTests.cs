using Rrq.Tests.Support;

namespace Rrq.Tests.Controller;

/// <summary>The operator's reads (<see cref="RrqController.Summary"/>, <see cref="RrqController.TaskPage"/>): counted from the
/// queue's indexes, they must agree with a scan of every task's status.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class SummaryTests
{
    [Fact]
    public async Task Counts_from_the_indexes_agree_with_a_scan_of_every_status_in_every_state_a_task_can_be_in()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var done = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 5).Select(i => new { i }));
        var failing = obj.TaskCreateExpr("int.Parse(\"x\")");
        foreach (var _ in Enumerable.Range(0, 6))
        {
            await w.StepAsync();
        }
        var retried = obj.TaskRetry(failing);                                    // failing: MOVED, retried: PENDING
        var blocked = obj.TaskCreateExpr("1", dependsOn: [retried]);              // DEFERRED
        var other = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 3).Select(i => new { i }), queue: "other");
        var cancelled = obj.TaskCreateExpr("2");
        obj.TaskCancel(cancelled);                                                // CANCELLED, its id left in the list
        var later = obj.TaskCreateExpr("3", delay: TimeSpan.FromHours(1));        // PENDING, in the delayed set
        var failedDep = obj.TaskCreateExpr("int.Parse(\"no\")", queue: "other");
        var doomed = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 4).Select(i => new { i }), dependsOn: [failedDep]);
        obj.WorkerConfigSave("other", new RrqWorkerConfig { Queues = ["other"] });
        var w2 = await RrqWorker.CreateAsync(obj, new Rrq.Scripting.RoslynTaskEvaluator(), config: "other");
        try
        {
            // The other queue's first three, then its failing task: its four dependents become IMPOSSIBLE.
            foreach (var _ in Enumerable.Range(0, 4))
            {
                await w2.StepAsync();
            }
            Assert.Equal(RrqTaskStatus.Impossible, obj.TaskStatus(doomed[0]));

            // One RUNNING: a task the worker is in the middle of.
            var slow = obj.TaskCreateExpr("System.Threading.Thread.Sleep(1500)");
            var step = Task.Run(async () =>
            {
                while ((await w.StepAsync()).TaskId is { } id && id != slow)
                {
                }
            });
            await Poll.Until(() => obj.TaskStatus(slow) == RrqTaskStatus.Running);

            var summary = await obj.SummaryAsync();
            var scan = await obj.TaskOverviewAsync();
            var c = summary.Counts;
            Assert.Equal(scan[RrqTaskStatus.Pending], c.Pending);
            Assert.Equal(scan[RrqTaskStatus.Deferred], c.Deferred);
            Assert.Equal(scan[RrqTaskStatus.Running], c.Running);
            Assert.Equal(scan[RrqTaskStatus.Complete], c.Complete);
            Assert.True(c.FailedSplitExact);
            foreach (var s in new[] { RrqTaskStatus.Error, RrqTaskStatus.Died, RrqTaskStatus.Timeout, RrqTaskStatus.Cancelled, RrqTaskStatus.Impossible })
            {
                Assert.Equal(scan[s], c.FailedByStatus[s]);
            }
            Assert.Equal(c.FailedByStatus.Values.Sum(), c.Failed);
            // A retry chain counts once: the MOVED task is not counted again.
            Assert.Equal(scan.Values.Sum() - scan[RrqTaskStatus.Moved], c.Total);
            Assert.Equal(1, scan[RrqTaskStatus.Moved]);
            // The worker ran the retry (it fails again) before the slow task: its dependent is IMPOSSIBLE too.
            Assert.Equal(RrqTaskStatus.Error, obj.TaskStatus(retried));
            Assert.Equal(doomed.Count + 1, c.FailedByStatus[RrqTaskStatus.Impossible]);

            Assert.Equal(["default", "other"], summary.Queues.Select(x => x.Name));
            var def = summary.Queues[0];
            Assert.Equal((obj.QueueLength(), 1L), (def.Pending, def.Delayed));
            Assert.Equal(c.Pending, summary.Queues.Sum(x => x.Pending + x.Delayed));

            var me = Assert.Single(summary.Workers, x => x.WorkerId == w.Id);
            Assert.Equal([slow], me.Tasks);
            Assert.Equal(RrqWorkerStatus.Busy, me.Status);
            Assert.Equal(1.0, me.Load);
            Assert.NotNull(me.Info);
            Assert.NotNull(me.LastHeartbeat);
            Assert.InRange(me.LastHeartbeat!.Value, TimeSpan.Zero, TimeSpan.FromSeconds(30));
            Assert.Equal("TASK_START", me.LastLog?.Command);

            // Newest failure first, with its expression and error: the retry and its dependent, then the failing task of
            // "other" and its four IMPOSSIBLE dependents.
            var failures = summary.RecentFailures;
            Assert.Equal(new[] { retried, blocked }.Order(StringComparer.Ordinal), failures.Take(2).Select(f => f.Id).Order(StringComparer.Ordinal));
            // The failing task of "other" ended in the same script as its dependents: the same time.
            Assert.Equal(doomed.Append(failedDep).Order(StringComparer.Ordinal), failures.Skip(2).Take(5).Select(f => f.Id).Order(StringComparer.Ordinal));
            Assert.Equal("int.Parse(\"x\")", failures.Single(x => x.Id == retried).Expression);
            var f = Assert.Single(failures, x => x.Id == failedDep);
            Assert.Equal(RrqTaskStatus.Error, f.Status);
            Assert.Equal("int.Parse(\"no\")", f.Expression);
            Assert.Contains("'no'", f.Error);
            Assert.Equal("other", f.Queue);
            Assert.Contains(failures, x => x.Id == cancelled && x.Status == RrqTaskStatus.Cancelled && x.Error!.Contains("CANCELLED"));
            Assert.DoesNotContain(failures, x => x.Id == failing);   // retried: its chain is listed by its newest task

            // Throughput: this minute has everything finished so far (the test takes seconds; allow the minute to turn).
            Assert.Equal(15, summary.Throughput.Count);
            Assert.Equal(c.Complete, summary.Throughput.Sum(p => p.Complete));
            Assert.Equal(c.Failed, summary.Throughput.Sum(p => p.Failed));
            Assert.True(summary.Throughput[^1].Minute <= summary.Time && summary.Time - summary.Throughput[^1].Minute < TimeSpan.FromMinutes(1));
            await step;
        }
        finally
        {
            await w2.DisposeAsync();
        }
    }

    [Fact]
    public async Task Pages_of_each_group_cover_every_task_once_in_order_across_queues_and_skip_ids_taken_out()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.WorkerAsync();
        var done = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 23).Select(i => new { i }));
        for (var i = 0; i < 23; i++)
        {
            await w.StepAsync();
        }
        var first = await obj.TaskPageAsync(RrqTaskGroup.Complete, 0, 10);
        Assert.Equal(23, first.Total);
        var all = new List<string>();
        for (long at = 0; at < 23; at += 10)
        {
            all.AddRange((await obj.TaskPageAsync(RrqTaskGroup.Complete, at, 10)).Tasks.Select(t => t.Id));
        }
        Assert.Equal(done.Reverse(), all);   // newest first
        Assert.All(first.Tasks, t => Assert.True(t.Status == RrqTaskStatus.Complete && t.Worker == w.Id && t.Complete is not null));
        Assert.Empty((await obj.TaskPageAsync(RrqTaskGroup.Complete, 23, 10)).Tasks);

        // Pending: "default" then "other" (by name), the page crossing from one to the next; a cancelled id is left out.
        var a = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 6).Select(i => new { i }));
        var b = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 4).Select(i => new { i }), queue: "other");
        obj.TaskCancel(a[2]);
        var pending = new List<string>();
        long total = 0;
        for (long at = 0; at < 10; at += 4)
        {
            var page = await obj.TaskPageAsync(RrqTaskGroup.Pending, at, 4);
            total = page.Total;
            pending.AddRange(page.Tasks.Select(t => t.Id));
        }
        Assert.Equal(9, total);
        Assert.Equal(obj.QueueList().Concat(obj.QueueList("other")), pending);
        Assert.Equal(a.Where(x => x != a[2]).Concat(b).Order(StringComparer.Ordinal), pending.Order(StringComparer.Ordinal));

        // Deferred: paged through its hash, each once.
        var gate = obj.TaskCreateExpr("0", queue: "held");
        var waiting = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 30).Select(i => new { i }), dependsOn: [gate]);
        var deferred = new List<string>();
        for (long at = 0; at < 30; at += 7)
        {
            var page = await obj.TaskPageAsync(RrqTaskGroup.Deferred, at, 7);
            Assert.Equal(30, page.Total);
            deferred.AddRange(page.Tasks.Select(t => t.Id));
        }
        Assert.Equal(waiting.Order(StringComparer.Ordinal), deferred.Order(StringComparer.Ordinal));
        Assert.All((await obj.TaskPageAsync(RrqTaskGroup.Deferred, 0, 30)).Tasks, t => Assert.Equal(RrqTaskStatus.Deferred, t.Status));

        // Failed: the cancelled one, newest first.
        var failed = await obj.TaskPageAsync(RrqTaskGroup.Failed);
        Assert.Equal(a[2], Assert.Single(failed.Tasks).Id);
        Assert.Equal(0, (await obj.TaskPageAsync(RrqTaskGroup.Running)).Total);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => obj.TaskPageAsync(RrqTaskGroup.Failed, 0, 0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => obj.TaskPageAsync(RrqTaskGroup.Failed, -1));
    }
}
