using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

/// <summary>Workers through a real single-node Slurm (test.sh starts it with tests/slurm/slurm.sh and sets SLURM_CONF).</summary>
public class SlurmTests
{
    private static void RequireSlurm() => Assert.True(
        Environment.GetEnvironmentVariable("SLURM_CONF") is { Length: > 0 } conf && File.Exists(conf),
        "Slurm is not running for the tests: ./test.sh starts a single-node Slurm (tests/slurm/slurm.sh start) and sets SLURM_CONF.");

    private static string LogDir() => Directory.CreateTempSubdirectory("rrq-slurm-workers-").FullName;

    [Fact]
    public async Task Two_workers_as_a_Slurm_job_array_run_tasks_one_killed_by_scancel_loses_its_task_the_other_stops_by_message()
    {
        RequireSlurm();
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("slurm", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromSeconds(1) });
        var launcher = new RrqSlurmLauncher { Partition = "debug", TimeLimit = TimeSpan.FromMinutes(10), CpusPerWorker = 1, Memory = "1G" };
        var spawned = await obj.WorkerSpawnAsync(2, "slurm", TimeSpan.FromMinutes(2), LogDir(), launcher);
        try
        {
            // Each worker is one task of one job array, and says so in its info.
            Assert.Empty(spawned.Pids);
            var jobs = spawned.Jobs;
            Assert.Equal(2, jobs.Count);
            var arrayJob = jobs[spawned.Ids[0]].Split('_')[0];
            Assert.Equal([$"{arrayJob}_1", $"{arrayJob}_2"], spawned.Ids.Select(i => jobs[i]));
            var infos = obj.WorkerInfo(spawned.Ids);
            Assert.All(spawned.Ids, i => Assert.Equal(jobs[i], infos[i].SlurmJob));
            var (code, json, err) = await RrqWorkerCli.RunAsync("info", q.QueueId, "--redis", RedisServer.Instance.Address, "--json");
            Assert.True(code == 0, err);
            using (var doc = System.Text.Json.JsonDocument.Parse(json))
            {
                Assert.Equal(spawned.Ids.Select(i => jobs[i]).Order(StringComparer.Ordinal),
                    doc.RootElement.GetProperty("workers").EnumerateArray().Select(w => w.GetProperty("slurmJob").GetString()).Order(StringComparer.Ordinal));
            }

            var t = obj.TaskCreateExpr("6 * 7");
            Assert.True(obj.TaskWait(t, TimeSpan.FromSeconds(60)));
            Assert.Equal(42, obj.TaskResult(t));
            var child = obj.TaskCreateExpr("Environment.ProcessId", separateProcess: true);
            Assert.True(obj.TaskWait(child, TimeSpan.FromSeconds(60)));
            Assert.DoesNotContain((int)obj.TaskResult(child)!, infos.Values.Select(i => i.Pid));
            // The job's environment carried the connection; the workers' command lines did not.
            Assert.All(spawned.Ids, i => Assert.Contains($"worker {i} on queue", string.Join("\n", obj.WorkerProcessLog(i))));
            var script = Directory.GetFiles(Path.GetDirectoryName(spawned.LogFiles[spawned.Id])!, "*.sbatch").Single();
            Assert.DoesNotContain(RedisServer.Instance.Address, File.ReadAllText(script));

            // scancel (SIGKILL to the job) in the middle of a task: the heartbeat expires, the worker is LOST, the task DIED.
            var slow = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)");
            await Poll.Until(() => obj.TaskStatus(slow) == RrqTaskStatus.Running, 60);
            var victim = obj.TaskInfo(slow).Worker!;
            var other = spawned.Ids.Single(i => i != victim);
            spawned.Kill(victim);
            Assert.False(spawned.IsAlive(victim));
            await Poll.Until(() => obj.TaskStatus(slow) == RrqTaskStatus.Died, 60);
            Assert.Equal(RrqWorkerStatus.Lost, obj.WorkerStatus(victim));

            // The other leaves when asked, and its job ends.
            obj.WorkerStop([other]);
            await Poll.Until(() => !spawned.IsAlive(other), 60);
            Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(other));
        }
        finally
        {
            spawned.Kill();
        }
    }

    [Fact]
    public async Task Scancel_of_a_Slurm_worker_mid_task_lets_it_finish_and_record_its_task_and_the_job_completes()
    {
        // What the job's time limit or an operator's `scancel JOB` does: SIGTERM to the job's processes, SIGKILL KillWait
        // later (2 s on the test cluster).
        RequireSlurm();
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var launcher = new RrqSlurmLauncher { Partition = "debug", TimeLimit = TimeSpan.FromMinutes(10), CpusPerWorker = 1, Memory = "1G" };
        var spawned = await obj.WorkerSpawnAsync(1, "localhost", TimeSpan.FromMinutes(2), LogDir(), launcher);
        try
        {
            using var gate = new Gate();
            var t = obj.TaskCreateExpr(Gate.Wait + " 42", gate.Locals);
            await Poll.Until(() => obj.TaskStatus(t) == RrqTaskStatus.Running, 60);
            using (var scancel = Process.Start("scancel", [spawned.Jobs[spawned.Id]])!)
            {
                await scancel.WaitForExitAsync();
                Assert.Equal(0, scancel.ExitCode);
            }
            await Poll.Until(() => obj.WorkerProcessLog(spawned.Id).Any(l => l.Contains("SIGTERM: finishing", StringComparison.Ordinal)), 30);
            gate.Open();
            Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30)));
            Assert.Equal(42, obj.TaskResult(t));
            await Poll.Until(() => obj.WorkerStatus(spawned.Id) == RrqWorkerStatus.Exited, 30);
            Assert.Contains(obj.WorkerLogTail(spawned.Id, 0), l => l.Command == "STOP" && l.Message == "OK (INTERRUPTED)");
            await Poll.Until(() => !spawned.IsAlive(spawned.Id), 30);   // its job has ended
        }
        finally
        {
            spawned.Kill();
        }
    }

    [Fact]
    public async Task A_Slurm_worker_connected_through_Sentinel_runs_tasks_before_and_after_a_failover()
    {
        RequireSlurm();
        using var set = new SentinelSet();
        await using var obj = await RrqController.ConnectAsync($"rrq-test:slurm-sentinel:{Guid.NewGuid():N}", set.ConnectionString);
        var spawned = await obj.WorkerSpawnAsync(1, timeout: TimeSpan.FromMinutes(2), logDir: LogDir(), launcher: new RrqSlurmLauncher());
        try
        {
            Assert.NotNull(obj.WorkerInfo(spawned.Ids)[spawned.Id].SlurmJob);
            var before = await obj.TaskCreateExprAsync("1 + 1");
            Assert.True(await obj.TaskWaitAsync(before, TimeSpan.FromSeconds(60)));
            var old = set.KillMaster();
            await Poll.Until(() => set.Master() is var m && m != 0 && m != old, 60);
            var after = await obj.TaskCreateExprAsync("2 + 2");
            Assert.True(await obj.TaskWaitAsync(after, TimeSpan.FromSeconds(60)), $"{await obj.TaskStatusAsync(after)}");
            Assert.Equal(4, await obj.TaskResultAsync(after));
            Assert.True(spawned.IsAlive(spawned.Id), "the Slurm worker left");
        }
        finally
        {
            spawned.Kill();
        }
    }

    [Fact]
    public async Task WorkerStop_with_Kill_cancels_a_Slurm_worker_through_scancel_and_its_task_DIED()
    {
        RequireSlurm();
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var spawned = await obj.WorkerSpawnAsync(1, timeout: TimeSpan.FromMinutes(2), logDir: LogDir(), launcher: new RrqSlurmLauncher());
        try
        {
            var slow = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)");
            await Poll.Until(() => obj.TaskStatus(slow) == RrqTaskStatus.Running, 60);
            obj.WorkerStop([spawned.Id], RrqWorkerStopType.Kill);
            Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(slow));
            await Poll.Until(() => !spawned.IsAlive(spawned.Id), 30);
            Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(spawned.Id));
        }
        finally
        {
            spawned.Kill();
        }
    }

    [Fact]
    public async Task A_Slurm_worker_that_stops_to_be_recycled_starts_again_in_its_job_under_the_same_id()
    {
        RequireSlurm();
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("two", new RrqWorkerConfig { RecycleAfterTasks = 2 });
        var spawned = await obj.WorkerSpawnAsync(1, "two", TimeSpan.FromMinutes(2), LogDir(), new RrqSlurmLauncher());
        try
        {
            var tasks = Enumerable.Range(0, 5).Select(_ => obj.TaskCreateExpr("Environment.ProcessId")).ToArray();
            Assert.True(await obj.TaskWaitAsync(tasks, TimeSpan.FromSeconds(120)));
            var pids = obj.TaskResults(tasks).Cast<int>().ToArray();
            Assert.Equal([pids[0], pids[0], pids[2], pids[2], pids[4]], pids);   // two tasks per process
            Assert.Equal(3, pids.Distinct().Count());
            Assert.Equal([spawned.Id], obj.WorkerList());
            Assert.True(spawned.IsAlive(spawned.Id));                          // the same job all along
            Assert.Equal(spawned.Jobs[spawned.Id], obj.WorkerInfo([spawned.Id])[spawned.Id].SlurmJob);
            Assert.Equal(2, obj.WorkerLogTail(spawned.Id, 0).Count(l => l is { Command: "STOP", Message: "OK (RECYCLE: ran 2 tasks)" }));
        }
        finally
        {
            spawned.Kill();
        }
    }

    [Fact]
    public async Task A_job_Slurm_refuses_or_holds_is_reported_with_Slurms_reason_and_nothing_is_left_running()
    {
        RequireSlurm();
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        // More memory than the node has: sbatch refuses the job.
        var refused = await Assert.ThrowsAsync<RrqException>(() =>
            obj.WorkerSpawnAsync(1, logDir: LogDir(), launcher: new RrqSlurmLauncher { Memory = "100000G" }));
        Assert.Contains($"Slurm refused the job of 1 worker for queue '{q.QueueId}'", refused.Message);
        Assert.Contains("Requested node configuration is not available", refused.Message);
        Assert.Empty(obj.WorkerList());

        // A job that waits (here: not before an hour from now): the spawn's wait says why, then cancels it.
        var sw = Stopwatch.StartNew();
        var held = await Assert.ThrowsAsync<RrqException>(() => obj.WorkerSpawnAsync(1, timeout: TimeSpan.FromSeconds(5), logDir: LogDir(),
            launcher: new RrqSlurmLauncher { ExtraArguments = ["--begin=now+3600"] }));
        Assert.Contains("not ready in time", held.Message);
        Assert.Matches(@"Slurm job \d+_1: PENDING \(reason: BeginTime\)", held.Message);
        Assert.InRange(sw.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        var job = System.Text.RegularExpressions.Regex.Match(held.Message, @"Slurm job (\d+_1)").Groups[1].Value;
        await Poll.Until(() => RrqSlurmLauncher.State(job).State is null or "CANCELLED", 30);

        // A job cancelled before its worker came (scancel by someone else): the wait stops at once and says so.
        var waiting = await obj.WorkerSpawnAsync(1, timeout: TimeSpan.Zero, logDir: LogDir(),
            launcher: new RrqSlurmLauncher { ExtraArguments = ["--begin=now+3600"] });
        var cancel = Process.Start("scancel", waiting.Jobs[waiting.Id])!;
        await cancel.WaitForExitAsync();
        sw.Restart();
        var gone = await Assert.ThrowsAsync<RrqException>(() => waiting.WaitAliveAsync(TimeSpan.FromMinutes(2)));
        Assert.Contains("Worker died", gone.Message);
        Assert.Contains($"Slurm job {waiting.Jobs[waiting.Id]}: CANCELLED", gone.Message);
        Assert.InRange(sw.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
    }
}
