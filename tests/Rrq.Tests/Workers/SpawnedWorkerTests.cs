using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

/// <summary>Real rrq-worker processes, started by WorkerSpawn and killed by signal.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class SpawnedWorkerTests
{
    [Fact]
    public async Task A_spawned_worker_process_runs_tasks_in_the_queue_environment_and_logs_its_output()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var w = await q.SpawnAsync();
        Assert.Matches("^[a-z]+_[a-z]+_1$", w.Id);
        Assert.True(w.IsAlive(w.Id));
        Assert.Equal([w.Id], obj.WorkerList());
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(w.Id));
        var info = obj.WorkerInfo()[w.Id];
        Assert.Equal(w.Pids[w.Id], info.Pid);
        Assert.Equal(Environment.MachineName, info.Hostname);

        var t = obj.TaskCreateExpr("fit_model(new[] { 1.0, 2.0, 3.0 }, new[] { 2.0, 4.0, 6.0 })");
        Assert.True(obj.TaskWait(t, TimeSpan.FromSeconds(60)));
        Assert.Equal(2.0, Convert.ToDouble(((RrqValueSnapshot)obj.TaskResult(t)!)["Slope"], System.Globalization.CultureInfo.InvariantCulture));

        var e = obj.TaskCreateExpr("fit_model(new[] { 1.0 }, null)");
        Assert.False(obj.TaskWait(e, TimeSpan.FromSeconds(60)));
        Assert.Equal("fit_model(double[], double[]) at fault.csx:6", ((RrqTaskError)obj.TaskResult(e)!).From);

        var commands = obj.WorkerLogTail(w.Id, 0).Select(l => l.Command).ToArray();
        Assert.Equal(["HEARTBEAT", "ALIVE", "QUEUE", "ENVIR", "TASK_START", "TASK_COMPLETE", "TASK_START", "TASK_ERROR"], commands);
        await Poll.Until(() => obj.WorkerProcessLog(w.Id).Any(l => l.Contains($"task {e} ERROR", StringComparison.Ordinal)));
        Assert.Equal(w.LogFiles[w.Id], (string?)await RedisServer.Instance.Connection.GetDatabase().HashGetAsync($"{{{q.QueueId}}}:worker:process", w.Id));
    }

    [Fact]
    public async Task A_graceful_stop_exits_the_process_and_marks_the_worker_exited()
    {
        await using var q = await TestQueue.CreateAsync();
        var w = await q.SpawnAsync();
        q.Controller.WorkerStop([w.Id], timeout: TimeSpan.FromSeconds(30));
        Assert.Equal(RrqWorkerStatus.Exited, q.Controller.WorkerStatus(w.Id));
        Assert.Empty(q.Controller.WorkerList());
        await Poll.Until(() => !w.IsAlive(w.Id));
    }

    [Fact]
    public async Task Stopping_by_kill_ends_the_process_now_its_task_dies_and_the_worker_is_exited_not_lost()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.SpawnAsync();
        var t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)");
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running, 60);
        Assert.Equal(RrqWorkerStatus.Busy, obj.WorkerStatus(w.Id));

        var waiting = obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30));
        obj.WorkerStop([w.Id], RrqWorkerStopType.Kill);
        Assert.False(w.IsAlive(w.Id));
        Assert.False(await waiting);
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(w.Id));
        Assert.Equal($"Task not successful: DIED (its worker {w.Id} left while the task was running (STOP KILLED))",
            ((RrqTaskError)obj.TaskResult(t)!).Message);
    }

    [Fact]
    public async Task A_sigkilled_worker_leaves_its_task_running_as_in_rrq_until_lost_worker_detection()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var w = await q.SpawnAsync();
        var t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)");
        await Poll.Until(async () => await obj.TaskStatusAsync(t) == RrqTaskStatus.Running, 60);
        w.Kill(w.Id);
        Assert.False(w.IsAlive(w.Id));
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(w.Pids[w.Id]));
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(t));
        Assert.Equal(RrqWorkerStatus.Busy, obj.WorkerStatus(w.Id));
    }

    [Fact]
    public async Task Spawning_with_an_unknown_config_is_refused_before_starting_anything()
    {
        await using var q = await TestQueue.CreateAsync();
        var e = Assert.Throws<RrqException>(() => q.Controller.WorkerSpawn(1, "missing"));
        Assert.Contains("No worker configuration 'missing'", e.Message);
        Assert.Empty(q.Controller.WorkerList());
    }

    [Fact]
    public async Task A_worker_that_dies_at_start_fails_the_spawn_fast_with_its_log()
    {
        await using var q = await TestQueue.CreateAsync();
        // A controller whose workers are told a Redis address where nothing listens: they cannot start.
        var nowhere = $"127.0.0.1:{Rrq.Embedded.LoopbackPort.Free()}";
        await using var obj = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Connection, nowhere);
        var sw = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<RrqException>(() => obj.WorkerSpawnAsync(2, timeout: TimeSpan.FromSeconds(60)));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"took {sw.Elapsed}");
        Assert.Contains("workers died", e.Message);
        Assert.Contains($"Could not connect to Redis at {nowhere}", e.Message);
        Assert.Empty(obj.WorkerList());
    }

    [Fact]
    public async Task A_spawned_workers_process_log_goes_with_the_worker_when_it_is_deleted_or_its_queue_destroyed()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        var spawned = await q.SpawnAsync(2);
        var (first, second) = (spawned.Ids[0], spawned.Ids[1]);
        var logs = (spawned.LogFiles[first], spawned.LogFiles[second]);
        Assert.True(File.Exists(logs.Item1));
        await obj.WorkerStopAsync([first], timeout: TimeSpan.FromSeconds(30));
        Assert.Equal([first], await obj.WorkerDeleteExitedAsync());
        Assert.False(File.Exists(logs.Item1));
        Assert.True(File.Exists(logs.Item2));

        await using var other = await RrqController.ConnectAsync(q.QueueId, RedisServer.Instance.Address);
        await other.DestroyAsync(timeoutWorkerStop: TimeSpan.FromSeconds(30));
        Assert.False(File.Exists(logs.Item2));
        Assert.False(Directory.Exists(Path.GetDirectoryName(logs.Item2)));
    }

    [Fact]
    public async Task Rrq_worker_exits_1_naming_an_unknown_config_and_2_on_bad_arguments()
    {
        await using var q = await TestQueue.CreateAsync();
        var (code, err) = await RunWorker(q.QueueId, "--redis", RedisServer.Instance.Address, "--config", "nope");
        Assert.Equal(1, code);
        Assert.Contains("No worker configuration 'nope'", err);
        (code, err) = await RunWorker(q.QueueId, "--frobnicate");
        Assert.Equal(2, code);
        Assert.Contains("Unrecognized command or argument '--frobnicate'", err);
        Assert.Contains("See `rrq-worker --help`", err);
        (code, err) = await RunWorker();
        Assert.Equal(2, code);
        Assert.Contains("Required argument missing", err);
        (code, err) = await RunWorker("bad queue id", "--redis", RedisServer.Instance.Address);
        Assert.Equal(1, code);
        Assert.Contains("Invalid queue id 'bad queue id'", err);
    }

    [Fact]
    public async Task Rrq_worker_takes_no_command_or_near_miss_of_one_for_a_queue_id_and_warns_of_a_password_on_its_command_line()
    {
        // A command it does not have (yet), followed by a queue id: not a worker of a queue called "version".
        var (code, err) = await RunWorker("version", "rrq:x");
        Assert.Equal(2, code);
        Assert.Contains("'version' is not a command of this rrq-worker (its commands: run, info, dashboard, acl)", err);
        Assert.Contains("`rrq-worker -- version`", err);
        // A typo of a command gets a suggestion.
        (code, err) = await RunWorker("rnu", "script.csx");
        Assert.Equal(2, code);
        Assert.Contains("'rnu' is not a command; did you mean `rrq-worker run`?", err);
        // A misspelt option too.
        (code, err) = await RunWorker("rrq:x", "--confg", "short");
        Assert.Equal(2, code);
        Assert.Contains("'--confg': did you mean --config?", err);
        // Help lists the commands and options.
        var help = await RunWorker("--help");
        Assert.Equal(0, help.Item1);

        // A password on the command line works, with a warning; from a file it does not show in ps.
        await using var q = await TestQueue.CreateAsync();
        var nowhere = $"127.0.0.1:{Rrq.Embedded.LoopbackPort.Free()}";
        (code, err) = await RunWorker(q.QueueId, "--redis", nowhere + ",password=hunter2");
        Assert.Equal(1, code);
        Assert.Contains("warning: the password given with --redis can be read by every user of this machine", err);
        Assert.DoesNotContain("hunter2", err);
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, nowhere + ",password=hunter2\n");
            (code, err) = await RunWorker(q.QueueId, "--redis-file", file);
            Assert.Equal(1, code);
            Assert.DoesNotContain("warning", err);
            Assert.Contains($"Could not connect to Redis at {nowhere}", err);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<(int, string)> RunWorker(params string[] args)
    {
        var (code, _, err) = await RrqWorkerCli.RunAsync(args);
        return (code, err);
    }
}
