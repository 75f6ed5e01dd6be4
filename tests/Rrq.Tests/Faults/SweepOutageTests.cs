using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using Rrq.Scripts;
using Rrq.Tests.Support;
using Rrq.Workers;

namespace Rrq.Tests.Faults;

/// <summary>
/// A lost-worker sweep and an outage of Redis. A sweep that started before the outage and carried on through it would,
/// once Redis is back, find the heartbeat keys of its peers expired in the outage before they had beaten again, and
/// declare live workers lost (their tasks DIED): the Redis crash test failed so in CI, now and then.
/// </summary>
public class SweepOutageTests
{
    [Fact]
    public async Task An_outage_that_starts_during_a_sweep_stops_it_and_the_next_sweep_waits_for_two_steady_windows()
    {
        using var redis = new PrivateRedis();
        await using var obj = await RrqController.ConnectAsync($"rrq-test:sweep-outage:{Guid.NewGuid():N}", redis.Address);
        var period = TimeSpan.FromSeconds(10);
        var name = "sweeper-" + Guid.NewGuid().ToString("N")[..6];
        var beats = 0;
        using var listening = ScriptHeaders.Listen((script, _, args) =>
        {
            if (script == RrqScripts.WorkerBeat && (string?)args[0] == name)
            {
                Interlocked.Increment(ref beats);
            }
        });
        var sweeps = new ConcurrentQueue<(CancellationToken Token, int Beats)>();
        var clock = new FakeTimeProvider();
        // The sweep stands for one that is slow, or waits on Redis: it runs until it is stopped.
        using var heartbeat = new Heartbeat(obj.Queue, name, period, async ct =>
        {
            sweeps.Enqueue((ct, Volatile.Read(ref beats)));
            await Task.Delay(Timeout.Infinite, ct);
        }, _ => { }, clock);
        heartbeat.Start();
        // The clock moves 200 ms at a time until a sweep has started: after an expiry window (3 periods) of steady beats.
        await Poll.Until(() =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(200));
            return !sweeps.IsEmpty;
        });
        var (first, _) = sweeps.Single();
        Assert.False(first.IsCancellationRequested);

        // Redis goes away, and a call of the worker's (here the controller's, which shares its retry layer) finds it
        // unable to serve: the sweep is stopped there, before Redis is back, and the beats are no longer steady.
        redis.Kill();
        var reading = obj.QueueLengthAsync();
        await Poll.Until(() => first.IsCancellationRequested, 30);
        Assert.False(heartbeat.Steady);
        redis.Start();
        await reading;

        // Back: the next sweep waits for two whole windows of beats after the outage (six periods), not one.
        var beatsBack = Volatile.Read(ref beats);
        await Poll.Until(() =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(200));
            return sweeps.Count == 2;
        }, 60);
        var second = sweeps.Last();
        Assert.False(second.Token.IsCancellationRequested);
        Assert.InRange(second.Beats - beatsBack, 6, 7);   // 7: a beat that landed as the clock moved on
    }
}
