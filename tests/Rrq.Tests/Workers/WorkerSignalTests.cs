using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

/// <summary>An rrq-worker process started by hand, as a scheduler or a service manager runs one, stopped by signals:
/// what SIGTERM, SIGINT, a second signal and the end of a grace period (SIGKILL) do to it and to its task.</summary>
public class WorkerSignalTests
{
    /// <summary>Starts a worker by hand and a task of its that waits for <paramref name="gate"/>, and returns once the worker
    /// has started it.</summary>
    private static async Task<(HandWorker Worker, string Task)> RunningAsync(TestQueue q, Gate gate, bool separateProcess = false,
        string config = "localhost")
    {
        var worker = new HandWorker(q.QueueId, "--name", "by-hand", "--config", config);
        var t = await q.Controller.TaskCreateExprAsync(Gate.Wait + " 42", gate.Locals, separateProcess: separateProcess);
        worker.WaitFor($"task {t} started");
        return (worker, t);
    }

    [Theory]
    [InlineData("TERM", "SIGTERM")]
    [InlineData("INT", "SIGINT")]
    public async Task A_worker_told_to_stop_by_a_signal_finishes_and_records_its_task_leaves_EXITED_and_exits_0(string signal, string name)
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        using var gate = new Gate();
        var (worker, t) = await RunningAsync(q, gate);
        using var _ = worker;
        var queued = obj.TaskCreateExpr("1");
        worker.Signal(signal);
        Assert.Contains($"{name}: finishing the running task(s)", worker.WaitFor(name));
        Assert.False(worker.Process.HasExited);
        gate.Open();
        Assert.Equal(0, worker.Exit());
        Assert.Equal(RrqTaskStatus.Complete, obj.TaskStatus(t));
        Assert.Equal(42, obj.TaskResult(t));
        Assert.Equal(RrqTaskStatus.Pending, obj.TaskStatus(queued));   // taken by no one: the worker took no more work
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus("by-hand"));
        var last = obj.WorkerLogTail("by-hand", 1).Single();
        Assert.Equal(("STOP", "OK (INTERRUPTED)"), (last.Command, last.Message));
    }

    [Fact]
    public async Task A_second_SIGTERM_leaves_at_once_its_task_DIED_and_its_child_killed_and_exits_143()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        using var gate = new Gate();
        var (worker, t) = await RunningAsync(q, gate, separateProcess: true);
        using var _ = worker;
        await Poll.Until(async () => (await obj.TaskInfoAsync(t)).Pid is not null, 60);
        var child = Process.GetProcessById(obj.TaskInfo(t).Pid!.Value);
        worker.Signal("TERM");
        worker.WaitFor("SIGTERM: finishing");
        worker.Signal("TERM");
        Assert.Equal(143, worker.Exit(30));
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        Assert.Contains("KILLED (SIGTERM again)", ((RrqTaskError)obj.TaskResult(t)!).Message);
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus("by-hand"));
        Assert.True(child.WaitForExit(30_000), "the task's child process outlived its worker");
    }

    [Fact]
    public async Task SIGKILL_at_the_end_of_a_grace_period_leaves_the_task_to_lost_worker_detection()
    {
        await using var q = await TestQueue.CreateAsync();
        var obj = q.Controller;
        obj.WorkerConfigSave("beat", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromSeconds(1), DetectLostWorkers = false });
        using var gate = new Gate();
        var (worker, t) = await RunningAsync(q, gate, config: "beat");
        using var _ = worker;
        worker.Signal("TERM");
        worker.WaitFor("SIGTERM: finishing");
        worker.Signal("KILL");   // what Slurm does after KillWait, and Kubernetes after the grace period
        Assert.Equal(137, worker.Exit(30));
        Assert.Equal(RrqTaskStatus.Running, obj.TaskStatus(t));   // nothing could be recorded by the process itself
        await Poll.Until(async () => (await obj.WorkerDetectExitedAsync()).LostWorkers.Contains("by-hand"), 30);
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        Assert.Equal(RrqWorkerStatus.Lost, obj.WorkerStatus("by-hand"));
    }

    [Fact]
    public async Task A_worker_told_to_stop_whose_Redis_is_gone_leaves_without_waiting_for_its_task()
    {
        using var redis = new PrivateRedis();
        var queueId = $"rrq-test:gone:{Guid.NewGuid():N}";
        await using (var obj = await RrqController.ConnectAsync(queueId, redis.Address))
        {
            using var gate = new Gate();
            var worker = new HandWorker((redis.Address, queueId), "--name", "by-hand");
            using var _ = worker;
            var t = await obj.TaskCreateExprAsync(Gate.Wait + " 42", gate.Locals);
            worker.WaitFor($"task {t} started");
            worker.Signal("TERM");
            worker.WaitFor("SIGTERM: finishing");
            var sw = Stopwatch.StartNew();
            redis.Kill();
            Assert.Equal(1, worker.Exit(60));
            Assert.InRange(sw.Elapsed, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(40));
            // 15 s of silence, said in whole seconds: more when a loaded machine is slow to notice.
            var said = System.Text.RegularExpressions.Regex.Match(worker.WaitFor("since this worker was told to stop", 5),
                @"has not answered for (\d+) s since this worker was told to stop");
            Assert.True(said.Success && int.Parse(said.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= 15, said.Value);
        }
    }
}
