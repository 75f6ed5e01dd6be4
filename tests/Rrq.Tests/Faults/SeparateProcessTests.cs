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
    public async Task A_child_process_recompiles_only_its_really_hot_code_and_the_worker_sets_nothing_on_itself()
    {
        var (q, _, _) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        const string expr = "System.Environment.GetEnvironmentVariable(\"DOTNET_TC_CallCountThreshold\") ?? \"unset\"";
        var child = obj.TaskCreateExpr(expr, separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(child, TimeSpan.FromSeconds(60)));
        Assert.Equal("0x3E8", obj.TaskResult(child));   // 1000 calls, in the hexadecimal the runtime reads
        Assert.Null(Environment.GetEnvironmentVariable("DOTNET_TC_CallCountThreshold"));   // nothing leaked into this process
    }

    /// <summary>The worker's children that are alive now (started ahead, or running a task): the processes
    /// whose command line names the worker's own folder.</summary>
    private static int[] ChildrenOf(RrqWorker w)
    {
        var folder = $"rrq-worker-{Environment.ProcessId}-{w.Id}";
        var found = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0');
                if (cmdline.Contains("child") && cmdline.Contains("--image") && cmdline.Any(a => a.Contains(folder, StringComparison.Ordinal)))
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
                // gone meanwhile
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return [.. found];
    }

    [Fact]
    public async Task The_next_task_runs_in_a_fresh_child_that_was_started_before_the_task_came()
    {
        var (q, w, _) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        var first = obj.TaskCreateExpr("Version() + a", new { a = 1 }, separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(first, TimeSpan.FromSeconds(60)));
        // The child for the next task was started while the first ran: it is there before the next task is.
        var firstPid = obj.TaskInfo(first).Pid!.Value;
        int[] ready = [];
        await Poll.Until(() => Gone(firstPid) && (ready = ChildrenOf(w)).Length >= 1, 60);
        Assert.DoesNotContain(firstPid, ready);

        var second = obj.TaskCreateExpr("Version() + a", new { a = 41 }, separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(second, TimeSpan.FromSeconds(60)));
        Assert.Equal(42, obj.TaskResult(second));
        Assert.Contains(obj.TaskInfo(second).Pid!.Value, ready);
        Assert.NotEqual(obj.TaskInfo(first).Pid, obj.TaskInfo(second).Pid);
        // One process, one task: it exits once it has handed its result over (a moment after, on a loaded machine).
        var secondPid = obj.TaskInfo(second).Pid!.Value;
        await Poll.Until(() => Gone(secondPid), 10);
    }

    [Fact]
    public async Task A_child_runs_compiled_code_without_loading_the_compiler_the_embedded_server_or_the_serializer()
    {
        var (q, _, _) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? \"\").ToArray()", separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));
        var loaded = Assert.IsType<string[]>(obj.TaskResult(t));
        Assert.Contains("Rrq.Core", loaded);
        Assert.DoesNotContain(loaded, a => a.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal));
        Assert.DoesNotContain(loaded, a => a.StartsWith("Garnet", StringComparison.Ordinal) || a.StartsWith("Tsavorite", StringComparison.Ordinal));
        Assert.DoesNotContain(loaded, a => a.StartsWith("MemoryPack", StringComparison.Ordinal));
        Assert.DoesNotContain(loaded, a => a.StartsWith("StackExchange.Redis", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Values_of_every_kind_reach_a_child_and_come_back_with_their_types()
    {
        var (q, _, _) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        var locals = new Dictionary<string, object?>
        {
            ["i"] = 7, ["l"] = 1L << 40, ["d"] = 2.5, ["b"] = true, ["s"] = "text", ["n"] = null,
            ["ia"] = new[] { 1, 2 }, ["la"] = new[] { 3L }, ["da"] = new[] { 0.5, 1.5 }, ["ba"] = new[] { false }, ["sa"] = new[] { "a", null },
            ["big"] = Enumerable.Range(0, 10_000).Select(x => (double)x).ToArray(),      // too big to travel plain
            ["list"] = new List<object?> { 1, "two" },
            ["dict"] = new Dictionary<string, int> { ["k"] = 3 },
        };
        foreach (var (name, value) in locals)
        {
            var t = obj.TaskCreateExpr(name, new Dictionary<string, object?> { [name] = value }, separateProcess: true);
            Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)), name);
            var back = obj.TaskResult(t);
            Assert.Equal(value?.GetType(), back?.GetType());
            Assert.Equal(value, back);
        }
        var sum = obj.TaskCreateExpr("i + l + d + ia.Sum() + da.Sum() + big.Length + dict[\"k\"] + (b ? 1 : 0) + s.Length",
            locals, separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(sum, TimeSpan.FromSeconds(60)));
        Assert.Equal(7 + (1L << 40) + 2.5 + 3 + 2.0 + 10_000 + 3 + 1 + 4, obj.TaskResult(sum));
    }

    [Fact]
    public async Task An_expression_that_does_not_compile_is_an_error_without_a_child_process()
    {
        var (q, w, _) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        var t = obj.TaskCreateExpr("fit_model(x,", new { x = 1 }, separateProcess: true);
        Assert.False(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));
        var err = Assert.IsType<RrqTaskError>(obj.TaskResult(t));
        Assert.Equal("Rrq.CompilationError", err.ExceptionType);
        Assert.StartsWith("The task expression does not compile:", err.Message, StringComparison.Ordinal);
        Assert.Null(obj.TaskInfo(t).Pid);
        Assert.DoesNotContain(obj.WorkerLogTail(w.Id, 0), l => l.Command == "REMOTE");
    }

    [Fact]
    public async Task A_new_environment_is_never_run_by_a_child_started_for_the_old_one()
    {
        var (q, w, _) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        var before = obj.TaskCreateExpr("Version()", separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(before, TimeSpan.FromSeconds(60)));
        Assert.Equal(1, obj.TaskResult(before));
        await Poll.Until(() => ChildrenOf(w).Length >= 1, 60);   // a child of version 1 is ready
        var old = ChildrenOf(w);

        obj.WorkerEnvirSet(new RrqEnvir([TestQueue.Env("version2.csx")]));
        var after = obj.TaskCreateExpr("Version()", separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(after, TimeSpan.FromSeconds(60)));
        Assert.Equal(2, obj.TaskResult(after));
        Assert.DoesNotContain(obj.TaskInfo(after).Pid!.Value, old);
        await Poll.Until(() => old.All(Gone), 30);   // the old environment's children were stopped
    }

    [Fact]
    public async Task The_worker_starts_children_for_the_separate_tasks_waiting_and_keeps_one_when_idle()
    {
        var (q, w, _) = await QueueWithLoopingWorker();
        await using var _q = q;
        var obj = q.Controller;
        // Four tasks waiting: while the first runs (held until the test has seen what it looks for), the worker
        // starts as many children as its config allows (2).
        // They go in together (the worker counts the separate tasks waiting when it takes the first).
        using var gate = new Gate();
        var ids = obj.TaskCreateBulkExpr("while (hold && !File.Exists(go)) System.Threading.Thread.Sleep(20); slow(10)",
            Enumerable.Range(0, 4).Select(i => (object)new { hold = i == 0, go = gate.Path }), separateProcess: true);
        var first = ids[0];
        await Poll.Until(async () => (await obj.TaskInfoAsync(first)).Pid is not null, 60);
        var running = obj.TaskInfo(first).Pid!.Value;
        await Poll.Until(() => ChildrenOf(w).Count(p => p != running) == w.Config.ReadyChildren, 60);
        gate.Open();
        Assert.True(await obj.TaskWaitAsync(ids, TimeSpan.FromSeconds(120)));
        Assert.Equal(4, ids.Select(i => obj.TaskInfo(i).Pid).OfType<int>().Distinct().Count());   // a process each
        // Idle, it keeps one ready (and never more than its config allows meanwhile).
        await Poll.Until(() => ChildrenOf(w).Length == 1, 30);
    }

    [Fact]
    public async Task With_no_children_ready_each_task_starts_its_own_and_none_is_left_behind()
    {
        var q = await TestQueue.CreateAsync();
        await using var _q = q;
        var obj = q.Controller;
        obj.WorkerConfigSave("none-ready", new RrqWorkerConfig { ReadyChildren = 0 });
        var w = await q.WorkerAsync(config: "none-ready");
        _ = w.RunAsync();
        var t = obj.TaskCreateExpr("6 * 7", separateProcess: true);
        Assert.True(await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)));
        Assert.Equal(42, obj.TaskResult(t));
        await Poll.Until(() => Gone(obj.TaskInfo(t).Pid!.Value), 30);
        await Task.Delay(1000);   // room for a ready child to start, which must not
        Assert.Empty(ChildrenOf(w));
        Assert.Equal("ReadyChildren", Assert.ThrowsAny<ArgumentException>(() =>
            obj.WorkerConfigSave("bad", new RrqWorkerConfig { ReadyChildren = -1 })).ParamName);
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
