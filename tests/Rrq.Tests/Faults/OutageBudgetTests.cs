using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Faults;

/// <summary>The controller's side of a Redis outage: calls ride out one shorter than the outage budget, and
/// fail with an <see cref="RrqConnectionException"/> naming it once it has lasted longer.</summary>
public class OutageBudgetTests
{
    [Fact]
    public async Task A_submission_made_while_Redis_restarts_waits_for_it_and_is_stored_once()
    {
        using var redis = new PrivateRedis();
        await using var obj = await RrqController.ConnectAsync($"rrq-outage:{Guid.NewGuid():N}", redis.Address);
        var restart = Task.Run(() => redis.Restart(TimeSpan.FromSeconds(2), kill: false));
        await Poll.Until(() => !redis.Answers());   // down: the submission is made during the outage
        var t = await obj.TaskCreateExprAsync("1 + 1");
        await restart;
        Assert.Equal(RrqTaskStatus.Pending, await obj.TaskStatusAsync(t));
        Assert.Equal([t], await obj.TaskListAsync());
        Assert.Equal([t], await obj.QueueListAsync());
    }

    [Fact]
    public async Task A_call_during_an_outage_longer_than_the_budget_fails_naming_the_address_and_the_outage()
    {
        using var redis = new PrivateRedis();
        await using var obj = await RrqController.ConnectAsync($"rrq-outage:{Guid.NewGuid():N}", redis.Address);
        var t = await obj.TaskCreateExprAsync("1 + 1");
        obj.OutageBudget = TimeSpan.FromSeconds(2);
        var frozen = Task.Run(() => redis.Freeze(TimeSpan.FromSeconds(12)));
        await Poll.Until(() => !redis.Answers());
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<RrqConnectionException>(() => obj.TaskStatusAsync(t));
        Assert.InRange(sw.Elapsed.TotalSeconds, 1.5, 9);   // the budget, plus at most one call's own 5 s timeout and a backoff
        Assert.Contains(redis.Address, e.Message, StringComparison.Ordinal);
        Assert.Contains("has not answered", e.Message, StringComparison.Ordinal);
        Assert.Contains("outage budget of 2 s", e.Message, StringComparison.Ordinal);
        Assert.Equal(redis.Address, e.Address);
        await frozen;
        Assert.Equal(RrqTaskStatus.Pending, await obj.TaskStatusAsync(t));   // and it works again once Redis is back
    }

    [Fact]
    public async Task An_outage_budget_that_is_not_positive_is_refused()
    {
        await using var q = await TestQueue.CreateAsync();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => q.Controller.OutageBudget = TimeSpan.Zero);
        Assert.Contains("OutageBudget must be positive", e.Message, StringComparison.Ordinal);
        q.Controller.OutageBudget = Timeout.InfiniteTimeSpan;
        Assert.Equal(Timeout.InfiniteTimeSpan, q.Controller.OutageBudget);
    }
}
