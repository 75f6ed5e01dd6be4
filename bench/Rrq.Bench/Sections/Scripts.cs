namespace Rrq.Bench;

/// <summary>Large changes: how long Redis is held by the longest single script, and by all of them (<c>--only scripts</c>).</summary>
internal static class ScriptsSection
{
    public static async Task RunAsync(Bench b)
    {
        // 5. Large changes: how long Redis is held by the longest single script (SLOWLOG, which logs the scripts that
        // took over 1 ms; the commands inside a script are logged too, and are far quicker), and by all of them
        // (INFO commandstats). No workers on this queue: what is queued stays queued.
        var admin = b.Mux.GetServer(b.Mux.GetEndPoints()[0]);
        await admin.ConfigSetAsync("slowlog-log-slower-than", 1000);
        await admin.ConfigSetAsync("slowlog-max-len", 10000);
        await using var big = await RrqController.ConnectAsync(b.Queue + ":scripts", b.Address);
        async Task Measure(string what, Func<Task> op)
        {
            await admin.SlowlogResetAsync();
            var (calls0, usec0) = await ScriptStats(b.Mux);
            var sw = Stopwatch.StartNew();
            await op();
            var wall = sw.Elapsed.TotalMilliseconds;
            var (calls1, usec1) = await ScriptStats(b.Mux);
            var longest = (await admin.SlowlogGetAsync(10000))
                .Where(t => t.Arguments.Length > 0 && ((string?)t.Arguments[0])?.StartsWith("EVAL", StringComparison.OrdinalIgnoreCase) == true)
                .Select(t => t.Duration.TotalMilliseconds).DefaultIfEmpty(0).Max();
            Console.WriteLine($"{what}: longest script {(longest == 0 ? "under 1 ms" : Ms(longest))}, {calls1 - calls0} scripts, " +
                $"{Ms((usec1 - usec0) / 1000.0)} of Redis in all = {(usec1 - usec0) / 1000.0 / b.Ping:0} × PING, {Ms(wall)} for the caller  (budget: each script under 10 ms)");
        }
        var size = b.Quick ? 10_000 : 100_000;
        var parent = await big.TaskCreateExprAsync("0");
        var dependents = await big.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 10_000).Select(i => new { i }), dependsOn: [parent]);
        await Measure("delete a task with 10,000 dependents", () => big.TaskDeleteAsync([parent]));
        await big.TaskDeleteAsync(dependents);
        var queued = await big.TaskCreateBulkExprAsync("i", Enumerable.Range(0, size).Select(i => new { i }));
        await Measure($"delete half of a {size:N0}-task queue", () => big.TaskDeleteAsync(queued.Where((_, i) => i % 2 == 0)));
        var half = queued.Where((_, i) => i % 2 == 1).ToArray();
        await Measure($"QueueRemove {half.Length:N0} queued tasks", () => big.QueueRemoveAsync(half));
        var deps = await big.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 10_000).Select(i => new { i }));
        await Measure("submit one task depending on 10,000", () => big.TaskCreateExprAsync("0", dependsOn: deps));
        var failedParent = await big.TaskCreateExprAsync("0");
        await big.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 10_000).Select(i => new { i }), dependsOn: [failedParent]);
        await big.TaskCancelAsync(failedParent);   // its dependents are IMPOSSIBLE
        await Measure("retry a task whose 10,000 dependents it made IMPOSSIBLE", () => big.TaskRetryAsync([failedParent]));
        var cancelled = await big.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 10_000).Select(i => new { i }));
        await big.QueueRemoveAsync(cancelled);
        await Measure("retry 10,000 cancelled tasks in one call", () => big.TaskRetryAsync(cancelled));
        await big.QueueRemoveAsync(await big.QueueListAsync());
        await Measure("submit 10,000 tasks in one call", () => big.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 10_000).Select(i => new { i }), queue: "held"));
        var one = await big.TaskCreateExprAsync("0", queue: "held");
        await Measure("submit 10,000 tasks on one dependency in one call", () => big.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 10_000).Select(i => new { i }), queue: "held", dependsOn: [one]));
        // A worker's own scripts: finishing a task whose 10,000 dependents it releases, and failing one that is retried
        // automatically with 10,000 dependents waiting (they are in a queue the worker does not take from).
        var worker = await big.WorkerSpawnAsync(1, timeout: TimeSpan.FromSeconds(60));
        // The parent is held back for a few seconds (a delayed task), so that submitting its dependents is not timed.
        var releasing = await big.TaskCreateExprAsync("0", delay: TimeSpan.FromSeconds(3));
        await big.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 10_000).Select(i => new { i }), queue: "held", dependsOn: [releasing]);
        await Measure("a worker completes a task and releases its 10,000 dependents", () => big.TaskWaitAsync(releasing, TimeSpan.FromSeconds(60)));
        var retrying = await big.TaskCreateExprAsync("throw new System.Exception()", retry: new RrqRetryPolicy { MaxAttempts = 2 }, delay: TimeSpan.FromSeconds(3));
        await big.TaskCreateBulkExprAsync("i", Enumerable.Range(0, 10_000).Select(i => new { i }), queue: "held", dependsOn: [retrying]);
        await Measure("a worker retries a failed task with 10,000 dependents automatically", () => big.TaskWaitAsync(retrying, TimeSpan.FromSeconds(60)));
        await big.WorkerStopAsync(timeout: TimeSpan.FromSeconds(30));
        worker.Kill();
        await big.DestroyAsync(workerStop: null);
        await admin.ConfigSetAsync("slowlog-log-slower-than", 10000);
        await admin.SlowlogResetAsync();
    }
}
