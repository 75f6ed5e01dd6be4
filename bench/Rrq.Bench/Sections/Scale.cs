namespace Rrq.Bench;

/// <summary>Whether a task costs Redis more when the queue is long: 1,000 against 1,000,000 tasks queued (<c>--only scale</c>).</summary>
internal static class ScaleSection
{
    public static async Task RunAsync(Bench b)
    {
        // 6. Does a task cost more when the queue is long? Redis time per script call while submitting (one task per
        // call) and while a worker claims and finishes tasks, with 1,000 and with 1,000,000 tasks queued. Both queues are
        // filled first; then their windows alternate, five each, so that the shared machine's drift falls on both alike
        // (the other queue's worker is paused meanwhile); each figure is the median of its five windows.
        var sizes = new[] { 1_000, b.Quick ? 100_000 : 1_000_000 };
        var qs = new RrqController[2];
        var fillers = new string[2][];
        var wids = new string[2];
        for (var s = 0; s < 2; s++)
        {
            qs[s] = await RrqController.ConnectAsync(b.Queue + ":scale" + s, b.Address);
            await qs[s].WorkerConfigSaveAsync("bench", new RrqWorkerConfig { Verbose = false });
            var filler = new List<string>();
            foreach (var chunk in Enumerable.Range(0, sizes[s]).Chunk(100_000))
            {
                filler.AddRange(await qs[s].TaskCreateBulkExprAsync("i", chunk.Select(i => (object)new { i })));
            }
            fillers[s] = [.. filler];
            wids[s] = (await qs[s].WorkerSpawnAsync(1, "bench")).Ids[0];
            await qs[s].TaskWaitAsync(fillers[s][0], TimeSpan.FromMinutes(1));   // started, scripts loaded
            await qs[s].MessageSendAndWaitAsync("PAUSE", workerIds: [wids[s]], timeout: TimeSpan.FromSeconds(30));
        }
        var submitUs = new[] { new List<double>(), new List<double>() };
        var runUs = new[] { new List<double>(), new List<double>() };
        for (var r = 0; r < 5; r++)
        {
            for (var s = 0; s < 2; s++)
            {
                var (c0, u0) = await ScriptStats(b.Mux);
                for (var i = 0; i < 100; i++)
                {
                    await qs[s].TaskCreateExprAsync("1");
                }
                var (c1, u1) = await ScriptStats(b.Mux);
                submitUs[s].Add((u1 - u0) / (double)(c1 - c0));
                var window = fillers[s].Skip(1 + 150 * r).Take(150).ToArray();
                var (c2, u2) = await ScriptStats(b.Mux);
                await qs[s].MessageSendAndWaitAsync("RESUME", workerIds: [wids[s]], timeout: TimeSpan.FromSeconds(30));
                await qs[s].TaskWaitAsync(window, TimeSpan.FromMinutes(5), progress: false);
                await qs[s].MessageSendAndWaitAsync("PAUSE", workerIds: [wids[s]], timeout: TimeSpan.FromSeconds(30));
                var (c3, u3) = await ScriptStats(b.Mux);
                runUs[s].Add((u3 - u2) / (double)(c3 - c2));
            }
        }
        for (var s = 0; s < 2; s++)
        {
            Console.WriteLine($"{sizes[s]:N0} tasks queued: submit {Median([.. submitUs[s]]):0.0} µs of Redis per call, " +
                $"claiming and finishing {Median([.. runUs[s]]):0.0} µs per script call");
            await qs[s].DestroyAsync(workerStop: RrqWorkerStopType.Kill);
            await qs[s].DisposeAsync();
        }
        Console.WriteLine($"scale: {sizes[1]:N0} vs {sizes[0]:N0} queued, ratio of Redis time: submit " +
            $"{Median([.. submitUs[1]]) / Median([.. submitUs[0]]):0.00}, claim and finish {Median([.. runUs[1]]) / Median([.. runUs[0]]):0.00}  (budget: under 1.2)");
    }
}
