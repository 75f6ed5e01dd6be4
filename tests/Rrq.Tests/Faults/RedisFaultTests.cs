using System.Diagnostics;
using Rrq.Tests.Support;
using Xunit.Abstractions;

namespace Rrq.Tests.Faults;

/// <summary>
/// Faults of Redis itself, injected for real into a private redis-server while two real worker processes
/// work through a stream of short tasks and the controller waits on them: a restart, a freeze (SIGSTOP),
/// dropped connections (CLIENT KILL) and a pause (CLIENT PAUSE). Each asserts that every task completes
/// with its value, that no worker process exits, that every worker is still on the queue, and that no task
/// ran twice (except where the fault loses writes Redis had acknowledged, and the docs say so).
/// </summary>
public class RedisFaultTests(ITestOutputHelper output)
{
    private const int Tasks = 600;

    /// <summary>A 1 s heartbeat: its key (3 s) expires during most of these faults, so the tests also show that
    /// workers coming back from an outage do not declare one another lost.</summary>
    private static readonly RrqWorkerConfig Config = new() { HeartbeatPeriod = TimeSpan.FromSeconds(1), PollQueue = TimeSpan.FromSeconds(1) };

    private async Task Survives(string fault, Action<PrivateRedis> inject, bool exactlyOnce = true)
    {
        using var redis = new PrivateRedis();
        var marks = Directory.CreateTempSubdirectory("rrq-marks-").FullName;
        await using var obj = await RrqController.ConnectAsync($"rrq-fault:{Guid.NewGuid():N}", redis.Address);
        obj.WorkerConfigSave("fault", Config);
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("runs.csx")]));
        var workers = await obj.WorkerSpawnAsync(2, "fault", TimeSpan.FromSeconds(60));
        try
        {
            var ids = await obj.TaskCreateBulkExprAsync("mark(dir, i, ms)", Enumerable.Range(0, Tasks).Select(i => (object)new { i }),
                shared: new { dir = marks, ms = 10 });
            var waiting = obj.TaskWaitAsync(ids, TimeSpan.FromSeconds(180), progress: false);
            await Poll.Until(() => Directory.GetFiles(marks).Length >= Tasks / 10, 60);

            var sw = Stopwatch.StartNew();
            await Task.Run(() => inject(redis));
            var faultLength = sw.Elapsed;
            var doneAtBack = Directory.GetFiles(marks).Length;
            sw.Restart();
            await Poll.Until(() => Directory.GetFiles(marks).Length > doneAtBack || doneAtBack == Tasks, 120);
            var toNext = sw.Elapsed;

            Assert.True(await waiting, "the controller's TaskWait, started before the fault, should see every task complete");
            var results = await obj.TaskResultsAsync(ids);
            Assert.Equal(Enumerable.Range(0, Tasks).Select(i => (object?)(i * 2)), results);
            Assert.All(workers.Ids, id => Assert.True(workers.IsAlive(id), $"worker {id} exited:\n{string.Join("\n", workers.Logs(id).TakeLast(30))}"));
            Assert.Equal(workers.Ids.Order(), (await obj.WorkerListAsync()).Order());
            var runs = Enumerable.Range(0, Tasks).Select(i => File.ReadAllText(Path.Combine(marks, i.ToString(System.Globalization.CultureInfo.InvariantCulture))).Length).ToArray();
            if (exactlyOnce)
            {
                Assert.All(runs, r => Assert.Equal(1, r));
            }
            else
            {
                Assert.All(runs, r => Assert.InRange(r, 1, 2));
            }
            Assert.Empty(await obj.QueueListAsync());
            output.WriteLine($"{fault}: lasted {faultLength.TotalSeconds:0.0} s; no worker exited; next task completed " +
                $"{toNext.TotalMilliseconds:0} ms after Redis was back; {runs.Count(r => r > 1)} tasks ran twice");
            foreach (var id in workers.Ids)
            {
                output.WriteLine($"--- {id}\n{string.Join("\n", workers.Logs(id).Where(l => l.Contains("Redis", StringComparison.Ordinal) || l.Contains("rejoin", StringComparison.Ordinal)))}");
            }
        }
        finally
        {
            workers.Kill();
            Directory.Delete(marks, recursive: true);
        }
    }

    [Fact]
    public Task Workers_ride_out_a_Redis_restart_with_SHUTDOWN() =>
        Survives("restart (SHUTDOWN, 3 s down)", r => r.Restart(TimeSpan.FromSeconds(3), kill: false));

    [Fact]
    public Task Workers_ride_out_a_Redis_crash_and_restart_and_tasks_whose_outcome_was_lost_run_again() =>
        Survives("restart (SIGKILL, 3 s down)", r => r.Restart(TimeSpan.FromSeconds(3), kill: true), exactlyOnce: false);

    [Fact]
    public Task Workers_ride_out_Redis_frozen_for_10_seconds() =>
        Survives("SIGSTOP 10 s", r => r.Freeze(TimeSpan.FromSeconds(10)));

    [Fact]
    public Task Workers_ride_out_their_connections_being_killed_five_times() =>
        Survives("CLIENT KILL TYPE normal x5", r =>
        {
            for (var i = 0; i < 5; i++)
            {
                r.Command("CLIENT", "KILL", "TYPE", "normal");
                Thread.Sleep(300);
            }
        });

    [Fact]
    public Task Workers_ride_out_their_subscriptions_being_killed_five_times() =>
        Survives("CLIENT KILL TYPE pubsub x5", r =>
        {
            for (var i = 0; i < 5; i++)
            {
                r.Command("CLIENT", "KILL", "TYPE", "pubsub");
                Thread.Sleep(300);
            }
        });

    [Fact]
    public Task Workers_ride_out_CLIENT_PAUSE_of_10_seconds() =>
        Survives("CLIENT PAUSE 10000 ALL", r =>
        {
            r.Command("CLIENT", "PAUSE", "10000", "ALL");
            Thread.Sleep(10_000);
        });
}
