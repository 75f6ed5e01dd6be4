namespace Rrq.Bench;

/// <summary>Redis memory of finished tasks, after retention has expired them, and once their tombstones have gone (<c>--only retention</c>).</summary>
internal static class RetentionSection
{
    public static async Task RunAsync(Bench b)
    {
        // 7. Redis memory per finished trivial task, after retention has expired them (their tombstones remain), and
        // once the tombstones have gone too: back to the baseline. Counted as the memory of this queue's own keys (MEMORY
        // USAGE of each, exact): the server's used_memory also moves as it frees what earlier sections deleted.
        var admin = b.Mux.GetServer(b.Mux.GetEndPoints()[0]);
        var retentionQueue = b.Queue + ":retention";
        async Task<long> Used()
        {
            long bytes = 0;
            await foreach (var key in admin.KeysAsync(pattern: "{" + retentionQueue + "}:*"))
            {
                bytes += (long)(await b.Db.ExecuteAsync("MEMORY", "USAGE", key, "SAMPLES", "0"));
            }
            return bytes;
        }
        var n = b.Quick ? 2_000 : 20_000;
        await using var q = await RrqController.ConnectAsync(retentionQueue, b.Address);
        await q.WorkerConfigSaveAsync("bench", new RrqWorkerConfig { Verbose = false });
        var w = await q.WorkerSpawnAsync(1, "bench");
        await q.TaskWaitAsync(await q.TaskCreateExprAsync("0"), TimeSpan.FromMinutes(1));
        await q.TaskDeleteFinishedAsync(DateTimeOffset.UtcNow.AddMinutes(1));
        var before = await Used();
        var ids = await q.TaskCreateBulkExprAsync("i + 1", Enumerable.Range(0, n).Select(i => (object)new { i }));
        await q.TaskWaitAsync(ids, TimeSpan.FromMinutes(5), progress: false);
        var finished = await Used();
        await q.RetentionSetAsync(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        await Task.Delay(1100);
        var sw = Stopwatch.StartNew();
        var expired = await q.RetentionSweepAsync();
        var sweepMs = sw.Elapsed.TotalMilliseconds;
        var tombstones = await Used();
        await Task.Delay(2100);
        await q.RetentionSweepAsync();
        var after = await Used();
        double Each(long bytes) => Math.Round(bytes / (double)n) + 0.0;   // + 0.0: no "-0"
        Console.WriteLine($"retention: {n:N0} finished trivial tasks hold {Each(finished - before):0} bytes each in Redis; " +
            $"expired ({expired:N0} in {Ms(sweepMs)}): {Each(tombstones - before):0} bytes each (tombstones); " +
            $"tombstones gone: {Each(after - before):0} bytes each  (budget: back to the baseline, 0)");
        await q.WorkerStopAsync(timeout: TimeSpan.FromSeconds(30));
        await q.DestroyAsync(workerStop: null);
    }
}
