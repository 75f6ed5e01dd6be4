using Rrq.Tests.Support;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Rrq.Tests.Faults;

/// <summary>What asynchronous replication means for a queue, on a master, a replica and three Sentinels: durable
/// submissions, a task running as its master dies, and an address that is a replica.</summary>
public class ReplicationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Durable_submissions_return_once_a_replica_holds_them_and_say_how_many_did_when_none_can()
    {
        using var set = new SentinelSet();
        await using var obj = await RrqController.ConnectAsync($"rrq-test:durable:{Guid.NewGuid():N}", set.ConnectionString);
        Assert.Throws<ArgumentOutOfRangeException>(() => obj.Durability = new RrqDurability(0, TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => obj.Durability = new RrqDurability(1, TimeSpan.FromMinutes(1)));
        obj.Durability = new RrqDurability();

        // With the replica up, the call returns once the replica holds the tasks: read there, they are PENDING.
        var ids = await obj.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 20).Select(i => new { i }));
        var one = await obj.TaskCreateExprAsync("1");
        using (var replica = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{set.Replica()}"))
        {
            var statuses = await replica.GetDatabase().HashGetAsync($"{{{obj.QueueId}}}:task:status", [.. ids.Append(one).Select(i => (RedisValue)i)]);
            Assert.All(statuses, s => Assert.Equal("PENDING", (string?)s));
        }

        // With it down, the call says how many replicas confirmed, and the task is there on the master all the same.
        set.KillReplica();
        var e = await Assert.ThrowsAsync<RrqDurabilityException>(() => obj.TaskCreateExprAsync("2"));
        output.WriteLine(e.Message);
        Assert.Equal(1, e.Required);
        Assert.Equal(0, e.Acknowledged);
        Assert.Contains("only 0 of the 1 replica(s)", e.Message, StringComparison.Ordinal);
        var id = Assert.Single(e.TaskIds);
        Assert.Contains(id, e.Message, StringComparison.Ordinal);
        Assert.Equal(RrqTaskStatus.Pending, await obj.TaskStatusAsync(id));

        // Without Durability, a submission returns once the master has it.
        obj.Durability = null;
        Assert.Equal(RrqTaskStatus.Pending, await obj.TaskStatusAsync(await obj.TaskCreateExprAsync("3")));
    }

    [Fact]
    public async Task A_master_killed_while_a_worker_holds_a_task_leaves_no_task_RUNNING()
    {
        using var set = new SentinelSet();
        await using var obj = await RrqController.ConnectAsync($"rrq-test:holding:{Guid.NewGuid():N}", set.ConnectionString);
        obj.Durability = new RrqDurability();   // the tasks are on the replica before the master dies
        var spawned = await obj.WorkerSpawnAsync(1, timeout: TimeSpan.FromMinutes(2));
        try
        {
            var plain = await obj.TaskCreateExprAsync("System.Threading.Thread.Sleep(4000); 1");
            var retried = await obj.TaskCreateExprAsync("System.Threading.Thread.Sleep(4000); 2", retry: new RrqRetryPolicy { MaxAttempts = 3 });
            await Poll.Until(async () => await obj.TaskStatusAsync(plain) == RrqTaskStatus.Running, 60);
            set.KillMaster();

            // Each ends: recorded COMPLETE by the worker on the promoted replica, or (had the worker's record been lost)
            // DIED, or retried by its policy. None stays RUNNING with nobody running it.
            await obj.TaskWaitAsync([plain, retried], TimeSpan.FromMinutes(2));
            var ends = await obj.TaskStatusAsync([plain, retried], follow: true);
            output.WriteLine(string.Join(", ", ends));
            Assert.All(ends, s => Assert.True(s.IsTerminal(), $"a task is {s}"));
            Assert.True(spawned.IsAlive(spawned.Ids[0]), "the worker left");
        }
        finally
        {
            spawned.Kill();
        }
    }

    [Fact]
    public async Task A_controller_or_worker_pointed_at_a_replica_says_so_at_once_naming_its_master()
    {
        using var set = new SentinelSet();
        var queueId = $"rrq-test:replica:{Guid.NewGuid():N}";
        await using (var made = await RrqController.ConnectAsync(queueId, set.ConnectionString))
        {
            made.Durability = new RrqDurability();
            await made.TaskCreateExprAsync("1");   // the queue, on the replica too
        }
        var (master, replica) = (set.Master(), set.Replica());
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<RrqConnectionException>(() => RrqController.ConnectAsync(queueId, $"127.0.0.1:{replica}"));
        output.WriteLine(e.Message);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), $"took {sw.Elapsed}");
        Assert.Contains($"is a read-only replica of 127.0.0.1:{master}", e.Message, StringComparison.Ordinal);
        Assert.Contains("serviceName=", e.Message, StringComparison.Ordinal);

        // A worker started there exits with the same words; through the Sentinels (given as a redis+sentinel:// URL),
        // rrq-worker reads the queue.
        var (code, _, err) = await RrqWorkerCli.RunAsync(queueId, "--redis", $"127.0.0.1:{replica}");
        Assert.Equal(1, code);
        Assert.Contains($"is a read-only replica of 127.0.0.1:{master}", err, StringComparison.Ordinal);
        var url = "redis+sentinel://" + set.ConnectionString.Split(",serviceName=")[0] + "/" + SentinelSet.Service;
        (code, var text, err) = await RrqWorkerCli.RunAsync("info", queueId, "--redis", url);
        Assert.True(code == 0, err);
        Assert.Contains(queueId, text, StringComparison.Ordinal);

        // A replica whose master is down may be promoted: that one is waited for, and used once it is the master.
        set.KillMaster();
        sw.Restart();
        await using var promoted = await RrqController.ConnectAsync(queueId, $"127.0.0.1:{replica}");
        var id = await promoted.TaskCreateExprAsync("2");
        output.WriteLine($"connected to the replica, then submitted, {sw.Elapsed.TotalSeconds:0.0} s after its master was killed");
        await Poll.Until(() => set.Master() == replica, 30);   // every Sentinel knows it too, soon after the one that promoted it
        Assert.Equal(RrqTaskStatus.Pending, await promoted.TaskStatusAsync(id));
    }
}
