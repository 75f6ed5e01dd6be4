using System.Diagnostics;
using Rrq.Tests.Support;
using StackExchange.Redis;
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

    private async Task Survives(string fault, Action<PrivateRedis> inject, bool exactlyOnce = true, int concurrency = 1)
    {
        using var redis = new PrivateRedis();
        await Survives(fault, redis.Address, _ => inject(redis), exactlyOnce, concurrency);
    }

    /// <param name="inject">Injects the fault, given the queue id; returns when Redis is back.</param>
    /// <param name="concurrency">Slots per worker (RrqWorkerConfig.Concurrency).</param>
    private async Task Survives(string fault, string address, Action<string> inject, bool exactlyOnce = true, int concurrency = 1)
    {
        var marks = Directory.CreateTempSubdirectory("rrq-marks-").FullName;
        await using var obj = await RrqController.ConnectAsync($"rrq-fault:{Guid.NewGuid():N}", address);
        obj.WorkerConfigSave("fault", Config with { Concurrency = concurrency });
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("runs.csx")]));
        var workers = await obj.WorkerSpawnAsync(2, "fault", TimeSpan.FromSeconds(60));
        try
        {
            var ids = await obj.TaskCreateBulkExprAsync("mark(dir, i, ms)", Enumerable.Range(0, Tasks).Select(i => (object)new { i }),
                shared: new { dir = marks, ms = 10 });
            var waiting = obj.TaskWaitAsync(ids, TimeSpan.FromSeconds(180), progress: false);
            await Poll.Until(() => Directory.GetFiles(marks).Length >= Tasks / 10, 60);

            // The controller keeps reading while the fault lasts, as a dashboard or a polling app would: every
            // call must ride it out.
            using var faultOver = new CancellationTokenSource();
            var reads = 0;
            var reading = Task.Run(async () =>
            {
                while (!faultOver.IsCancellationRequested)
                {
                    await obj.TaskStatusAsync(ids);
                    await obj.QueueLengthAsync();
                    reads++;
                    await Task.Delay(50);   // the pace of a user's reads during the fault
                }
            });
            var sw = Stopwatch.StartNew();
            await Task.Run(() => inject(obj.QueueId));
            var faultLength = sw.Elapsed;
            await faultOver.CancelAsync();
            await reading;
            var doneAtBack = Directory.GetFiles(marks).Length;
            sw.Restart();
            await Poll.Until(() => Directory.GetFiles(marks).Length > doneAtBack || doneAtBack == Tasks, 120);
            var toNext = sw.Elapsed;

            if (!await waiting)
            {
                // Say what went wrong: which tasks did not complete, why, and what the workers printed.
                var statuses = await obj.TaskStatusAsync(ids);
                var notDone = ids.Zip(statuses).Where(x => x.Second != RrqTaskStatus.Complete).Take(5).ToList();
                string Reason(string id)
                {
                    try
                    {
                        return (obj.TaskResult(id) as RrqTaskError)?.Message ?? "";
                    }
                    catch (RrqException e)
                    {
                        return e.Message;
                    }
                }
                var why = string.Join("\n", notDone.Select(x => $"{x.First}: {x.Second} {Reason(x.First)}"));
                // Each worker's own story of the fault (its lines about Redis, its heartbeat, sweeps, rejoining), not the
                // hundreds of task lines around it.
                var logs = string.Join("\n", workers.Ids.Select(id => $"--- {id}\n{string.Join("\n",
                    workers.Logs(id).Where(l => !l.Contains("] task ", StringComparison.Ordinal)).TakeLast(40))}"));
                Assert.Fail($"the controller's TaskWait, started before the fault, should see every task complete; {notDone.Count} did not:\n{why}\n{logs}");
            }
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
                $"{toNext.TotalMilliseconds:0} ms after Redis was back; {runs.Count(r => r > 1)} tasks ran twice; " +
                $"{reads} rounds of controller reads during the fault, none failed");
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
    public Task Workers_of_four_slots_ride_out_a_Redis_crash_and_restart_and_tasks_whose_outcome_was_lost_run_again() =>
        Survives("restart (SIGKILL, 3 s down), 4 slots per worker", r => r.Restart(TimeSpan.FromSeconds(3), kill: true), exactlyOnce: false,
            concurrency: 4);

    [Fact]
    public Task Workers_of_four_slots_ride_out_their_connections_being_killed_five_times() =>
        Survives("CLIENT KILL TYPE normal x5, 4 slots per worker", r => KillClients(r, "normal"), concurrency: 4);

    [Fact]
    public Task Workers_ride_out_Redis_frozen_for_10_seconds() =>
        Survives("SIGSTOP 10 s", r => r.Freeze(TimeSpan.FromSeconds(10)));

    /// <summary>Five CLIENT KILLs of one type, 300 ms apart.</summary>
    private static void KillClients(PrivateRedis redis, string type)
    {
        for (var i = 0; i < 5; i++)
        {
            redis.Command("CLIENT", "KILL", "TYPE", type);
            Thread.Sleep(300);   // the fault's schedule: connections cut five times, 300 ms apart
        }
    }

    [Fact]
    public Task Workers_ride_out_their_connections_being_killed_five_times() =>
        Survives("CLIENT KILL TYPE normal x5", r => KillClients(r, "normal"));

    [Fact]
    public Task Workers_ride_out_their_subscriptions_being_killed_five_times() =>
        Survives("CLIENT KILL TYPE pubsub x5", r => KillClients(r, "pubsub"));

    [Fact]
    public async Task Workers_and_the_controller_ride_out_the_queues_slot_moving_to_another_primary_of_a_cluster()
    {
        using var cluster = new RedisCluster();
        var moved = 0;
        await Survives("slot migration on a 3-primary cluster", cluster.Address, queueId =>
        {
            var slot = cluster.SlotOf(queueId);
            var from = cluster.OwnerOf(slot);
            var (to, _) = cluster.MigrateSlot(slot);
            Assert.Equal(to, cluster.OwnerOf(slot));
            Assert.NotEqual(from, to);
            moved++;
        });
        Assert.Equal(1, moved);
    }

    [Fact]
    public async Task On_a_cluster_every_channel_is_sharded_to_the_node_of_the_queues_slot()
    {
        using var cluster = new RedisCluster();
        await using var obj = await RrqController.ConnectAsync($"rrq-shard:{Guid.NewGuid():N}", cluster.Address);
        Assert.True(obj.Keys.ShardedChannels);
        var workers = await obj.WorkerSpawnAsync(1, timeout: TimeSpan.FromSeconds(60));
        try
        {
            var t = await obj.TaskCreateExprAsync("6 * 7");
            Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30)));
            Assert.Equal(42, await obj.TaskResultAsync(t));
            var owner = cluster.OwnerOf(cluster.SlotOf(obj.QueueId));
            using var node = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{owner},allowAdmin=true");
            var server = node.GetServer($"127.0.0.1:{owner}");
            long Subscribers(string command, RedisChannel channel) =>
                (long)((RedisResult[])server.Execute("PUBSUB", command, channel.ToString())!)[1];
            Assert.Equal(1, Subscribers("SHARDNUMSUB", obj.Keys.TaskCompleteChannel));   // the controller's waiter
            Assert.Equal(1, Subscribers("SHARDNUMSUB", obj.Keys.WorkerChannel(workers.Ids[0])));
            Assert.Equal(1, Subscribers("SHARDNUMSUB", obj.Keys.QueueChannel("default")));
            Assert.Equal(0, Subscribers("NUMSUB", obj.Keys.TaskCompleteChannel));
            Assert.Equal("PONG", (await obj.MessageSendAndWaitAsync("PING", timeout: TimeSpan.FromSeconds(10)))[workers.Ids[0]].Result);
        }
        finally
        {
            await obj.WorkerStopAsync(timeout: TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public Task Workers_ride_out_CLIENT_PAUSE_of_10_seconds() =>
        Survives("CLIENT PAUSE 10000 ALL", r =>
        {
            r.Command("CLIENT", "PAUSE", "10000", "ALL");
            Thread.Sleep(10_000);   // the fault lasts as long as the pause
        });

    [Fact]
    public async Task A_storm_of_worker_kills_with_automatic_retry_ends_every_task_complete_and_leaves_workers_running()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var marks = Directory.CreateTempSubdirectory("rrq-marks-").FullName;
        obj.WorkerConfigSave("fault", Config);
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("runs.csx")]));
        var workers = await q.SpawnAsync(3, "fault");
        const int n = 150;
        var ids = await obj.TaskCreateBulkExprAsync("mark(dir, i, ms)", Enumerable.Range(0, n).Select(i => (object)new { i }),
            shared: new { dir = marks, ms = 150 }, retry: new RrqRetryPolicy { MaxAttempts = 6, On = [RrqTaskStatus.Died] });
        await Poll.Until(() => Directory.GetFiles(marks).Length >= 6, 60);   // every worker has its environment loaded
        var kills = 0;
        var killed = new HashSet<int>();   // a worker killed earlier stays on record, and in the spawn, until it is replaced
        for (var k = 0; k < 10 && kills < 4; k++)
        {
            await Task.Delay(1000);   // the storm's schedule: a kill a second
            // A busy worker that is still running (one killed earlier stays on record, busy, until it is found lost).
            var busy = (await obj.WorkerTaskIdAsync()).FirstOrDefault(p => p.Value is not null && workers.Pids.ContainsKey(p.Key)).Key;
            if (busy is not null && workers.Pids.TryGetValue(busy, out var pid) && killed.Add(pid))
            {
                try
                {
                    using var p = Process.GetProcessById(pid);
                    p.Kill();   // from outside: the spawn replaces it, the heartbeat's expiry makes its task DIED and retried
                    kills++;
                }
                catch (ArgumentException)
                {
                    // It exited by itself meanwhile: not a kill.
                }
            }
        }
        Assert.True(kills >= 3, $"only {kills} workers were busy when the storm struck: " +
            string.Join(", ", (await obj.WorkerTaskIdAsync()).Select(p => $"{p.Key}: {p.Value}")) + "; " +
            string.Join(", ", (await obj.TaskStatusAsync(ids)).GroupBy(s => s).Select(g => $"{g.Key} {g.Count()}")) + "\n" +
            string.Join("\n", workers.Logs(workers.Ids[0]).TakeLast(20)));
        Assert.True(await obj.TaskWaitAsync(ids, TimeSpan.FromSeconds(120)));
        Assert.Equal(Enumerable.Range(0, n).Select(i => (object?)(i * 2)), await obj.TaskResultsAsync(ids));
        var runs = Enumerable.Range(0, n).Select(i => File.ReadAllText(Path.Combine(marks, i.ToString(System.Globalization.CultureInfo.InvariantCulture))).Length).ToArray();
        Assert.True(runs.Count(r => r > 1) <= kills, $"{runs.Count(r => r > 1)} tasks ran more than once after {kills} kills");
        Assert.Equal(kills, workers.Restarts);
        Assert.All(workers.Ids, id => Assert.True(workers.IsAlive(id), $"worker {id} is not running"));
        Assert.Equal(3, (await obj.WorkerListAsync()).Count);
        output.WriteLine($"kill storm: {kills} workers killed from outside, {workers.Restarts} replaced, {runs.Count(r => r > 1)} tasks ran twice, all {n} complete");
        Directory.Delete(marks, recursive: true);
    }

    [Fact]
    public async Task A_separate_process_task_runs_on_through_an_outage_and_its_result_is_recorded_when_Redis_is_back()
    {
        using var redis = new PrivateRedis();
        await using var obj = await RrqController.ConnectAsync($"rrq-fault:{Guid.NewGuid():N}", redis.Address);
        obj.WorkerConfigSave("fault", Config);
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var workers = await obj.WorkerSpawnAsync(1, "fault", TimeSpan.FromSeconds(60));
        try
        {
            var t = obj.TaskCreateExpr("slow(3000)", separateProcess: true);
            await Poll.Until(async () => (await obj.TaskInfoAsync(t)).Pid is not null, 60);
            var child = obj.TaskInfo(t).Pid!.Value;
            await Task.Run(() => redis.Freeze(TimeSpan.FromSeconds(6)));   // the child finishes while Redis is frozen
            Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));
            Assert.Equal("done", obj.TaskResult(t));
            Assert.True(workers.IsAlive(workers.Id));
            Assert.Equal(child, obj.TaskInfo(t).Pid);
            Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(workers.Id));
        }
        finally
        {
            workers.Kill();
        }
    }
}
