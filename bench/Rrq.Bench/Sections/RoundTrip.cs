namespace Rrq.Bench;

/// <summary>The round trip of one trivial task with one worker running, and its pieces: submitting, reading a result, waiting on a finished task (<c>--only roundtrip</c>).</summary>
internal static class RoundTripSection
{
    public static async Task RunAsync(Bench b)
    {
        // 1. Round trip of one trivial task with one worker already running.
        var done = new List<string>();
        var work0 = await RedisWork.ReadAsync(b.Mux);
        var rtTimes = await Repeat(b.RoundTrips, async () => done.Add(await RoundTrip(b.Obj, 1)));
        b.RoundTrip = Median(rtTimes);
        var rtWork = (await RedisWork.ReadAsync(b.Mux)).Minus(work0).Per(b.RoundTrips);
        // Where the time goes, by the server's clock: submitted → claimed (the worker is woken and
        // claims), claimed → recorded (the worker runs it and records it); the rest is the submit's way
        // in and the completion notice's way back to the waiting controller.
        var times = await b.Obj.TaskTimesAsync(done, follow: false);
        var toStart = Median([.. times.Select(x => (x.Start!.Value - x.Submit!.Value).TotalMilliseconds)]);
        var toComplete = Median([.. times.Select(x => (x.Complete!.Value - x.Start!.Value).TotalMilliseconds)]);
        await b.Obj.TaskDeleteAsync(done);
        Console.WriteLine($"round trip (submit → wait → result), 1 worker: median {Ms(b.RoundTrip)}, p90 {Ms(P90(rtTimes))} = {b.RoundTrip / b.Ping:0.0} × PING  (budget 1 ms)");
        Console.WriteLine($"  by the server's clock: submitted → claimed {Ms(toStart)}, claimed → recorded {Ms(toComplete)}; " +
            $"the rest (the submit's way in, the notice's way out) {Ms(b.RoundTrip - toStart - toComplete)}");
        Console.WriteLine($"  Redis per round trip: {rtWork}");

        // Pieces of the round trip: submitting alone, and reading a finished task's result.
        var submitted = new List<string>();
        var submit = Median(await Repeat(b.RoundTrips, async () => submitted.Add(await b.Obj.TaskCreateExprAsync("i + 1", new { i = 1 }))));
        Console.WriteLine($"submit one task: median {Ms(submit)} = {submit / b.Ping:0.0} × PING");
        await b.Obj.TaskWaitAsync(submitted, TimeSpan.FromMinutes(1));
        var read = Median(await Repeat(b.RoundTrips, async () => await b.Obj.TaskResultAsync(submitted[0])));
        Console.WriteLine($"read one result: median {Ms(read)} = {read / b.Ping:0.0} × PING");
        var waitDone = Median(await Repeat(b.RoundTrips, async () => await b.Obj.TaskWaitAsync(submitted[0])));
        Console.WriteLine($"wait on a finished task: median {Ms(waitDone)} = {waitDone / b.Ping:0.0} × PING");
        await b.Obj.TaskDeleteAsync(submitted);

        // The peer, measured now against the same server: one trivial job at a time, its worker in a process of its own.
        if (await b.Peer.RunAsync("roundtrip", b.RoundTrips, (long)b.WarmUp.TotalMilliseconds) is { } run)
        {
            var (bm, bp) = (run.GetProperty("median").GetDouble(), run.GetProperty("p90").GetDouble());
            Console.WriteLine($"{b.Peer.Name} round trip (add → waitUntilFinished → value), 1 worker process: median {Ms(bm)}, p90 {Ms(bp)} = " +
                $"{bm / b.Ping:0.0} × PING; BullMQ's median ÷ Rrq's = {bm / b.RoundTrip:0.00}  (above 1: Rrq is faster; budget: at least 2.5)");
            Console.WriteLine($"  Redis per round trip: {RedisWork.FromPeer(run)}");
        }
    }
}
