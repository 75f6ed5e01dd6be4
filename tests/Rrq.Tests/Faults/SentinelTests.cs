using System.Diagnostics;
using Rrq.Tests.Support;
using Xunit.Abstractions;

namespace Rrq.Tests.Faults;

/// <summary>Redis behind Sentinel, as operators run it: a master and a replica watched by three Sentinels on loopback,
/// Rrq connecting through the Sentinels.</summary>
public class SentinelTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Through_Sentinel_a_master_killed_under_load_and_back_empty_loses_no_task_and_keeps_every_worker()
    {
        using var set = new SentinelSet();
        var queueId = $"rrq-test:sentinel:{Guid.NewGuid():N}";
        await using var obj = await RrqController.ConnectAsync(queueId, set.ConnectionString);
        var spawned = await obj.WorkerSpawnAsync(2, timeout: TimeSpan.FromMinutes(2));
        try
        {
            // Under load, the master is SIGKILLed: the Sentinels promote the replica, and every task completes, once.
            var ids = obj.TaskCreateBulkExpr("System.Threading.Thread.Sleep(30); i", Enumerable.Range(0, 300).Select(i => new { i }));
            await Poll.Until(async () => (await obj.TaskStatusAsync(ids)).Count(s => s == RrqTaskStatus.Complete) >= 30, 60);
            var old = set.KillMaster();
            var sw = Stopwatch.StartNew();
            await Poll.Until(() => set.Master() is var m && m != 0 && m != old, 60);
            output.WriteLine($"the Sentinels promoted the replica {sw.Elapsed.TotalSeconds:0.0} s after the master was killed");
            Assert.True(await obj.TaskWaitAsync(ids, TimeSpan.FromMinutes(2)), Counts(await obj.TaskStatusAsync(ids)));
            Assert.Equal(Enumerable.Range(0, 300).Cast<object?>(), await obj.TaskResultsAsync(ids));
            output.WriteLine($"all 300 COMPLETE {sw.Elapsed.TotalSeconds:0.0} s after the kill");

            // The old master comes back empty (no persistence), a master until the Sentinels make it a replica. No worker
            // leaves, nothing is reported MISSING, and tasks submitted meanwhile run (a worker whose heartbeat went to the
            // old master may be declared lost meanwhile: their retry policy runs such a task again).
            set.StartEmpty(old);
            sw.Restart();
            var more = obj.TaskCreateBulkExpr("i", Enumerable.Range(0, 40).Select(i => new { i }), retry: new RrqRetryPolicy { MaxAttempts = 3 });
            Assert.True(await obj.TaskWaitAsync(more, TimeSpan.FromMinutes(1)), Counts(await obj.TaskStatusAsync(more)));
            Assert.Equal(Enumerable.Range(0, 40).Cast<object?>(), await obj.TaskResultsAsync(more));
            output.WriteLine($"40 more COMPLETE {sw.Elapsed.TotalSeconds:0.0} s after the old master came back empty");
            Assert.All(spawned.Ids, id => Assert.True(spawned.IsAlive(id), $"worker {id} exited"));
            await Poll.Until(async () => (await obj.WorkerListAsync()).Order(StringComparer.Ordinal).SequenceEqual(spawned.Ids.Order(StringComparer.Ordinal)), 30);
            Assert.DoesNotContain(RrqTaskStatus.Missing, await obj.TaskStatusAsync(ids));
        }
        finally
        {
            spawned.Kill();
        }
    }

    private static string Counts(IEnumerable<RrqTaskStatus> statuses) =>
        string.Join(", ", statuses.GroupBy(s => s).Select(g => $"{g.Key} {g.Count()}"));
}
