namespace Rrq.Bench;

/// <summary>Separate-process tasks as a user meets them: the first after a worker starts, back to back, a new expression each time, and with the ready child waiting (<c>--only separate</c>).</summary>
internal static class SeparateSection
{
    public static async Task RunAsync(Bench b)
    {
        // 3. Separate-process tasks as a user meets them: a worker on the default config, tasks submitted
        // one after another, each as soon as the last result is read (nothing waits for a child to be ready).
        if (double.IsNaN(b.RoundTrip))
        {
            var inProc = await b.Obj.WorkerSpawnAsync(1);
            for (var i = 0; i < 50; i++)
            {
                await RoundTrip(b.Obj, i);
            }
            b.RoundTrip = Median(await Repeat(b.Quick ? 50 : 200, async () => await RoundTrip(b.Obj, 1)));
            await b.Obj.WorkerStopAsync(timeout: TimeSpan.FromSeconds(30));
            inProc.Kill();
        }
        var sep = await b.Obj.WorkerSpawnAsync(1);
        var workerPid = sep.Pids.Values.Single();

        // The first separate-process task of a worker that has just started.
        var sw = Stopwatch.StartNew();
        await RoundTripSeparate(b.Obj, "i + 1", 0);
        Console.WriteLine($"first separate-process task after the worker started: {Ms(sw.Elapsed.TotalMilliseconds)}  (budget 1 s)");

        // Back to back, one expression, as a loop over data would send them.
        // CPU is counted over the last two thirds: a worker that has just started is still recompiling the
        // compiler's hot code at full speed in the background (tiered JIT), a one-off cost.
        var n = b.Quick ? 12 : 60;
        double cpu0 = 0, own0 = 0;
        var backToBack = new List<double>();
        for (var i = 0; i < n; i++)
        {
            if (i == n / 3)
            {
                (cpu0, own0) = (CpuMsWithChildren(workerPid), CpuMs(workerPid));
            }
            sw.Restart();
            await RoundTripSeparate(b.Obj, "i + 1", i);
            backToBack.Add(sw.Elapsed.TotalMilliseconds);
        }
        var counted = n - n / 3;
        var cpuPerTask = (CpuMsWithChildren(workerPid) - cpu0) / counted;
        var ownPerTask = (CpuMs(workerPid) - own0) / counted;
        var b2b = Median([.. backToBack]);
        var p90 = backToBack.Order().ElementAt((int)Math.Ceiling(0.9 * n) - 1);
        Console.WriteLine($"separate-process round trip, back to back, default config: median {Ms(b2b)}, p90 {Ms(p90)} = " +
            $"{b2b / b.RoundTrip:0} × in-process ({Ms(b.RoundTrip)})  (budget: median 100 ms, p90 200 ms)");
        Console.WriteLine($"  in order: {string.Join(", ", backToBack.Select(x => x.ToString("0", CultureInfo.InvariantCulture)))} ms");
        Console.WriteLine($"  CPU per task, worker and its children, last {counted} tasks: {cpuPerTask / 1000:0.000} s (worker {ownPerTask / 1000:0.000} s)  (budget 0.15 s)");

        // A new expression each time: the worker compiles each one (in-process tasks pay the same).
        var fresh = new List<double>();
        for (var i = 0; i < (b.Quick ? 5 : 15); i++)
        {
            sw.Restart();
            await RoundTripSeparate(b.Obj, $"i + {i + 2}", i);
            fresh.Add(sw.Elapsed.TotalMilliseconds);
        }
        Console.WriteLine($"separate-process round trip, back to back, a new expression each time: median {Ms(Median([.. fresh]))}");

        // The child the worker keeps ready while it idles: its memory, and a task that finds it ready.
        await Task.Delay(2000);
        var ready = ChildPids(workerPid);
        var rss = ready.Select(RssKb).Where(k => k > 0).ToArray();
        Console.WriteLine($"ready children while idle: {ready.Length}, RSS {string.Join(", ", rss.Select(k => $"{k / 1024.0:0.0} MiB"))}");
        var readyTimes = new List<double>();
        for (var i = 0; i < (b.Quick ? 3 : 10); i++)
        {
            await Task.Delay(1000);   // a child is ready (measured above: it starts in well under a second)
            sw.Restart();
            await RoundTripSeparate(b.Obj, "i + 1", i);
            readyTimes.Add(sw.Elapsed.TotalMilliseconds);
        }
        var readyMedian = Median([.. readyTimes]);
        Console.WriteLine($"separate-process round trip, child ready (a pause before each task): median {Ms(readyMedian)} = {readyMedian / b.RoundTrip:0} × in-process");
        await b.Obj.WorkerStopAsync(timeout: TimeSpan.FromSeconds(30));
        sep.Kill();
    }
}
