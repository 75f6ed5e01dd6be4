using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Rrq;
using StackExchange.Redis;

// Rrq benchmark. Starts a private redis-server (unless RRQ_REDIS is set), measures a baseline
// (Redis PING from this process) and then Rrq, and reports Rrq's figures both in time and as
// ratios to the baseline measured in the same run, because the machine is shared and noisy.
// Workers run on the default config, as a user starts them. The peer, BullMQ, runs the same
// workloads against the same server in the same run (bench/peers/bullmq, installed there with npm
// on first use; skipped, saying so, without Node.js).
//
//   dotnet run -c Release --project bench/Rrq.Bench [-- --quick] [-- --only SECTION]
//
// SECTION is one of roundtrip, many, bulk, separate, death, scripts, scale, retention, durable, layout, dashboard, slurm (default:
// all of them, in that order; slurm runs when SLURM_CONF names a Slurm this machine can submit to).

var quick = args.Contains("--quick");
var only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
string[] sections = ["roundtrip", "many", "bulk", "separate", "death", "scripts", "scale", "retention", "durable", "layout", "dashboard", "slurm"];
if (only is not null && !sections.Contains(only))
{
    Console.Error.WriteLine($"--only takes one of: {string.Join(", ", sections)}");
    return 2;
}
bool Section(string name) => only is null || only == name;
var roundTrips = quick ? 200 : 2000;
var warmUp = TimeSpan.FromSeconds(quick ? 2 : 10);
var bulk = quick ? 256 : 2048;

using var server = RedisProcess.StartUnlessConfigured();
var address = server?.Address ?? Environment.GetEnvironmentVariable("RRQ_REDIS")!;
Console.WriteLine($"Redis: {address}{(server is null ? " (RRQ_REDIS)" : " (private redis-server)")}");

using var mux = await ConnectionMultiplexer.ConnectAsync(address + ",allowAdmin=true");
var db = mux.GetDatabase();
var ping = Median(await Repeat(roundTrips, async () => await db.PingAsync()));
Console.WriteLine($"baseline: Redis PING round trip, median {Ms(ping)}");

var queue = "rrq-bench:" + Guid.NewGuid().ToString("N")[..8];
var peer = new BullMqPeer(mux.GetEndPoints()[0]);
await using var obj = await RrqController.ConnectAsync(queue, address);
var rt = double.NaN;

if (Section("roundtrip") || Section("many") || Section("bulk"))
{
    var one = await obj.WorkerSpawnAsync(1);   // the default config, as a user starts them
    // Warm-up: the expression compiled, connections made, and both processes' JIT settled (tiered compilation takes a
    // few seconds of steady work to finish; the peer gets the same time).
    var warming = Stopwatch.StartNew();
    for (var i = 0; warming.Elapsed < warmUp || i < 50; i++)
    {
        await RoundTrip(obj, i);
    }

    if (Section("roundtrip"))
    {
        // 1. Round trip of one trivial task with one worker already running.
        var done = new List<string>();
        var work0 = await RedisWork.ReadAsync(mux);
        var rtTimes = await Repeat(roundTrips, async () => done.Add(await RoundTrip(obj, 1)));
        rt = Median(rtTimes);
        var rtWork = (await RedisWork.ReadAsync(mux)).Minus(work0).Per(roundTrips);
        // Where the time goes, by the server's clock: submitted → claimed (the worker is woken and
        // claims), claimed → recorded (the worker runs it and records it); the rest is the submit's way
        // in and the completion notice's way back to the waiting controller.
        var times = await obj.TaskTimesAsync(done, follow: false);
        var toStart = Median([.. times.Select(x => (x.Start!.Value - x.Submit!.Value).TotalMilliseconds)]);
        var toComplete = Median([.. times.Select(x => (x.Complete!.Value - x.Start!.Value).TotalMilliseconds)]);
        await obj.TaskDeleteAsync(done);
        Console.WriteLine($"round trip (submit → wait → result), 1 worker: median {Ms(rt)}, p90 {Ms(P90(rtTimes))} = {rt / ping:0.0} × PING  (budget 1 ms)");
        Console.WriteLine($"  by the server's clock: submitted → claimed {Ms(toStart)}, claimed → recorded {Ms(toComplete)}; " +
            $"the rest (the submit's way in, the notice's way out) {Ms(rt - toStart - toComplete)}");
        Console.WriteLine($"  Redis per round trip: {rtWork}");

        // Pieces of the round trip: submitting alone, and reading a finished task's result.
        var submitted = new List<string>();
        var submit = Median(await Repeat(roundTrips, async () => submitted.Add(await obj.TaskCreateExprAsync("i + 1", new { i = 1 }))));
        Console.WriteLine($"submit one task: median {Ms(submit)} = {submit / ping:0.0} × PING");
        await obj.TaskWaitAsync(submitted, TimeSpan.FromMinutes(1));
        var read = Median(await Repeat(roundTrips, async () => await obj.TaskResultAsync(submitted[0])));
        Console.WriteLine($"read one result: median {Ms(read)} = {read / ping:0.0} × PING");
        var waitDone = Median(await Repeat(roundTrips, async () => await obj.TaskWaitAsync(submitted[0])));
        Console.WriteLine($"wait on a finished task: median {Ms(waitDone)} = {waitDone / ping:0.0} × PING");
        await obj.TaskDeleteAsync(submitted);

        // The peer, measured now against the same server: one trivial job at a time, its worker in a process of its own.
        if (await peer.RunAsync("roundtrip", roundTrips, (long)warmUp.TotalMilliseconds) is { } b)
        {
            var (bm, bp) = (b.GetProperty("median").GetDouble(), b.GetProperty("p90").GetDouble());
            Console.WriteLine($"{peer.Name} round trip (add → waitUntilFinished → value), 1 worker process: median {Ms(bm)}, p90 {Ms(bp)} = " +
                $"{bm / ping:0.0} × PING; BullMQ's median ÷ Rrq's = {bm / rt:0.00}  (above 1: Rrq is faster; budget: at least 2.5)");
            Console.WriteLine($"  Redis per round trip: {RedisWork.FromPeer(b)}");
        }
    }

    // 2. Many trivial tasks: submit them all, wait for all, read all results.
    if (Section("many"))
    {
        var perTask1 = await Many(obj, bulk);
        Console.WriteLine($"{bulk} tasks, 1 worker: {Ms(perTask1 * bulk)} total, {Ms(perTask1)} per task = {perTask1 / ping:0.0} × PING");
    }
    var two = await obj.WorkerSpawnAsync(1);
    // Warm the new worker too: keep the first one busy so the second compiles "i + 1" now, not mid-run.
    var blocker = await obj.TaskCreateExprAsync("System.Threading.Thread.Sleep(3000)");
    await Task.Delay(200);
    for (var i = 0; i < 20; i++)
    {
        await RoundTrip(obj, i);
    }
    await obj.TaskWaitAsync(blocker, TimeSpan.FromSeconds(30));
    if (Section("many"))
    {
        var perTask2 = await Many(obj, bulk);
        Console.WriteLine($"{bulk} tasks, 2 workers: {Ms(perTask2 * bulk)} total, {Ms(perTask2)} per task = {perTask2 / ping:0.0} × PING");
    }

    if (Section("bulk"))
    {
        // A worker process's memory, idle (warmed up above), as the machine sees it.
        var idlePss = one.Pids.Values.Concat(two.Pids.Values).Select(PssKb).Max();
        // 2b. Bulk: submitting 10,000 tasks in one call, and 2,048 bulk-submitted tasks run and collected.
        {
            var sw = Stopwatch.StartNew();
            var ids = await obj.TaskCreateBulkExprAsync("i + 1", Enumerable.Range(0, 10_000).Select(i => (object)new { i }));
            var submitMs = sw.Elapsed.TotalMilliseconds;
            Console.WriteLine($"bulk submit of 10,000 tasks: {Ms(submitMs)} = {submitMs / 10_000 * 1000:0.0} µs per task = {submitMs / 10_000 / ping:0.00} × PING per task  (budget 500 ms)");
            await obj.TaskWaitAsync(ids, TimeSpan.FromMinutes(5), progress: false);
            await obj.TaskDeleteAsync(ids);
        }
        // Three runs; the median one is reported with where its time went: each phase's wall time, and
        // the CPU each process used while the workers ran (the machine has two cores for all of them).
        int[] pids = [server?.Pid ?? 0, Environment.ProcessId, .. one.Pids.Values, .. two.Pids.Values];
        var runs = new List<BulkRun>();
        for (var r = 0; r < 3; r++)
        {
            runs.Add(await BulkPhases(obj, bulk, pids));
        }
        var m = runs.OrderBy(x => x.PerTask).ElementAt(1);
        Console.WriteLine($"{bulk} tasks bulk-submitted, 2 workers (median of 3): {Ms(m.PerTask * bulk)} total, {Ms(m.PerTask)} per task = {m.PerTask / ping:0.0} × PING  (budget 0.3 ms)");
        Console.WriteLine($"  submit {Ms(m.Submit)}, run and wait {Ms(m.Wait)}, read results {Ms(m.Results)}; then delete {Ms(m.Delete)}. " +
            $"CPU while running: redis-server {m.Cpu[0]:0} ms, controller {m.Cpu[1]:0} ms, workers {m.Cpu[2]:0} and {m.Cpu[3]:0} ms");
        Console.WriteLine($"  Redis per task: {await RedisPerTask(obj, mux, bulk)}");
        var busyPss = one.Pids.Values.Concat(two.Pids.Values).Select(PssKb).Max();
        Console.WriteLine($"worker process memory (PSS, the larger of the two): idle {idlePss / 1024.0:0} MiB, after these runs {busyPss / 1024.0:0} MiB  (budget: 250 MB)");
        // The peer, the same workload (added in bulk, run, every value read; median of 3), then with 8 jobs at once in one process.
        if (await peer.RunAsync("bulk", bulk, 2, 1) is { } b2)
        {
            var per = b2.GetProperty("perTask").GetDouble();
            Console.WriteLine($"{peer.Name}: {bulk} jobs bulk-added, 2 worker processes: {Ms(per)} per task = {per / ping:0.0} × PING; " +
                $"BullMQ ÷ Rrq = {per / m.PerTask:0.00}  (above 1: Rrq is faster; budget: at least 2)");
            Console.WriteLine($"  Redis per task: {RedisWork.FromPeer(b2)}");
        }
        // One worker process of 8 slots (Concurrency = 8, all else default), the two above paused meanwhile.
        string[] paired = [.. one.Ids, .. two.Ids];
        await obj.MessageSendAndWaitAsync("PAUSE", workerIds: paired, timeout: TimeSpan.FromSeconds(30), progress: false);
        await obj.WorkerConfigSaveAsync("slots8", new RrqWorkerConfig { Concurrency = int.Parse(Environment.GetEnvironmentVariable("SLOTS") ?? "8", System.Globalization.CultureInfo.InvariantCulture) });
        var eight = await obj.WorkerSpawnAsync(1, "slots8");
        // Warmed as the two above were by the runs before (their code compiled by the JIT's later tiers): two runs not timed.
        for (var r = 0; r < 2; r++)
        {
            await BulkPhases(obj, bulk, []);
        }
        var idle8 = PssKb(eight.Pids.Values.Single());
        int[] pids8 = [server?.Pid ?? 0, Environment.ProcessId, .. eight.Pids.Values];
        var runs8 = new List<BulkRun>();
        for (var r = 0; r < 3; r++)
        {
            runs8.Add(await BulkPhases(obj, bulk, pids8));
        }
        var m8 = runs8.OrderBy(x => x.PerTask).ElementAt(1);
        var work8 = await RedisPerTask(obj, mux, bulk);
        // Busy: 8 tasks that wait, holding every slot, while the memory is read.
        var holding = await obj.TaskCreateBulkExprAsync("System.Threading.Thread.Sleep(1500); i", Enumerable.Range(0, 8).Select(i => (object)new { i }));
        await Task.Delay(700);
        var busy8 = PssKb(eight.Pids.Values.Single());
        await obj.TaskWaitAsync(holding, TimeSpan.FromMinutes(1), progress: false);
        await obj.TaskDeleteAsync(holding);
        Console.WriteLine($"{bulk} tasks bulk-submitted, 1 worker process of 8 slots (median of 3): {Ms(m8.PerTask * bulk)} total, {Ms(m8.PerTask)} per task = " +
            $"{m8.PerTask / ping:0.0} × PING  (budget 0.1 ms)");
        Console.WriteLine($"  CPU while running: redis-server {m8.Cpu[0]:0} ms, controller {m8.Cpu[1]:0} ms, worker {m8.Cpu[2]:0} ms; Redis per task: {work8}");
        Console.WriteLine($"  worker memory (PSS): idle {idle8 / 1024.0:0} MiB, 8 tasks running {busy8 / 1024.0:0} MiB  (budget: 250 MB)");
        await obj.WorkerStopAsync(eight.Ids, timeout: TimeSpan.FromSeconds(30));
        await obj.MessageSendAndWaitAsync("RESUME", workerIds: paired, timeout: TimeSpan.FromSeconds(30), progress: false);
        if (await peer.RunAsync("bulk", bulk, 1, 8) is { } b8)
        {
            var per = b8.GetProperty("perTask").GetDouble();
            Console.WriteLine($"{peer.Name}: {bulk} jobs bulk-added, 1 worker process running 8 at once: {Ms(per)} per task = {per / ping:0.0} × PING; " +
                $"BullMQ ÷ Rrq = {per / m8.PerTask:0.00}  (above 1: Rrq is faster; budget: at least 2)");
            Console.WriteLine($"  Redis per task: {RedisWork.FromPeer(b8)}");
        }

        // Redis memory per finished trivial task (everything stored for it, result included).
        var before = await UsedMemory(mux);
        var kept = await obj.TaskCreateBulkExprAsync("i + 1", Enumerable.Range(0, 10_000).Select(i => (object)new { i }));
        await obj.TaskWaitAsync(kept, TimeSpan.FromMinutes(5), progress: false);
        var after = await UsedMemory(mux);
        Console.WriteLine($"Redis memory per finished trivial task: {(after - before) / 10_000.0:0} bytes");
        await obj.TaskDeleteAsync(kept);
    }
    await obj.WorkerStopAsync(timeout: TimeSpan.FromSeconds(30));
    one.Kill();
    two.Kill();
}

if (Section("separate"))
{
    // 3. Separate-process tasks as a user meets them: a worker on the default config, tasks submitted
    // one after another, each as soon as the last result is read (nothing waits for a child to be ready).
    if (double.IsNaN(rt))
    {
        var inProc = await obj.WorkerSpawnAsync(1);
        for (var i = 0; i < 50; i++)
        {
            await RoundTrip(obj, i);
        }
        rt = Median(await Repeat(quick ? 50 : 200, async () => await RoundTrip(obj, 1)));
        await obj.WorkerStopAsync(timeout: TimeSpan.FromSeconds(30));
        inProc.Kill();
    }
    var sep = await obj.WorkerSpawnAsync(1);
    var workerPid = sep.Pids.Values.Single();

    // The first separate-process task of a worker that has just started.
    var sw = Stopwatch.StartNew();
    await RoundTripSeparate(obj, "i + 1", 0);
    Console.WriteLine($"first separate-process task after the worker started: {Ms(sw.Elapsed.TotalMilliseconds)}  (budget 1 s)");

    // Back to back, one expression, as a loop over data would send them.
    // CPU is counted over the last two thirds: a worker that has just started is still recompiling the
    // compiler's hot code at full speed in the background (tiered JIT), a one-off cost.
    var n = quick ? 12 : 60;
    double cpu0 = 0, own0 = 0;
    var backToBack = new List<double>();
    for (var i = 0; i < n; i++)
    {
        if (i == n / 3)
        {
            (cpu0, own0) = (CpuMsWithChildren(workerPid), CpuMs(workerPid));
        }
        sw.Restart();
        await RoundTripSeparate(obj, "i + 1", i);
        backToBack.Add(sw.Elapsed.TotalMilliseconds);
    }
    var counted = n - n / 3;
    var cpuPerTask = (CpuMsWithChildren(workerPid) - cpu0) / counted;
    var ownPerTask = (CpuMs(workerPid) - own0) / counted;
    var b2b = Median([.. backToBack]);
    var p90 = backToBack.Order().ElementAt((int)Math.Ceiling(0.9 * n) - 1);
    Console.WriteLine($"separate-process round trip, back to back, default config: median {Ms(b2b)}, p90 {Ms(p90)} = " +
        $"{b2b / rt:0} × in-process ({Ms(rt)})  (budget: median 100 ms, p90 200 ms)");
    Console.WriteLine($"  in order: {string.Join(", ", backToBack.Select(x => x.ToString("0", CultureInfo.InvariantCulture)))} ms");
    Console.WriteLine($"  CPU per task, worker and its children, last {counted} tasks: {cpuPerTask / 1000:0.000} s (worker {ownPerTask / 1000:0.000} s)  (budget 0.15 s)");

    // A new expression each time: the worker compiles each one (in-process tasks pay the same).
    var fresh = new List<double>();
    for (var i = 0; i < (quick ? 5 : 15); i++)
    {
        sw.Restart();
        await RoundTripSeparate(obj, $"i + {i + 2}", i);
        fresh.Add(sw.Elapsed.TotalMilliseconds);
    }
    Console.WriteLine($"separate-process round trip, back to back, a new expression each time: median {Ms(Median([.. fresh]))}");

    // The child the worker keeps ready while it idles: its memory, and a task that finds it ready.
    await Task.Delay(2000);
    var ready = ChildPids(workerPid);
    var rss = ready.Select(RssKb).Where(k => k > 0).ToArray();
    Console.WriteLine($"ready children while idle: {ready.Length}, RSS {string.Join(", ", rss.Select(k => $"{k / 1024.0:0.0} MiB"))}");
    var readyTimes = new List<double>();
    for (var i = 0; i < (quick ? 3 : 10); i++)
    {
        await Task.Delay(1000);   // a child is ready (measured above: it starts in well under a second)
        sw.Restart();
        await RoundTripSeparate(obj, "i + 1", i);
        readyTimes.Add(sw.Elapsed.TotalMilliseconds);
    }
    var readyMedian = Median([.. readyTimes]);
    Console.WriteLine($"separate-process round trip, child ready (a pause before each task): median {Ms(readyMedian)} = {readyMedian / rt:0} × in-process");
    await obj.WorkerStopAsync(timeout: TimeSpan.FromSeconds(30));
    sep.Kill();
}

if (Section("death"))
{
    // 4. From SIGKILL of a busy worker to its task DIED, heartbeat period 1 s, with nobody calling
    // anything: another worker's sweep finds it. Bound: 3 periods (expiry) + 1 (sweep).
    await obj.WorkerConfigSaveAsync("hb", new RrqWorkerConfig { Verbose = false, HeartbeatPeriod = TimeSpan.FromSeconds(1) });
    var deaths = new List<double>();
    for (var i = 0; i < (quick ? 1 : 3); i++)
    {
        var pair = await obj.WorkerSpawnAsync(2, "hb");
        var t = await obj.TaskCreateExprAsync("System.Threading.Thread.Sleep(3_600_000)");
        while (await obj.TaskStatusAsync(t) != RrqTaskStatus.Running)
        {
            await Task.Delay(10);
        }
        var busy = (await obj.TaskInfoAsync(t)).Worker!;
        var waiting = obj.TaskWaitAsync(t, TimeSpan.FromMinutes(1));
        var sw = Stopwatch.StartNew();
        pair.Kill(busy);
        await waiting;
        deaths.Add(sw.Elapsed.TotalMilliseconds);
        if (await obj.TaskStatusAsync(t) != RrqTaskStatus.Died)
        {
            throw new InvalidOperationException("the killed worker's task is not DIED");
        }
        await obj.WorkerStopAsync(timeout: TimeSpan.FromSeconds(30));
        pair.Kill();
    }
    var death = Median([.. deaths]);
    Console.WriteLine($"SIGKILL to DIED, heartbeat 1 s, automatic detection: median {death / 1000:0.00} s = {death / 1000:0.0} × period  (bound 4 periods)");
}

if (Section("scripts"))
{
    // 5. Large changes: how long Redis is held by the longest single script (SLOWLOG, which logs the scripts that
    // took over 1 ms; the commands inside a script are logged too, and are far quicker), and by all of them
    // (INFO commandstats). No workers on this queue: what is queued stays queued.
    var admin = mux.GetServer(mux.GetEndPoints()[0]);
    await admin.ConfigSetAsync("slowlog-log-slower-than", 1000);
    await admin.ConfigSetAsync("slowlog-max-len", 10000);
    await using var big = await RrqController.ConnectAsync(queue + ":scripts", address);
    async Task Measure(string what, Func<Task> op)
    {
        await admin.SlowlogResetAsync();
        var (calls0, usec0) = await ScriptStats(mux);
        var sw = Stopwatch.StartNew();
        await op();
        var wall = sw.Elapsed.TotalMilliseconds;
        var (calls1, usec1) = await ScriptStats(mux);
        var longest = (await admin.SlowlogGetAsync(10000))
            .Where(t => t.Arguments.Length > 0 && ((string?)t.Arguments[0])?.StartsWith("EVAL", StringComparison.OrdinalIgnoreCase) == true)
            .Select(t => t.Duration.TotalMilliseconds).DefaultIfEmpty(0).Max();
        Console.WriteLine($"{what}: longest script {(longest == 0 ? "under 1 ms" : Ms(longest))}, {calls1 - calls0} scripts, " +
            $"{Ms((usec1 - usec0) / 1000.0)} of Redis in all = {(usec1 - usec0) / 1000.0 / ping:0} × PING, {Ms(wall)} for the caller  (budget: each script under 10 ms)");
    }
    var size = quick ? 10_000 : 100_000;
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

if (Section("scale"))
{
    // 6. Does a task cost more when the queue is long? Redis time per script call while submitting (one task per
    // call) and while a worker claims and finishes tasks, with 1,000 and with 1,000,000 tasks queued. Both queues are
    // filled first; then their windows alternate, five each, so that the shared machine's drift falls on both alike
    // (the other queue's worker is paused meanwhile); each figure is the median of its five windows.
    var sizes = new[] { 1_000, quick ? 100_000 : 1_000_000 };
    var qs = new RrqController[2];
    var fillers = new string[2][];
    var wids = new string[2];
    for (var s = 0; s < 2; s++)
    {
        qs[s] = await RrqController.ConnectAsync(queue + ":scale" + s, address);
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
            var (c0, u0) = await ScriptStats(mux);
            for (var i = 0; i < 100; i++)
            {
                await qs[s].TaskCreateExprAsync("1");
            }
            var (c1, u1) = await ScriptStats(mux);
            submitUs[s].Add((u1 - u0) / (double)(c1 - c0));
            var window = fillers[s].Skip(1 + 150 * r).Take(150).ToArray();
            var (c2, u2) = await ScriptStats(mux);
            await qs[s].MessageSendAndWaitAsync("RESUME", workerIds: [wids[s]], timeout: TimeSpan.FromSeconds(30));
            await qs[s].TaskWaitAsync(window, TimeSpan.FromMinutes(5), progress: false);
            await qs[s].MessageSendAndWaitAsync("PAUSE", workerIds: [wids[s]], timeout: TimeSpan.FromSeconds(30));
            var (c3, u3) = await ScriptStats(mux);
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

if (Section("retention"))
{
    // 7. Redis memory per finished trivial task, after retention has expired them (their tombstones remain), and
    // once the tombstones have gone too: back to the baseline. Counted as the memory of this queue's own keys (MEMORY
    // USAGE of each, exact): the server's used_memory also moves as it frees what earlier sections deleted.
    var admin = mux.GetServer(mux.GetEndPoints()[0]);
    var retentionQueue = queue + ":retention";
    async Task<long> Used()
    {
        long bytes = 0;
        await foreach (var key in admin.KeysAsync(pattern: "{" + retentionQueue + "}:*"))
        {
            bytes += (long)(await db.ExecuteAsync("MEMORY", "USAGE", key, "SAMPLES", "0"));
        }
        return bytes;
    }
    var n = quick ? 2_000 : 20_000;
    await using var q = await RrqController.ConnectAsync(retentionQueue, address);
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

if (Section("durable") && server is not null)
{
    // Durable submissions: one task submitted with no worker, plain and with Durability (WAIT for one replica), with a
    // replica attached to the private server for both, alternating so that the machine's noise falls on both alike.
    using var replica = RedisProcess.StartReplicaOf(server.Address);
    while (!(await mux.GetServer(mux.GetEndPoints()[0]).InfoRawAsync("replication") ?? "").Contains("state=online", StringComparison.Ordinal))
    {
        await Task.Delay(50);
    }
    var durableQueue = queue + ":durable";
    await using var plainObj = await RrqController.ConnectAsync(durableQueue, address);
    await using var durableObj = await RrqController.ConnectAsync(durableQueue, address);
    durableObj.Durability = new RrqDurability(1, TimeSpan.FromSeconds(1));
    var n = quick ? 200 : 1000;
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
    Console.WriteLine($"submit one task with a replica attached: plain median {Ms(plainMs)} = {plainMs / ping:0.0} × PING; " +
        $"Durability (WAIT 1) median {Ms(durableMs)} = {durableMs / ping:0.0} × PING, p90 {Ms(P90([.. durableTimes]))}; " +
        $"durable ÷ plain {durableMs / plainMs:0.00}, + {Ms(durableMs - plainMs)} a submit");
    await plainObj.DestroyAsync(workerStop: null);
}

if (Section("layout"))
{
    // The key layout, measured apart from everything else: the writes and reads of a task's life (submit, claim,
    // finish) and a bulk status read, run inside single scripts so only Redis's own work is timed. Rrq keeps one hash
    // per field, keyed by task id (rrq's layout); the alternative is one hash per task (BullMQ's), with the status
    // also kept in a per-field hash for bulk reads.
    var n = quick ? 2_000 : 20_000;
    const string perField = """
        local n, p = tonumber(ARGV[1]), ARGV[2]
        for i = 1, n do
          local id = p .. i
          redis.call('HSET', p .. 'expr', id, 'i + 1')
          redis.call('HSET', p .. 'local', id, 'TRUE')
          redis.call('HSET', p .. 'status', id, 'PENDING')
          redis.call('HSET', p .. 'queue', id, 'default')
          redis.call('HSET', p .. 'time_submit', id, '1764689000.123456')
          redis.call('RPUSH', p .. 'list', id)
        end
        for i = 1, n do
          local id = redis.call('LPOP', p .. 'list')
          if redis.call('HGET', p .. 'status', id) == 'PENDING' then
            redis.call('HGET', p .. 'expr', id)
            redis.call('HGET', p .. 'local', id)
            redis.call('HSET', p .. 'status', id, 'RUNNING')
            redis.call('HSET', p .. 'worker', id, 'brave_otter_1')
            redis.call('HSET', p .. 'time_start', id, '1764689000.223456')
            redis.call('HSET', p .. 'claim', id, 'a1b2c3d4e5f6.17')
          end
        end
        for i = 1, n do
          local id = p .. i
          if redis.call('HGET', p .. 'status', id) == 'RUNNING' and redis.call('HGET', p .. 'worker', id) == 'brave_otter_1'
              and redis.call('HGET', p .. 'claim', id) == 'a1b2c3d4e5f6.17' then
            redis.call('HSET', p .. 'status', id, 'COMPLETE')
            redis.call('HSET', p .. 'claim', id, 'a1b2c3d4e5f6.17:done')
            redis.call('HSET', p .. 'result', id, 'abcdefgh')
            redis.call('HSET', p .. 'time_complete', id, '1764689000.323456')
          end
        end
        return n
        """;
    const string perTask = """
        local n, p = tonumber(ARGV[1]), ARGV[2]
        for i = 1, n do
          local id = p .. i
          redis.call('HSET', p .. 'task:' .. id, 'expr', 'i + 1', 'local', 'TRUE', 'status', 'PENDING', 'queue', 'default',
            'time_submit', '1764689000.123456')
          redis.call('HSET', p .. 'status', id, 'PENDING')
          redis.call('RPUSH', p .. 'list', id)
        end
        for i = 1, n do
          local id = redis.call('LPOP', p .. 'list')
          local key = p .. 'task:' .. id
          local f = redis.call('HMGET', key, 'status', 'expr', 'local')
          if f[1] == 'PENDING' then
            redis.call('HSET', key, 'status', 'RUNNING', 'worker', 'brave_otter_1', 'time_start', '1764689000.223456',
              'claim', 'a1b2c3d4e5f6.17')
            redis.call('HSET', p .. 'status', id, 'RUNNING')
          end
        end
        for i = 1, n do
          local id = p .. i
          local key = p .. 'task:' .. id
          local f = redis.call('HMGET', key, 'status', 'worker', 'claim')
          if f[1] == 'RUNNING' and f[2] == 'brave_otter_1' and f[3] == 'a1b2c3d4e5f6.17' then
            redis.call('HSET', key, 'status', 'COMPLETE', 'claim', 'a1b2c3d4e5f6.17:done', 'result', 'abcdefgh',
              'time_complete', '1764689000.323456')
            redis.call('HSET', p .. 'status', id, 'COMPLETE')
          end
        end
        return n
        """;
    const string readPerField = "local ids = {} for i = 1, tonumber(ARGV[1]) do ids[i] = ARGV[2] .. i end return #redis.call('HMGET', ARGV[2] .. 'status', unpack(ids))";
    const string readPerTask = "local c = 0 for i = 1, tonumber(ARGV[1]) do if redis.call('HGET', ARGV[2] .. 'task:' .. ARGV[2] .. i, 'status') then c = c + 1 end end return c";
    async Task<(double Life, double Read, double Bytes)> LayoutAsync(string life, string read, string prefix)
    {
        var sw = Stopwatch.StartNew();
        await db.ScriptEvaluateAsync(life, values: [n, prefix]);
        var lifeMs = sw.Elapsed.TotalMilliseconds;
        var reads = await Repeat(5, async () => await db.ScriptEvaluateAsync(read, values: [2048, prefix]));
        // What the keys hold, summed key by key (MEMORY USAGE), then they go.
        var server3 = mux.GetServer(mux.GetEndPoints()[0]);
        long bytes = 0;
        await foreach (var key in server3.KeysAsync(pattern: prefix + "*", pageSize: 1000))
        {
            bytes += (long)await db.ExecuteAsync("MEMORY", "USAGE", key, "SAMPLES", "0");
            await db.KeyDeleteAsync(key);
        }
        return (lifeMs / n * 1000, Median(reads), bytes / (double)n);
    }
    var a = await LayoutAsync(perField, readPerField, "{layoutA}:");
    var b = await LayoutAsync(perTask, readPerTask, "{layoutB}:");
    a = await LayoutAsync(perField, readPerField, "{layoutA}:");   // again, each after the other has warmed the server
    Console.WriteLine($"key layout, {n:N0} tasks through submit, claim and finish inside Redis: one hash per field {a.Life:0.0} µs per task, " +
        $"{a.Bytes:0} bytes per task; one hash per task (plus a status hash) {b.Life:0.0} µs per task ({b.Life / a.Life:0.00} of it), {b.Bytes:0} bytes per task");
    Console.WriteLine($"  a status read of 2,048 tasks in one script: per-field hash (one HMGET) {Ms(a.Read)}, per-task hashes (2,048 HGET) {Ms(b.Read)}");
    // What a script call costs Redis before it does anything: a no-op called with task_finish's number of keys and
    // arguments, against one with two keys (Redis's own time, from INFO commandstats).
    async Task<double> NoOpAsync(int keys, int args)
    {
        var sha = Convert.FromHexString((string)(await db.ExecuteAsync("SCRIPT", "LOAD", "return 1"))!);
        RedisKey[] ks = [.. Enumerable.Range(0, keys).Select(i => (RedisKey)$"{{layoutC}}:task:field{i}")];
        RedisValue[] vs = [.. Enumerable.Range(0, args).Select(i => (RedisValue)$"argument-{i}-0123456789abcdef")];
        var before = await ScriptStats(mux);
        var calls = Enumerable.Range(0, 10_000).Select(_ => db.ScriptEvaluateAsync(sha, ks, vs)).ToArray();
        await Task.WhenAll(calls);
        var after = await ScriptStats(mux);
        return (after.Usec - before.Usec) / (double)(after.Calls - before.Calls);
    }
    var small = await NoOpAsync(2, 2);
    var finishSized = await NoOpAsync(52, 14);
    Console.WriteLine($"  a script call that does nothing: with 2 keys {small:0.0} µs, with task_finish's 52 keys and 14 arguments {finishSized:0.0} µs");
}

if (Section("dashboard"))
{
    // The dashboard's overview of a queue of about 100,000 tasks, as an operator waits for it: an HTTP GET of the page
    // served by `rrq-worker dashboard`. Baselines in the same run: PING, and TaskOverview(), which reads every status.
    var n = quick ? 10_000 : 100_000;
    var dashQueue = "rrq-bench-dash:" + Guid.NewGuid().ToString("N")[..8];
    await using var dash = await RrqController.ConnectAsync(dashQueue, address);
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
    foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "rrq-worker.dll"), "dashboard", dashQueue, "--redis", address, "--port", "0"])
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
        var work0 = await RedisWork.ReadAsync(mux);
        var overview = Median(await Repeat(20, () => Get("")));
        var perPage = (await RedisWork.ReadAsync(mux)).Minus(work0).Per(20);
        var failedPage = Median(await Repeat(20, () => Get("tasks/failed?page=10")));
        var pendingPage = Median(await Repeat(20, () => Get("tasks/pending?page=1000")));
        var taskPage = Median(await Repeat(20, () => Get("task/" + ran[20])));
        var summary = Median(await Repeat(20, () => dash.SummaryAsync()));
        var scan = Median(await Repeat(5, () => dash.TaskOverviewAsync()));
        Console.WriteLine($"  overview page (HTTP GET): median {Ms(overview)} = {overview / ping:0} × PING (first, cold: {Ms(first)}); " +
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

if (Section("slurm"))
{
    if (Environment.GetEnvironmentVariable("SLURM_CONF") is not { Length: > 0 })
    {
        Console.WriteLine("slurm: skipped (SLURM_CONF is not set; tests/slurm/slurm.sh start starts a single-node Slurm)");
    }
    else
    {
        // What a user waits for: WorkerSpawn of one worker, then one trivial task submitted and waited for; through Slurm,
        // and through local processes in the same run as the baseline. Three of each, alternating.
        var logs = Directory.CreateTempSubdirectory("rrq-bench-slurm-").FullName;
        async Task<(double Spawn, double First)> FirstTaskAsync(RrqWorkerLauncher launcher)
        {
            var q = "rrq-bench-slurm:" + Guid.NewGuid().ToString("N")[..8];
            await using var c = await RrqController.ConnectAsync(q, address);
            var sw = Stopwatch.StartNew();
            var w = await c.WorkerSpawnAsync(1, timeout: TimeSpan.FromMinutes(2), logDir: logs, launcher: launcher);
            var spawned = sw.Elapsed.TotalMilliseconds;
            var t = await c.TaskCreateExprAsync("1 + 1");
            await c.TaskWaitAsync([t], TimeSpan.FromMinutes(1), progress: false);
            var first = sw.Elapsed.TotalMilliseconds;
            await c.WorkerStopAsync(w.Ids, RrqWorkerStopType.Kill);
            await c.DestroyAsync();
            return (spawned, first);
        }
        var slurmRuns = new List<(double Spawn, double First)>();
        var localRuns = new List<(double Spawn, double First)>();
        for (var i = 0; i < 3; i++)
        {
            slurmRuns.Add(await FirstTaskAsync(new RrqSlurmLauncher()));
            localRuns.Add(await FirstTaskAsync(RrqWorkerLauncher.Local));
        }
        var slurmFirst = Median([.. slurmRuns.Select(r => r.First)]);
        var localFirst = Median([.. localRuns.Select(r => r.First)]);
        Console.WriteLine($"WorkerSpawn to the first task completed, 1 worker: through Slurm median {Ms(slurmFirst)} " +
            $"(spawn returned at {Ms(Median([.. slurmRuns.Select(r => r.Spawn)]))}); local processes {Ms(localFirst)} " +
            $"(at {Ms(Median([.. localRuns.Select(r => r.Spawn)]))}); Slurm ÷ local {slurmFirst / localFirst:0.00}");
    }
}

var server2 = mux.GetServer(mux.GetEndPoints()[0]);
await foreach (var key in server2.KeysAsync(pattern: "{" + queue + "}:*"))
{
    await db.KeyDeleteAsync(key);
}
return 0;

/// <summary>What Redis did per task over three more bulk runs of n tasks: CPU, scripts and commands (the workers'
/// polling and the waiting included; the deletes after each run are not counted, as BullMQ's row deletes nothing).</summary>
static async Task<RedisWork> RedisPerTask(RrqController obj, ConnectionMultiplexer mux, int n)
{
    var work0 = await RedisWork.ReadAsync(mux);
    var deletes = new RedisWork(0, 0, 0, 0);
    for (var r = 0; r < 3; r++)
    {
        var ids = await obj.TaskCreateBulkExprAsync("i + 1", Enumerable.Range(0, n).Select(i => (object)new { i }));
        await obj.TaskWaitAsync(ids, TimeSpan.FromMinutes(5), progress: false);
        await obj.TaskResultsAsync(ids);
        var d0 = await RedisWork.ReadAsync(mux);
        await obj.TaskDeleteAsync(ids);
        deletes = deletes.Plus((await RedisWork.ReadAsync(mux)).Minus(d0));
    }
    return (await RedisWork.ReadAsync(mux)).Minus(work0).Minus(deletes).Per(3 * n);
}

/// <summary>One bulk run: submit n trivial tasks in one call, wait for all, read all results, then
/// delete them; times in ms, and the CPU (ms) of each process of <c>pids</c> while the tasks ran.</summary>
static async Task<BulkRun> BulkPhases(RrqController obj, int n, int[] pids)
{
    var sw = Stopwatch.StartNew();
    var ids = await obj.TaskCreateBulkExprAsync("i + 1", Enumerable.Range(0, n).Select(i => (object)new { i }));
    var submitted = sw.Elapsed.TotalMilliseconds;
    var cpu0 = pids.Select(CpuMs).ToArray();
    if (!await obj.TaskWaitAsync(ids, TimeSpan.FromMinutes(5), progress: false))
    {
        throw new InvalidOperationException("not every task completed");
    }
    var waited = sw.Elapsed.TotalMilliseconds;
    var cpu = pids.Select(CpuMs).Zip(cpu0, (a, b) => a - b).ToArray();
    var results = await obj.TaskResultsAsync(ids);
    var read = sw.Elapsed.TotalMilliseconds;
    if ((int)results[n - 1]! != n)
    {
        throw new InvalidOperationException("wrong result");
    }
    await obj.TaskDeleteAsync(ids);
    var deleted = sw.Elapsed.TotalMilliseconds;
    return new BulkRun(read / n, submitted, waited - submitted, read - waited, deleted - read, cpu);
}

/// <summary>CPU time (user + system, ms) a process has used so far; 0 for pid 0 or a process that is gone.</summary>
static double CpuMs(int pid)
{
    try
    {
        var stat = pid == 0 ? null : File.ReadAllText($"/proc/{pid}/stat");
        if (stat is null)
        {
            return 0;
        }
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks * 1000.0 / 100;   // USER_HZ is 100 on Linux
    }
    catch (IOException)
    {
        return 0;
    }
}

/// <summary>CPU time (ms) of a process and of the children it has reaped.</summary>
static double CpuMsWithChildren(int pid)
{
    try
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return Enumerable.Range(11, 4).Sum(i => long.Parse(f[i], CultureInfo.InvariantCulture)) * 1000.0 / 100;
    }
    catch (IOException)
    {
        return 0;
    }
}

static int[] ChildPids(int pid)
{
    try
    {
        // Each thread lists the children it started.
        return Directory.GetDirectories($"/proc/{pid}/task")
            .SelectMany(t => File.ReadAllText(Path.Combine(t, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Select(x => int.Parse(x, CultureInfo.InvariantCulture)).Distinct().ToArray();
    }
    catch (IOException)
    {
        return [];
    }
}

static long RssKb(int pid) => ProcKb($"/proc/{pid}/status", "VmRSS:");

/// <summary>A process's proportional set size (its share of shared pages counted): what it adds to the machine.</summary>
static long PssKb(int pid) => ProcKb($"/proc/{pid}/smaps_rollup", "Pss:");

static long ProcKb(string file, string field)
{
    try
    {
        var line = File.ReadAllLines(file).FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
    catch (IOException)
    {
        return 0;
    }
}

static async Task<string> RoundTrip(RrqController obj, int i)
{
    var t = await obj.TaskCreateExprAsync("i + 1", new { i });
    if (!await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30)))
    {
        throw new InvalidOperationException($"task {t} did not complete: {await obj.TaskStatusAsync(t)}");
    }
    _ = await obj.TaskResultAsync(t);
    return t;
}


// Scripts (EVAL and EVALSHA) Redis has run since it started, and the microseconds they took.
static async Task<(long Calls, long Usec)> ScriptStats(ConnectionMultiplexer mux)
{
    var info = await mux.GetServer(mux.GetEndPoints()[0]).InfoRawAsync("commandstats") ?? "";
    var lines = info.Split('\n').Where(l => l.StartsWith("cmdstat_eval", StringComparison.Ordinal)).ToArray();
    return (lines.Sum(l => long.Parse(l.Split("calls=")[1].Split(',')[0], CultureInfo.InvariantCulture)),
        lines.Sum(l => long.Parse(l.Split("usec=")[1].Split(',')[0], CultureInfo.InvariantCulture)));
}

static async Task<long> UsedMemory(ConnectionMultiplexer mux)
{
    var info = await mux.GetServer(mux.GetEndPoints()[0]).InfoRawAsync("memory") ?? "";
    var line = info.Split('\n').First(l => l.StartsWith("used_memory:", StringComparison.Ordinal));
    return long.Parse(line["used_memory:".Length..].Trim(), CultureInfo.InvariantCulture);
}

static async Task RoundTripSeparate(RrqController obj, string expr, int i)
{
    var t = await obj.TaskCreateExprAsync(expr, new { i }, separateProcess: true);
    if (!await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(60)))
    {
        throw new InvalidOperationException($"task {t} did not complete: {await obj.TaskStatusAsync(t)}");
    }
    _ = await obj.TaskResultAsync(t);
}

/// <summary>Submits n trivial tasks one call each, waits for all, reads every result; returns the time
/// per task in ms.</summary>
static async Task<double> Many(RrqController obj, int n)
{
    var sw = Stopwatch.StartNew();
    var ids = new string[n];
    for (var i = 0; i < n; i++)
    {
        ids[i] = await obj.TaskCreateExprAsync("i + 1", new { i });
    }
    if (!await obj.TaskWaitAsync(ids, TimeSpan.FromMinutes(5), progress: false))
    {
        throw new InvalidOperationException("not every task completed");
    }
    var results = await obj.TaskResultsAsync(ids);
    sw.Stop();
    if ((int)results[n - 1]! != n)
    {
        throw new InvalidOperationException("wrong result");
    }
    await obj.TaskDeleteAsync(ids);
    return sw.Elapsed.TotalMilliseconds / n;
}

static async Task<double[]> Repeat(int n, Func<Task> body)
{
    var times = new double[n];
    for (var i = 0; i < n; i++)
    {
        var sw = Stopwatch.StartNew();
        await body();
        times[i] = sw.Elapsed.TotalMilliseconds;
    }
    return times;
}

static double P90(double[] xs) => xs.Order().ElementAt((int)Math.Ceiling(0.9 * xs.Length) - 1);

static double Median(double[] xs)
{
    var s = xs.Order().ToArray();
    return s[s.Length / 2];
}

static string Ms(double ms) => ms >= 100 ? $"{ms.ToString("0", CultureInfo.InvariantCulture)} ms" : $"{ms.ToString("0.000", CultureInfo.InvariantCulture)} ms";

/// <summary>What one bulk run measured (ms; Cpu per process while the tasks ran).</summary>
internal sealed record BulkRun(double PerTask, double Submit, double Wait, double Results, double Delete, double[] Cpu);

/// <summary>A redis-server on a free loopback port with persistence off, killed on dispose.</summary>
internal sealed class RedisProcess : IDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo? _dir;

    private RedisProcess(Process process, int port, DirectoryInfo? dir = null)
    {
        _process = process;
        _dir = dir;
        Address = $"127.0.0.1:{port}";
    }

    public string Address { get; }

    public int Pid => _process.Id;

    public static RedisProcess? StartUnlessConfigured()
    {
        if (Environment.GetEnvironmentVariable("RRQ_REDIS") is { Length: > 0 })
        {
            return null;
        }
        var port = Rrq.Embedded.LoopbackPort.Free();
        var psi = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            psi.ArgumentList.Add(a);
        }
        var p = Process.Start(psi)!;
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var c = new TcpClient("127.0.0.1", port);
                break;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        return new RedisProcess(p, port);
    }

    /// <summary>A redis-server replicating <paramref name="master"/> (host:port), on a free loopback port.</summary>
    public static RedisProcess StartReplicaOf(string master)
    {
        var port = Rrq.Embedded.LoopbackPort.Free();
        var (host, masterPort) = (master[..master.LastIndexOf(':')], master[(master.LastIndexOf(':') + 1)..]);
        // A replica writes the master's snapshot to its folder on every full sync: a folder of its own, not the bench's.
        var dir = Directory.CreateTempSubdirectory("rrq-bench-replica-");
        var psi = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                     "--dir", dir.FullName, "--replicaof", host, masterPort })
        {
            psi.ArgumentList.Add(a);
        }
        return new RedisProcess(Process.Start(psi)!, port, dir);
    }

    public void Dispose()
    {
        _process.Kill();
        _process.WaitForExit(5000);
        _process.Dispose();
        _dir?.Delete(recursive: true);
    }
}

/// <summary>What the Redis server has done so far, from INFO cpu and commandstats (bench/peers/bullmq/bench.mjs reads the
/// same): its CPU time (µs), the scripts it ran and their time (µs), and every other command, inside scripts or not.</summary>
internal sealed record RedisWork(double CpuUs, double Scripts, double ScriptUs, double Commands)
{
    public static async Task<RedisWork> ReadAsync(ConnectionMultiplexer mux)
    {
        var server = mux.GetServer(mux.GetEndPoints()[0]);
        var cpu = await server.InfoRawAsync("cpu") ?? "";
        var stats = await server.InfoRawAsync("commandstats") ?? "";
        double Field(string text, string name) => text.Split('\n').Where(l => l.StartsWith(name + ":", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(name.Length + 1)..].Trim(), CultureInfo.InvariantCulture)).FirstOrDefault();
        double scripts = 0, scriptUs = 0, commands = 0;
        foreach (var line in stats.Split('\n').Where(l => l.StartsWith("cmdstat_", StringComparison.Ordinal)))
        {
            var calls = double.Parse(line.Split("calls=")[1].Split(',')[0], CultureInfo.InvariantCulture);
            if (line.StartsWith("cmdstat_eval", StringComparison.Ordinal))
            {
                scripts += calls;
                scriptUs += double.Parse(line.Split("usec=")[1].Split(',')[0], CultureInfo.InvariantCulture);
            }
            else
            {
                commands += calls;
            }
        }
        return new RedisWork((Field(cpu, "used_cpu_user") + Field(cpu, "used_cpu_sys")) * 1e6, scripts, scriptUs, commands);
    }

    public static RedisWork FromPeer(System.Text.Json.JsonElement e) => new(e.GetProperty("cpuUs").GetDouble(), e.GetProperty("scripts").GetDouble(),
        e.GetProperty("scriptUs").GetDouble(), e.GetProperty("commands").GetDouble());

    public RedisWork Minus(RedisWork o) => new(CpuUs - o.CpuUs, Scripts - o.Scripts, ScriptUs - o.ScriptUs, Commands - o.Commands);

    public RedisWork Plus(RedisWork o) => new(CpuUs + o.CpuUs, Scripts + o.Scripts, ScriptUs + o.ScriptUs, Commands + o.Commands);

    public RedisWork Per(int n) => new(CpuUs / n, Scripts / n, ScriptUs / n, Commands / n);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"CPU {CpuUs:0} µs, {Scripts:0.0} scripts ({ScriptUs:0} µs in them), {Commands:0.0} commands (inside scripts or not)");
}

/// <summary>
/// BullMQ, the peer measured in the same run against the same server (bench/peers/bullmq/bench.mjs): installed with npm
/// into that folder on first use, run with the machine's Node.js. Without Node.js or npm, its rows say so and the rest
/// of the benchmark runs.
/// </summary>
internal sealed class BullMqPeer(System.Net.EndPoint redis)
{
    private readonly string? _dir = Find();
    private bool _installed;
    private string? _unavailable;

    public string Name => _dir is not null && File.Exists(Path.Combine(_dir, "node_modules", "bullmq", "package.json"))
        ? "BullMQ " + System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "node_modules", "bullmq", "package.json")))
            .RootElement.GetProperty("version").GetString()
        : "BullMQ";

    private static string? Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "peers", "bullmq");
            if (File.Exists(Path.Combine(candidate, "bench.mjs")))
            {
                return candidate;
            }
        }
        return null;
    }

    /// <summary>Runs one workload (see bench.mjs); its figures, or null when the peer cannot run (the reason printed once).</summary>
    public async Task<System.Text.Json.JsonElement?> RunAsync(string mode, params object[] args)
    {
        if (!_installed && _unavailable is null)
        {
            _unavailable = _dir is null ? "bench/peers/bullmq not found" : await InstallAsync(_dir);
            _installed = _unavailable is null;
            if (!_installed)
            {
                Console.WriteLine($"BullMQ: not measured ({_unavailable})");   // said once
            }
        }
        if (!_installed)
        {
            return null;
        }
        var (host, port) = redis switch
        {
            System.Net.IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            System.Net.DnsEndPoint dns => (dns.Host, dns.Port),
            _ => throw new InvalidOperationException($"Unexpected Redis end point {redis}"),
        };
        var (code, output) = await RunProcessAsync("node", [Path.Combine(_dir!, "bench.mjs"), mode, host, port.ToString(CultureInfo.InvariantCulture),
            .. args.Select(a => Convert.ToString(a, CultureInfo.InvariantCulture)!)], _dir!);
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
        if (code != 0 || !last.StartsWith('{'))
        {
            Console.WriteLine($"BullMQ {mode}: failed (exit {code}): {last}");
            return null;
        }
        return System.Text.Json.JsonDocument.Parse(last).RootElement;
    }

    private static async Task<string?> InstallAsync(string dir)
    {
        if (File.Exists(Path.Combine(dir, "node_modules", "bullmq", "package.json")))
        {
            return null;
        }
        try
        {
            var (code, output) = await RunProcessAsync("npm", ["ci", "--no-audit", "--no-fund"], dir);
            return code == 0 ? null : $"npm ci failed: {output.Trim().Split('\n').LastOrDefault()}";
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return $"npm: {e.Message}";
        }
    }

    private static async Task<(int Code, string Output)> RunProcessAsync(string file, string[] args, string dir)
    {
        var psi = new ProcessStartInfo(file) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            return (-1, "timed out after 10 minutes");
        }
        return (p.ExitCode, await stdout + await stderr);
    }
}
