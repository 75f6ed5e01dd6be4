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

            // The old master comes back empty (no persistence), a master until the Sentinels make it a replica. Rrq keeps
            // to the master the Sentinels name: no worker leaves or is declared lost, nothing is reported MISSING, and tasks
            // submitted meanwhile, and while the Sentinels turn the old master into a replica, run once each.
            set.StartEmpty(old);
            sw.Restart();
            // Calls that reach the old master before the client stops choosing it are refused there and sent again: no
            // task needs a retry (none has a policy), no worker is declared lost.
            var more = obj.TaskCreateBulkExpr("System.Threading.Thread.Sleep(100); i", Enumerable.Range(0, 150).Select(i => new { i }));
            if (!await obj.TaskWaitAsync(more, TimeSpan.FromMinutes(1)))
            {
                Assert.Fail(Counts(await obj.TaskStatusAsync(more)) + "\n" + await LogsAsync(obj, spawned.Ids));
            }
            Assert.Equal(Enumerable.Range(0, 150).Cast<object?>(), await obj.TaskResultsAsync(more));
            output.WriteLine($"150 more COMPLETE {sw.Elapsed.TotalSeconds:0.0} s after the old master came back empty; " +
                $"the old master took {SentinelSet.ScriptCalls(old)} script calls meanwhile, and became a replica: {SentinelSet.IsReplica(old)}");
            await Poll.Until(() => SentinelSet.IsReplica(old), 60);
            output.WriteLine($"the Sentinels made the old master a replica {sw.Elapsed.TotalSeconds:0.0} s after it came back");
            Assert.All(spawned.Ids, id => Assert.True(spawned.IsAlive(id), $"worker {id} exited"));
            await Poll.Until(async () => (await obj.WorkerListAsync()).Order(StringComparer.Ordinal).SequenceEqual(spawned.Ids.Order(StringComparer.Ordinal)), 30);
            Assert.DoesNotContain(RrqTaskStatus.Missing, await obj.TaskStatusAsync(ids));
            var rejoined = (await obj.WorkerLogTailAsync(spawned.Ids, 1000)).Where(e => e.Command == "REJOIN").ToList();
            Assert.True(rejoined.Count == 0, "declared lost and rejoined: " + string.Join(", ", rejoined.Select(e => e.WorkerId)));

        }
        finally
        {
            spawned.Kill();
        }
    }

    /// <summary>The last lines each worker process wrote, for a failure's message.</summary>
    private static async Task<string> LogsAsync(RrqController obj, IEnumerable<string> ids)
    {
        var text = new System.Text.StringBuilder();
        foreach (var id in ids)
        {
            var lines = await obj.WorkerProcessLogAsync(id);
            text.Append("--- ").AppendLine(id).AppendJoin('\n', lines.Where(l => !l.Contains(" COMPLETE in ", StringComparison.Ordinal)).TakeLast(40)).AppendLine();
            text.Append("status ").Append(await obj.WorkerStatusAsync(id)).Append(", tasks ").AppendJoin(' ', (await obj.WorkerTaskIdsAsync([id]))[id]).AppendLine()
                .AppendJoin('\n', (await obj.WorkerLogTailAsync([id], 8)).Select(e => $"{e.Time:HH:mm:ss.fff} {e.Command} {e.Message}")).AppendLine();
        }
        return text.ToString();
    }

    private static string Counts(IEnumerable<RrqTaskStatus> statuses) =>
        string.Join(", ", statuses.GroupBy(s => s).Select(g => $"{g.Key} {g.Count()}"));
}
