using Rrq.Tests.Support;
using StackExchange.Redis;

namespace Rrq.Tests.Faults;

/// <summary>A worker that finds its queue gone from the server it reached leaves only when the queue was destroyed: one
/// server's empty answer (a restart without persistence, an old master back empty during a failover) is no reason to.</summary>
public class EmptyServerTests
{
    [Fact]
    public async Task A_worker_whose_Redis_comes_back_empty_waits_rejoins_the_queue_made_again_and_leaves_only_when_it_is_destroyed()
    {
        using var redis = new PrivateRedis();
        var queueId = $"rrq-test:empty:{Guid.NewGuid():N}";
        var obj = await RrqController.ConnectAsync(queueId, redis.Address);
        using var worker = new HandWorker((redis.Address, queueId), "--name", "steady");
        worker.WaitFor("worker steady on queue");
        var t = obj.TaskCreateExpr("6 * 7");
        Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));

        redis.RestartEmpty();
        Assert.Contains($"queue {queueId} has no data on Redis at {redis.Address}, and was not destroyed", worker.WaitFor("has no data"));
        Assert.False(worker.Process.HasExited);

        // A controller connects again (as an app restarting would): the queue is made anew, and the worker joins it.
        await obj.DisposeAsync();
        obj = await RrqController.ConnectAsync(queueId, redis.Address);
        worker.WaitFor("rejoined");
        Assert.Equal(["steady"], obj.WorkerList());
        var again = obj.TaskCreateExpr("6 * 7");
        Assert.True(await obj.TaskWaitAsync(again, TimeSpan.FromSeconds(60)));
        Assert.Equal("steady", obj.TaskInfo(again).Worker);

        // Destroyed on purpose (its workers not asked to stop first): the worker finds the mark and leaves.
        await obj.DestroyAsync(workerStop: null);
        worker.WaitFor("no longer registered");
        Assert.Equal(0, worker.Exit(30));
    }

    [Fact]
    public async Task A_controller_never_reports_tasks_MISSING_nor_submits_on_a_server_that_has_none_of_the_queue()
    {
        using var redis = new PrivateRedis();
        var queueId = $"rrq-test:empty:{Guid.NewGuid():N}";
        await using var obj = await RrqController.ConnectAsync(queueId, redis.Address);
        obj.OutageBudget = TimeSpan.FromSeconds(2);
        var t = obj.TaskCreateExpr("1");
        redis.RestartEmpty();

        // A read that would say MISSING, and a submission, wait for the queue through the outage budget, then say why.
        var e = await Assert.ThrowsAsync<RrqConnectionException>(() => obj.TaskStatusAsync(t));
        Assert.Contains($"queue '{queueId}' is not on the server answering", e.Message);
        e = await Assert.ThrowsAsync<RrqConnectionException>(() => obj.TaskCreateExprAsync("2"));
        Assert.Contains("this server has none of the queue", e.Message);
        var server = redis.Command("KEYS", "*");
        Assert.Empty((RedisResult[])server!);   // nothing was written there

        // Once the queue is on the server again (a controller made it anew), what is not there is MISSING.
        await using (var again = await RrqController.ConnectAsync(queueId, redis.Address))
        {
            Assert.Equal(RrqTaskStatus.Missing, await obj.TaskStatusAsync(t));
            var u = await obj.TaskCreateExprAsync("3");
            Assert.Equal(RrqTaskStatus.Pending, await again.TaskStatusAsync(u));

            // A destroyed queue says so at once: its tasks are MISSING, without waiting.
            await again.DestroyAsync(workerStop: null);
        }
        obj.OutageBudget = TimeSpan.FromMinutes(1);
        Assert.Equal(RrqTaskStatus.Missing, await obj.TaskStatusAsync(t).WaitAsync(TimeSpan.FromSeconds(10)));
    }
}
