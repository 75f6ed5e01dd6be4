namespace Rrq.Bench;

/// <summary>Bulk submission, and bulk-submitted tasks run by two worker processes and by one of 8 slots, each against BullMQ; worker and Redis memory (<c>--only bulk</c>).</summary>
internal static class BulkSection
{
    public static async Task RunAsync(Bench b, RrqWorkerSpawnResult one, RrqWorkerSpawnResult two)
    {
        // A worker process's memory, idle (warmed up above), as the machine sees it.
        var idlePss = one.Pids.Values.Concat(two.Pids.Values).Select(PssKb).Max();
        // 2b. Bulk: submitting 10,000 tasks in one call, and 2,048 bulk-submitted tasks run and collected.
        {
            var sw = Stopwatch.StartNew();
            var ids = await b.Obj.TaskCreateBulkExprAsync("i + 1", Enumerable.Range(0, 10_000).Select(i => (object)new { i }));
            var submitMs = sw.Elapsed.TotalMilliseconds;
            Console.WriteLine($"bulk submit of 10,000 tasks: {Ms(submitMs)} = {submitMs / 10_000 * 1000:0.0} µs per task = {submitMs / 10_000 / b.Ping:0.00} × PING per task  (budget 500 ms)");
            await b.Obj.TaskWaitAsync(ids, TimeSpan.FromMinutes(5), progress: false);
            await b.Obj.TaskDeleteAsync(ids);
        }
        // Three runs; the median one is reported with where its time went: each phase's wall time, and
        // the CPU each process used while the workers ran (the machine has two cores for all of them).
        int[] pids = [b.Server?.Pid ?? 0, Environment.ProcessId, .. one.Pids.Values, .. two.Pids.Values];
        var runs = new List<BulkRun>();
        for (var r = 0; r < 3; r++)
        {
            runs.Add(await BulkPhases(b.Obj, b.BulkSize, pids));
        }
        var m = runs.OrderBy(x => x.PerTask).ElementAt(1);
        Console.WriteLine($"{b.BulkSize} tasks bulk-submitted, 2 workers (median of 3): {Ms(m.PerTask * b.BulkSize)} total, {Ms(m.PerTask)} per task = {m.PerTask / b.Ping:0.0} × PING  (budget 0.3 ms)");
        Console.WriteLine($"  submit {Ms(m.Submit)}, run and wait {Ms(m.Wait)}, read results {Ms(m.Results)}; then delete {Ms(m.Delete)}. " +
            $"CPU while running: redis-server {m.Cpu[0]:0} ms, controller {m.Cpu[1]:0} ms, workers {m.Cpu[2]:0} and {m.Cpu[3]:0} ms");
        Console.WriteLine($"  Redis per task: {await RedisPerTask(b.Obj, b.Mux, b.BulkSize)}");
        var busyPss = one.Pids.Values.Concat(two.Pids.Values).Select(PssKb).Max();
        Console.WriteLine($"worker process memory (PSS, the larger of the two): idle {idlePss / 1024.0:0} MiB, after these runs {busyPss / 1024.0:0} MiB  (budget: 250 MB)");
        // The peer, the same workload (added in bulk, run, every value read; median of 3), then with 8 jobs at once in one process.
        if (await b.Peer.RunAsync("bulk", b.BulkSize, 2, 1) is { } b2)
        {
            var per = b2.GetProperty("perTask").GetDouble();
            Console.WriteLine($"{b.Peer.Name}: {b.BulkSize} jobs bulk-added, 2 worker processes: {Ms(per)} per task = {per / b.Ping:0.0} × PING; " +
                $"BullMQ ÷ Rrq = {per / m.PerTask:0.00}  (above 1: Rrq is faster; budget: at least 2)");
            Console.WriteLine($"  Redis per task: {RedisWork.FromPeer(b2)}");
        }
        // One worker process of 8 slots (Concurrency = 8, all else default), the two above paused meanwhile.
        string[] paired = [.. one.Ids, .. two.Ids];
        await b.Obj.MessageSendAndWaitAsync("PAUSE", workerIds: paired, timeout: TimeSpan.FromSeconds(30), progress: false);
        await b.Obj.WorkerConfigSaveAsync("slots8", new RrqWorkerConfig { Concurrency = int.Parse(Environment.GetEnvironmentVariable("SLOTS") ?? "8", System.Globalization.CultureInfo.InvariantCulture) });
        var eight = await b.Obj.WorkerSpawnAsync(1, "slots8");
        // Warmed as the two above were by the runs before (their code compiled by the JIT's later tiers): two runs not timed.
        for (var r = 0; r < 2; r++)
        {
            await BulkPhases(b.Obj, b.BulkSize, []);
        }
        var idle8 = PssKb(eight.Pids.Values.Single());
        int[] pids8 = [b.Server?.Pid ?? 0, Environment.ProcessId, .. eight.Pids.Values];
        var runs8 = new List<BulkRun>();
        for (var r = 0; r < 3; r++)
        {
            runs8.Add(await BulkPhases(b.Obj, b.BulkSize, pids8));
        }
        var m8 = runs8.OrderBy(x => x.PerTask).ElementAt(1);
        var work8 = await RedisPerTask(b.Obj, b.Mux, b.BulkSize);
        // Busy: 8 tasks that wait, holding every slot, while the memory is read.
        var holding = await b.Obj.TaskCreateBulkExprAsync("System.Threading.Thread.Sleep(1500); i", Enumerable.Range(0, 8).Select(i => (object)new { i }));
        await Task.Delay(700);
        var busy8 = PssKb(eight.Pids.Values.Single());
        await b.Obj.TaskWaitAsync(holding, TimeSpan.FromMinutes(1), progress: false);
        await b.Obj.TaskDeleteAsync(holding);
        Console.WriteLine($"{b.BulkSize} tasks bulk-submitted, 1 worker process of 8 slots (median of 3): {Ms(m8.PerTask * b.BulkSize)} total, {Ms(m8.PerTask)} per task = " +
            $"{m8.PerTask / b.Ping:0.0} × PING  (budget 0.1 ms)");
        Console.WriteLine($"  CPU while running: redis-server {m8.Cpu[0]:0} ms, controller {m8.Cpu[1]:0} ms, worker {m8.Cpu[2]:0} ms; Redis per task: {work8}");
        Console.WriteLine($"  worker memory (PSS): idle {idle8 / 1024.0:0} MiB, 8 tasks running {busy8 / 1024.0:0} MiB  (budget: 250 MB)");
        await b.Obj.WorkerStopAsync(eight.Ids, timeout: TimeSpan.FromSeconds(30));
        await b.Obj.MessageSendAndWaitAsync("RESUME", workerIds: paired, timeout: TimeSpan.FromSeconds(30), progress: false);
        if (await b.Peer.RunAsync("bulk", b.BulkSize, 1, 8) is { } b8)
        {
            var per = b8.GetProperty("perTask").GetDouble();
            Console.WriteLine($"{b.Peer.Name}: {b.BulkSize} jobs bulk-added, 1 worker process running 8 at once: {Ms(per)} per task = {per / b.Ping:0.0} × PING; " +
                $"BullMQ ÷ Rrq = {per / m8.PerTask:0.00}  (above 1: Rrq is faster; budget: at least 2)");
            Console.WriteLine($"  Redis per task: {RedisWork.FromPeer(b8)}");
        }

        // Redis memory per finished trivial task (everything stored for it, result included).
        var before = await UsedMemory(b.Mux);
        var kept = await b.Obj.TaskCreateBulkExprAsync("i + 1", Enumerable.Range(0, 10_000).Select(i => (object)new { i }));
        await b.Obj.TaskWaitAsync(kept, TimeSpan.FromMinutes(5), progress: false);
        var after = await UsedMemory(b.Mux);
        Console.WriteLine($"Redis memory per finished trivial task: {(after - before) / 10_000.0:0} bytes");
        await b.Obj.TaskDeleteAsync(kept);
    }
}
