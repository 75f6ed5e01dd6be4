using Rrq.Controller;
using Rrq.Tests.Support;
using StackExchange.Redis;

namespace Rrq.Tests.Controller;

/// <summary>The feed behind TaskWait: notices are matched on the connection's reader, and a wait is woken only when it
/// has something to do. Published on a real channel of the test server.</summary>
public class CompletionWaiterTests
{
    private static async Task<(CompletionWaiter, CompletionWaiter.Registration, ISubscriber, RedisChannel)> StartAsync()
    {
        var channel = RedisChannel.Literal("rrq-test-notices-" + Guid.NewGuid().ToString("N"));
        var waiter = new CompletionWaiter(RedisServer.Instance.Connection, channel);
        var registration = await waiter.RegisterAsync();
        return (waiter, registration, RedisServer.Instance.Connection.GetSubscriber(), channel);
    }

    private static async Task<List<string>> TakeWhenWokenAsync(CompletionWaiter.Registration registration)
    {
        Assert.True(await registration.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None), "never woken");
        return registration.Take();
    }

    [Fact]
    [Trait(RedisServer.OnGarnet, "yes")]
    public async Task Notices_of_watched_ids_wake_the_wait_only_when_the_last_settles_and_others_are_dropped()
    {
        var (waiter, registration, sub, channel) = await StartAsync();
        using var _ = waiter;
        registration.Watch(["a", "b", "c"]);
        await sub.PublishAsync(channel, "a COMPLETE 1");
        await sub.PublishAsync(channel, "x COMPLETE");   // nobody watches x
        await sub.PublishAsync(channel, "b ERROR");
        Assert.False(await registration.WaitAsync(TimeSpan.FromMilliseconds(300), CancellationToken.None), "woken before the last settled");
        await sub.PublishAsync(channel, "c COMPLETE");
        // Handlers of a subscription run on the thread pool, so notices of different ids may be kept in any order (a
        // wait reads each id's own notice); CI saw b before a.
        Assert.Equal(["a COMPLETE", "b ERROR", "c COMPLETE"], (await TakeWhenWokenAsync(registration)).Order(StringComparer.Ordinal));
        Assert.True(waiter.TryTakeResult("a", out var value));   // the value a notice carried is kept for one read
        Assert.Equal("1"u8.ToArray(), value);
    }

    [Fact]
    [Trait(RedisServer.OnGarnet, "yes")]
    public async Task A_notice_that_needs_a_fresh_look_wakes_the_wait_at_once()
    {
        var (waiter, registration, sub, channel) = await StartAsync();
        using var _ = waiter;
        registration.Watch(["a", "b"]);
        await sub.PublishAsync(channel, "a MOVED");
        Assert.Equal(["a MOVED"], await TakeWhenWokenAsync(registration));
    }

    [Fact]
    [Trait(RedisServer.OnGarnet, "yes")]
    public async Task Notices_published_while_a_wait_reads_statuses_are_kept_for_the_ids_it_then_watches()
    {
        var (waiter, registration, sub, channel) = await StartAsync();
        using var _ = waiter;
        // Before Watch (the wait reads the statuses first), every notice is kept.
        await sub.PublishAsync(channel, "a COMPLETE");
        await sub.PublishAsync(channel, "z COMPLETE");
        await Poll.Until(() => registration.Offered == 2);
        registration.Watch(["a", "b"]);
        Assert.Equal(["a COMPLETE"], await TakeWhenWokenAsync(registration));

        // b was MOVED to b2; while the wait reads the chain, b2 finishes. KeepAll keeps its notice for the Watch after.
        await sub.PublishAsync(channel, "b MOVED");
        Assert.Equal(["b MOVED"], await TakeWhenWokenAsync(registration));
        registration.KeepAll();
        await sub.PublishAsync(channel, "b2 COMPLETE");
        await Poll.Until(() => registration.Offered == 4);
        registration.Watch(["b2"]);
        Assert.Equal(["b2 COMPLETE"], await TakeWhenWokenAsync(registration));

        // Without KeepAll, the notice of an id not watched yet is gone: that is what KeepAll is for.
        await sub.PublishAsync(channel, "c COMPLETE");
        await Poll.Until(() => registration.Offered == 5);
        registration.Watch(["c"]);
        Assert.False(await registration.WaitAsync(TimeSpan.FromMilliseconds(300), CancellationToken.None));
        Assert.Empty(registration.Take());
    }

    [Fact]
    public async Task A_restored_connection_tells_every_wait_to_look_again()
    {
        using var redis = new PrivateRedis();
        using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var channel = RedisChannel.Literal("rrq-test-notices");
        using var waiter = new CompletionWaiter(mux, channel);
        using var registration = await waiter.RegisterAsync();
        registration.Watch(["a"]);
        redis.Command("CLIENT", "KILL", "TYPE", "pubsub");   // a notice published now would be missed
        Assert.True(await registration.WaitAsync(TimeSpan.FromSeconds(15), CancellationToken.None), "never told to look again");
        Assert.Contains(CompletionWaiter.Recheck, registration.Take());
    }

    [Fact]
    public async Task A_wait_that_starts_while_Redis_is_down_does_not_fail_and_hears_notices_once_Redis_is_back()
    {
        using var redis = new PrivateRedis();
        using var mux = await ConnectionMultiplexer.ConnectAsync(redis.Address);
        var channel = RedisChannel.Literal("rrq-test-notices");
        using var waiter = new CompletionWaiter(mux, channel);
        redis.Kill();
        await Poll.Until(() => !mux.IsConnected, 15);
        using var registration = await waiter.RegisterAsync();   // the subscription fails: kept, sent on reconnect
        registration.Watch(["a"]);
        redis.Start();
        await Poll.Until(async () => await mux.GetSubscriber().PublishAsync(channel, "a COMPLETE") > 0, 30);
        var heard = new List<string>();   // the reconnect's "look again" may come first
        for (var i = 0; i < 10 && !heard.Contains("a COMPLETE"); i++)
        {
            await registration.WaitAsync(TimeSpan.FromSeconds(2), CancellationToken.None);
            heard.AddRange(registration.Take());
        }
        Assert.Contains("a COMPLETE", heard);
    }
}
