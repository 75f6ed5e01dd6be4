namespace Rrq.Bench;

/// <summary>From the SIGKILL of a busy worker to its task DIED, found by another worker's sweep (<c>--only death</c>).</summary>
internal static class DeathSection
{
    public static async Task RunAsync(Bench b)
    {
        // 4. From SIGKILL of a busy worker to its task DIED, heartbeat period 1 s, with nobody calling
        // anything: another worker's sweep finds it. Bound: 3 periods (expiry) + 1 (sweep).
        await b.Obj.WorkerConfigSaveAsync("hb", new RrqWorkerConfig { Verbose = false, HeartbeatPeriod = TimeSpan.FromSeconds(1) });
        var deaths = new List<double>();
        for (var i = 0; i < (b.Quick ? 1 : 3); i++)
        {
            var pair = await b.Obj.WorkerSpawnAsync(2, "hb");
            var t = await b.Obj.TaskCreateExprAsync("System.Threading.Thread.Sleep(3_600_000)");
            while (await b.Obj.TaskStatusAsync(t) != RrqTaskStatus.Running)
            {
                await Task.Delay(10);
            }
            var busy = (await b.Obj.TaskInfoAsync(t)).Worker!;
            var waiting = b.Obj.TaskWaitAsync(t, TimeSpan.FromMinutes(1));
            var sw = Stopwatch.StartNew();
            pair.Kill(busy);
            await waiting;
            deaths.Add(sw.Elapsed.TotalMilliseconds);
            if (await b.Obj.TaskStatusAsync(t) != RrqTaskStatus.Died)
            {
                throw new InvalidOperationException("the killed worker's task is not DIED");
            }
            await b.Obj.WorkerStopAsync(timeout: TimeSpan.FromSeconds(30));
            pair.Kill();
        }
        var death = Median([.. deaths]);
        Console.WriteLine($"SIGKILL to DIED, heartbeat 1 s, automatic detection: median {death / 1000:0.00} s = {death / 1000:0.0} × period  (bound 4 periods)");
    }
}
