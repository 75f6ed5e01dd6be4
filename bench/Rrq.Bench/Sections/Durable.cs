namespace Rrq.Bench;

/// <summary>Durable submissions: one task submitted plain and with Durability (WAIT for one replica), a replica attached (<c>--only durable</c>).</summary>
internal static class DurableSection
{
    public static async Task RunAsync(Bench b, RedisProcess server)
    {
        // Durable submissions: one task submitted with no worker, plain and with Durability (WAIT for one replica), with a
        // replica attached to the private server for both, alternating so that the machine's noise falls on both alike.
        using var replica = RedisProcess.StartReplicaOf(server.Address);
        while (!(await b.Mux.GetServer(b.Mux.GetEndPoints()[0]).InfoRawAsync("replication") ?? "").Contains("state=online", StringComparison.Ordinal))
        {
            await Task.Delay(50);
        }
        var durableQueue = b.Queue + ":durable";
        await using var plainObj = await RrqController.ConnectAsync(durableQueue, b.Address);
        await using var durableObj = await RrqController.ConnectAsync(durableQueue, b.Address);
        durableObj.Durability = new RrqDurability(1, TimeSpan.FromSeconds(1));
        var n = b.Quick ? 200 : 1000;
        var (plainTimes, durableTimes) = (new List<double>(), new List<double>());
        for (var i = 0; i < n; i++)
        {
            var sw = Stopwatch.StartNew();
            await plainObj.TaskCreateExprAsync("i", new { i });
            plainTimes.Add(sw.Elapsed.TotalMilliseconds);
            sw.Restart();
            await durableObj.TaskCreateExprAsync("i", new { i });
            durableTimes.Add(sw.Elapsed.TotalMilliseconds);
        }
        var (plainMs, durableMs) = (Median([.. plainTimes]), Median([.. durableTimes]));
        Console.WriteLine($"submit one task with a replica attached: plain median {Ms(plainMs)} = {plainMs / b.Ping:0.0} × PING; " +
            $"Durability (WAIT 1) median {Ms(durableMs)} = {durableMs / b.Ping:0.0} × PING, p90 {Ms(P90([.. durableTimes]))}; " +
            $"durable ÷ plain {durableMs / plainMs:0.00}, + {Ms(durableMs - plainMs)} a submit");
        await plainObj.DestroyAsync(workerStop: null);
    }
}
