using System.Diagnostics;
using Rrq.Tests.Support;

namespace Rrq.Tests.Workers;

/// <summary>How long spawned workers live once the process that spawned them has gone: a script or a notebook kernel
/// (here a script run by rrq-worker) spawns workers, runs rrq's fault-tolerance steps with them, and is killed, with its
/// Redis or without.</summary>
public class SpawnedWorkerLifeTests
{
    /// <summary>The controller's script: four workers (heartbeat 1 s); a separate-process task that TIMEOUTs (its worker
    /// keeps a child ready after it); another worker killed from outside, replaced under a new id and declared lost by a
    /// sweep; then a task in a worker's own process that runs until the gate file exists.</summary>
    private static string Script(string queueId, string redis, string gate) => $$"""
        using System.Diagnostics;
        using System.Threading;
        using Rrq;
        var obj = RrqController.Connect("{{queueId}}", "{{redis}}");
        obj.WorkerConfigSave("localhost", new RrqWorkerConfig { HeartbeatPeriod = TimeSpan.FromSeconds(1) });
        var w = obj.WorkerSpawn(4);
        var timedOut = obj.TaskCreateExpr("System.Threading.Thread.Sleep(60_000)", separateProcess: true, timeout: TimeSpan.FromSeconds(1));
        obj.TaskWait(timedOut, TimeSpan.FromSeconds(60));
        Console.WriteLine($"timed out: {obj.TaskStatus(timedOut)}");
        var crashed = w.Ids.Last(id => id != obj.TaskInfo(timedOut).Worker);   // not the one with a ready child
        Process.GetProcessById(w.Pids[crashed]).Kill();
        while (obj.WorkerStatus(crashed) != RrqWorkerStatus.Lost || !obj.WorkerList().Contains(crashed + "r1")) Thread.Sleep(50);
        var slow = obj.TaskCreateExpr("while (!File.Exists(go)) System.Threading.Thread.Sleep(20); 42", new { go = "{{gate}}" });
        while (obj.TaskStatus(slow) != RrqTaskStatus.Running) Thread.Sleep(20);
        Console.WriteLine($"slow {slow}");
        foreach (var id in w.Ids) Console.WriteLine($"worker {id} {w.Pids[id]}");
        Console.WriteLine("READY");
        Thread.Sleep(Timeout.Infinite);
        """;

    private sealed record Run(Process Controller, string SlowTask, Dictionary<string, int> Workers, string Dir) : IDisposable
    {
        public void Dispose()
        {
            foreach (var pid in Workers.Values.Concat(Children(Workers.Values)))
            {
                try
                {
                    using var p = Process.GetProcessById(pid);
                    p.Kill(entireProcessTree: true);
                }
                catch (ArgumentException)
                {
                }
            }
            if (!Controller.HasExited)
            {
                Controller.Kill(entireProcessTree: true);
            }
            Controller.Dispose();
            Directory.Delete(Dir, recursive: true);
        }
    }

    private static async Task<Run> StartAsync(string queueId, string redis, Gate gate)
    {
        var dir = Directory.CreateTempSubdirectory("rrq-life-").FullName;
        var script = Path.Combine(dir, "session.csx");
        await File.WriteAllTextAsync(script, Script(queueId, redis, gate.Path));
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        foreach (var a in (string[])[RrqWorkerCli.Dll, "run", script])
        {
            psi.ArgumentList.Add(a);
        }
        var controller = Process.Start(psi)!;
        var err = controller.StandardError.ReadToEndAsync();
        var workers = new Dictionary<string, int>();
        string? slow = null;
        var said = new List<string>();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        while (await controller.StandardOutput.ReadLineAsync(cts.Token) is { } line && line != "READY")
        {
            said.Add(line);
            var parts = line.Split(' ');
            if (parts is ["worker", var id, var pid])
            {
                workers[id] = int.Parse(pid, System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (parts is ["slow", var t])
            {
                slow = t;
            }
        }
        Assert.True(slow is not null && workers.Count == 4,
            $"the session did not get ready:\n{string.Join("\n", said)}\n{(controller.HasExited ? await err : "")}");
        Assert.Contains("timed out: Timeout", said);
        Assert.Contains(workers.Keys, id => id.EndsWith("r1", StringComparison.Ordinal));
        return new Run(controller, slow!, workers, dir);
    }

    /// <summary>The separate-process children of the given workers (their image lives in the worker's own folder).</summary>
    private static List<int> Children(IEnumerable<int> workerPids)
    {
        var marks = workerPids.Select(p => $"/rrq-worker-{p}-").ToArray();
        var found = new List<int>();
        foreach (var d in Directory.GetDirectories("/proc"))
        {
            try
            {
                var cmd = File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' ');
                if (cmd.Contains(" child ", StringComparison.Ordinal) && marks.Any(m => cmd.Contains(m, StringComparison.Ordinal))
                    && int.TryParse(Path.GetFileName(d), out var pid))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }
        return found;
    }

    /// <summary>Waits until none of the processes is alive; else fails naming those that are, with their command lines.</summary>
    private static async Task UntilGone(IReadOnlyCollection<int> pids, int seconds)
    {
        try
        {
            await Poll.Until(() => !pids.Any(Alive), seconds);
        }
        catch (TimeoutException)
        {
            var alive = pids.Where(Alive).Select(p => $"{p}: {File.ReadAllText($"/proc/{p}/cmdline").Replace('\0', ' ')}");
            Assert.Fail($"still alive after {seconds} s:\n{string.Join("\n", alive)}");
        }
    }

    private static bool Alive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    [Fact]
    public async Task Spawned_workers_and_their_children_all_exit_when_their_session_and_its_Redis_are_both_gone()
    {
        var redis = new PrivateRedis();
        var queueId = $"rrq-test:life:{Guid.NewGuid():N}";
        using var gate = new Gate();
        try
        {
            using var run = await StartAsync(queueId, redis.Address, gate);
            // The worker whose task timed out keeps a child ready for the next one: wait until it is there.
            await Poll.Until(() => Children(run.Workers.Values).Count > 0, 60);
            var children = Children(run.Workers.Values);
            // The everyday case: a notebook kernel restarted with its embedded server, both gone at once.
            run.Controller.Kill();
            redis.Kill();
            var sw = Stopwatch.StartNew();
            var all = run.Workers.Values.Concat(children).ToArray();
            await UntilGone(all, 60);
            // Idle workers leave at once; the one running a task gives Redis 15 s to come back.
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(45), $"took {sw.Elapsed}");
        }
        finally
        {
            redis.Dispose();
        }
    }

    [Fact]
    public async Task Spawned_workers_whose_session_is_gone_but_whose_Redis_is_not_record_their_task_then_exit()
    {
        using var redis = new PrivateRedis();
        var queueId = $"rrq-test:life:{Guid.NewGuid():N}";
        using var gate = new Gate();
        using var run = await StartAsync(queueId, redis.Address, gate);
        await using var obj = await RrqController.ConnectAsync(queueId, redis.Address);
        var busy = obj.TaskInfo(run.SlowTask).Worker!;
        var idleWorkers = run.Workers.Where(p => p.Key != busy).Select(p => p.Value).ToArray();
        var children = Children(idleWorkers);
        var busyChildren = Children([run.Workers[busy]]);
        run.Controller.Kill();
        // Everything but the worker running a task (and a ready child of its) leaves within seconds, having recorded that
        // it left.
        var idle = idleWorkers.Concat(children).ToArray();
        await UntilGone(idle, 30);
        Assert.True(Alive(run.Workers[busy]));
        Assert.All(run.Workers.Keys.Where(id => id != busy), id => Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(id)));
        // The task ends, is recorded, and its worker leaves.
        gate.Open();
        Assert.True(await obj.TaskWaitAsync(run.SlowTask, TimeSpan.FromSeconds(30)));
        Assert.Equal(42, obj.TaskResult(run.SlowTask));
        await UntilGone([run.Workers[busy], .. busyChildren], 30);
        Assert.Equal(RrqWorkerStatus.Exited, obj.WorkerStatus(busy));
        Assert.Empty(obj.WorkerList());
    }
}
