using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

/// <summary>Real rrq-worker processes, started by WorkerSpawn and killed by signal.</summary>
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
        Assert.Equal(["ALIVE", "QUEUE", "ENVIR", "TASK_START", "TASK_COMPLETE", "TASK_START", "TASK_ERROR"], commands);
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
        Assert.Equal("Task not successful: DIED", ((RrqTaskError)obj.TaskResult(t)!).Message);
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
    public async Task A_worker_that_dies_at_start_fails_the_spawn_with_its_log()
    {
        await using var q = await TestQueue.CreateAsync();
        // A live worker already holds this name, so the spawned one must refuse to start.
        var saved = Environment.GetEnvironmentVariable("RRQ_REDIS");
        var e = await Assert.ThrowsAsync<RrqException>(async () =>
        {
            // Two spawns would pick different names; start the clash by hand through the program.
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
            foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "rrq-worker.dll"), q.QueueId, "--redis", RedisServer.Instance.Address, "--config", "nope" })
            {
                psi.ArgumentList.Add(a);
            }
            using var p = Process.Start(psi)!;
            var err = await p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.Equal(1, p.ExitCode);
            throw new RrqException(err);
        });
        Assert.Contains("No worker configuration 'nope'", e.Message);
        Assert.Equal(saved, Environment.GetEnvironmentVariable("RRQ_REDIS"));
    }
}
