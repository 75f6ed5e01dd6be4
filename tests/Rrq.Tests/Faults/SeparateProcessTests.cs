using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Faults;

/// <summary>Separate-process tasks: real child processes, killed and crashed for real.</summary>
[Trait(RedisServer.OnGarnet, "yes")]
public class SeparateProcessTests
{
    private static async Task<(TestQueue, RrqWorker, Task)> QueueWithLoopingWorker()
    {
        var q = await TestQueue.CreateAsync();
        q.Controller.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("fault.csx")]));
        var w = await q.WorkerAsync();
        var loop = w.RunAsync();
        return (q, w, loop);
    }

    [Fact]
    public async Task A_separate_process_task_returns_its_value_from_a_child_whose_pid_and_output_are_kept()
    {
        var (q, w, loop) = await QueueWithLoopingWorker();
        await using var _ = q;
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("chatty(2)", separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));
        Assert.Equal("said", obj.TaskResult(t));
        var info = obj.TaskInfo(t);
        Assert.True(info.SeparateProcess);
        Assert.NotNull(info.Pid);
        Assert.NotEqual(Environment.ProcessId, info.Pid);
        var log = obj.TaskLog(t).ToList();
        Assert.Equal(["doubling 1", "doubling 2", "to stderr"], log.Order(StringComparer.Ordinal));
        Assert.True(log.IndexOf("doubling 1") < log.IndexOf("doubling 2"), string.Join(" | ", log));
        var commands = obj.WorkerLogTail(w.Id, 0).Select(l => l.Command).ToArray();
        Assert.Equal(["TASK_START", "REMOTE", "TASK_COMPLETE"], commands[^3..]);
    }

    [Fact]
    public async Task The_next_child_is_started_with_the_last_separate_task_to_compile_ahead_and_runs_the_next_one_right()
    {
        var (q, w, loop) = await QueueWithLoopingWorker();
        await using var _ = q;
        var obj = q.Controller;
        var first = obj.TaskCreateExpr("Version() + a", new { a = 1 }, separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(first, TimeSpan.FromSeconds(60)));
        // The child started for the next task was handed this task's payload to compile while it waits.
        var workDir = Path.Combine(Path.GetTempPath(), $"rrq-worker-{Environment.ProcessId}-{w.Id}");
        string[] warm = [];
        await Poll.Until(() => (warm = Directory.GetFiles(workDir, "warm.bin", SearchOption.AllDirectories)).Length == 1, 60);
        var handed = RrqController.DecodePayload(await File.ReadAllBytesAsync(warm[0]));
        Assert.Equal("Version() + a", handed.Expression);
        Assert.Equal(["a"], handed.LocalNames);

        var second = obj.TaskCreateExpr("Version() + a", new { a = 41 }, separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(second, TimeSpan.FromSeconds(60)));
        Assert.Equal(obj.TaskResult(first) is int v1 ? v1 + 40 : -1, obj.TaskResult(second));
    }

    [Fact]
    public async Task A_failing_separate_process_task_is_an_error_with_the_same_trace_as_in_process()
    {
        var (q, _, _) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("fit_model(x, null)", new { x = new[] { 1.0 } }, separateProcess: true);
        Assert.False(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));
        Assert.Equal(RrqTaskStatus.Error, obj.TaskStatus(t));
        var err = Assert.IsType<RrqTaskError>(obj.TaskResult(t));
        Assert.Equal("fit_model(double[], double[]) at fault.csx:6", err.From);
        Assert.Contains("fault.csx:line 6", err.Trace);
        Assert.Equal(t, err.TaskId);
    }

    [Fact]
    public async Task Killing_the_child_makes_the_task_died_and_the_worker_takes_the_next_task()
    {
        var (q, w, _) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(3_600_000)", separateProcess: true);
        await Poll.Until(async () => (await obj.TaskInfoAsync(t)).Pid is not null, 60);
        var pid = obj.TaskInfo(t).Pid!.Value;
        Process.GetProcessById(pid).Kill();
        Assert.False(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30)));
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        var err = Assert.IsType<RrqTaskError>(obj.TaskResult(t));
        Assert.Equal($"Task not successful: DIED (its process (pid {pid}) was killed by signal 9 (SIGKILL) before the task finished)", err.Message);
        Assert.Equal(RrqTaskStatus.Died, err.Status);
        Assert.Null(err.Trace);

        var next = obj.TaskCreateExpr("1 + 1");
        Assert.True(await obj.TaskWaitAsync(next, TimeSpan.FromSeconds(30)));
        Assert.Equal(RrqWorkerStatus.Idle, obj.WorkerStatus(w.Id));
    }

    [Theory]
    [InlineData("Environment.FailFast(\"boom\")")]
    [InlineData("recurse(0)")]
    [InlineData("Environment.Exit(3)")]
    [InlineData("System.Runtime.InteropServices.Marshal.ReadInt32((IntPtr)0x7ffffff00000L)")]
    public async Task A_child_that_crashes_or_exits_without_a_result_makes_the_task_died(string expr)
    {
        var (q, _, _) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        var t = obj.TaskCreateExpr(expr, separateProcess: true);
        Assert.False(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(90)));
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        var after = obj.TaskCreateExpr("40 + 2", separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(after, TimeSpan.FromSeconds(60)));
        Assert.Equal(42, obj.TaskResult(after));
    }

    [Fact]
    public async Task A_task_past_its_timeout_is_killed_and_timeout()
    {
        var (q, w, _) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)", separateProcess: true, timeout: TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(1), obj.TaskInfo(t).Timeout);
        Assert.False(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));
        Assert.Equal(RrqTaskStatus.Timeout, obj.TaskStatus(t));
        Assert.Equal("Task not successful: TIMEOUT", ((RrqTaskError)obj.TaskResult(t)!).Message);
        Assert.True(Gone(obj.TaskInfo(t).Pid!.Value));
        Assert.Contains(obj.WorkerLogTail(w.Id, 0), l => l.Command == "TIMEOUT");
    }

    [Fact]
    public async Task A_stop_that_will_not_wait_kills_the_running_child_and_the_task_is_died()
    {
        var (q, w, loop) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)", separateProcess: true);
        await Poll.Until(async () => (await obj.TaskInfoAsync(t)).Pid is not null, 60);
        var pid = obj.TaskInfo(t).Pid!.Value;
        await w.StopAsync(cancellationToken: new CancellationToken(canceled: true));
        await loop.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(RrqTaskStatus.Died, obj.TaskStatus(t));
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(w.Id));
        Assert.True(Gone(pid));
    }

    internal static bool Gone(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return p.HasExited;
        }
        catch (ArgumentException)
        {
            return true;
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task A_zero_or_negative_timeout_is_refused_at_the_call(int seconds)
    {
        await using var q = await TestQueue.CreateAsync();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            q.Controller.TaskCreateExpr("1", separateProcess: true, timeout: TimeSpan.FromSeconds(seconds)));
        Assert.Equal("timeout", e.ParamName);
        Assert.Empty(q.Controller.TaskList());
    }
}
