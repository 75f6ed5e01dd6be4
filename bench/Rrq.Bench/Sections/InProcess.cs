namespace Rrq.Bench;

/// <summary>
/// The in-process sections, which share their worker processes (started on the default config, as a user starts them,
/// and warmed up once): the round trip with one worker, many tasks submitted one call each with one and with two
/// workers, and bulk runs (<c>--only roundtrip</c>, <c>many</c>, <c>bulk</c>).
/// </summary>
internal static class InProcessSections
{
    public static async Task RunAsync(Bench b, bool roundTrip, bool many, bool bulk)
    {
        var one = await b.Obj.WorkerSpawnAsync(1);
        // Warm-up: the expression compiled, connections made, and both processes' JIT settled (tiered compilation takes a
        // few seconds of steady work to finish; the peer gets the same time).
        var warming = Stopwatch.StartNew();
        for (var i = 0; warming.Elapsed < b.WarmUp || i < 50; i++)
        {
            await RoundTrip(b.Obj, i);
        }
        if (roundTrip)
        {
            await RoundTripSection.RunAsync(b);
        }
        // Many trivial tasks, one call each: submit them all, wait for all, read all results.
        if (many)
        {
            var perTask1 = await Many(b.Obj, b.BulkSize);
            Console.WriteLine($"{b.BulkSize} tasks, 1 worker: {Ms(perTask1 * b.BulkSize)} total, {Ms(perTask1)} per task = {perTask1 / b.Ping:0.0} × PING");
        }
        var two = await b.Obj.WorkerSpawnAsync(1);
        // Warm the new worker too: keep the first one busy so the second compiles "i + 1" now, not mid-run.
        var blocker = await b.Obj.TaskCreateExprAsync("System.Threading.Thread.Sleep(3000)");
        await Task.Delay(200);
        for (var i = 0; i < 20; i++)
        {
            await RoundTrip(b.Obj, i);
        }
        await b.Obj.TaskWaitAsync(blocker, TimeSpan.FromSeconds(30));
        if (many)
        {
            var perTask2 = await Many(b.Obj, b.BulkSize);
            Console.WriteLine($"{b.BulkSize} tasks, 2 workers: {Ms(perTask2 * b.BulkSize)} total, {Ms(perTask2)} per task = {perTask2 / b.Ping:0.0} × PING");
        }
        if (bulk)
        {
            await BulkSection.RunAsync(b, one, two);
        }
        await b.Obj.WorkerStopAsync(timeout: TimeSpan.FromSeconds(30));
        one.Kill();
        two.Kill();
    }
}
