namespace Rrq.Bench;

/// <summary>The dashboard's pages on a queue of about 100,000 tasks, as an operator waits for them: HTTP GETs of <c>rrq-worker dashboard</c> (<c>--only dashboard</c>).</summary>
internal static class DashboardSection
{
    public static async Task RunAsync(Bench b)
    {
        // The dashboard's overview of a queue of about 100,000 tasks, as an operator waits for it: an HTTP GET of the page
        // served by `rrq-worker dashboard`. Baselines in the same run: PING, and TaskOverview(), which reads every status.
        var n = b.Quick ? 10_000 : 100_000;
        var dashQueue = "rrq-bench-dash:" + Guid.NewGuid().ToString("N")[..8];
        await using var dash = await RrqController.ConnectAsync(dashQueue, b.Address);
        var finished = n * 3 / 10;
        var workers = await dash.WorkerSpawnAsync(2);
        var ran = await dash.TaskCreateBulkExprAsync("i % 20 == 0 ? int.Parse(\"x\") : i", Enumerable.Range(0, finished).Select(i => (object)new { i }));
        await dash.TaskWaitAsync(ran, TimeSpan.FromMinutes(10), progress: false);
        await dash.WorkerStopAsync(workers.Ids);
        while ((await dash.WorkerListAsync()).Count > 0)
        {
            await Task.Delay(100);
        }
        var waiting = await dash.TaskCreateBulkExprAsync("i", Enumerable.Range(0, n - finished).Select(i => (object)new { i }));
        var deferred = await dash.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 1000).Select(i => (object)new { i }), dependsOn: [waiting[^1]]);
        var counts = (await dash.SummaryAsync()).Counts;
        Console.WriteLine($"dashboard, a queue of {counts.Total:N0} tasks ({counts.Complete:N0} complete, {counts.Failed:N0} failed, " +
            $"{counts.Pending:N0} pending, {counts.Deferred:N0} deferred):");

        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "rrq-worker.dll"), "dashboard", dashQueue, "--redis", b.Address, "--port", "0"])
        {
            psi.ArgumentList.Add(a);
        }
        using var web = Process.Start(psi)!;
        try
        {
            var line = await web.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromMinutes(1)) ?? await web.StandardError.ReadToEndAsync();
            var url = System.Text.RegularExpressions.Regex.Match(line, @"http://\S+/").Value;
            using var http = new HttpClient();
            async Task<double> Get(string path)
            {
                var sw = Stopwatch.StartNew();
                using var r = await http.GetAsync(url + path);
                await r.Content.ReadAsByteArrayAsync();
                r.EnsureSuccessStatusCode();
                return sw.Elapsed.TotalMilliseconds;
            }
            var first = await Get("");
            var work0 = await RedisWork.ReadAsync(b.Mux);
            var overview = Median(await Repeat(20, () => Get("")));
            var perPage = (await RedisWork.ReadAsync(b.Mux)).Minus(work0).Per(20);
            var failedPage = Median(await Repeat(20, () => Get("tasks/failed?page=10")));
            var pendingPage = Median(await Repeat(20, () => Get("tasks/pending?page=1000")));
            var taskPage = Median(await Repeat(20, () => Get("task/" + ran[20])));
            var summary = Median(await Repeat(20, () => dash.SummaryAsync()));
            var scan = Median(await Repeat(5, () => dash.TaskOverviewAsync()));
            Console.WriteLine($"  overview page (HTTP GET): median {Ms(overview)} = {overview / b.Ping:0} × PING (first, cold: {Ms(first)}); " +
                $"TaskOverview(), which reads every task's status: {Ms(scan)} = {scan / overview:0.0} × the overview  (budget 1 s)");
            Console.WriteLine($"  Summary() from code {Ms(summary)}; pages: failed page 10 {Ms(failedPage)}, pending page 1,000 {Ms(pendingPage)}, " +
                $"one failed task {Ms(taskPage)}");
            Console.WriteLine($"  Redis per overview page: {perPage}");
        }
        finally
        {
            web.Kill();
            await web.WaitForExitAsync();
        }
        await dash.DestroyAsync();
    }
}
