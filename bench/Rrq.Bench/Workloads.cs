namespace Rrq.Bench;

/// <summary>The workloads several sections time: one task's round trip, many tasks one call each, a bulk run.</summary>
internal static class Workloads
{
    /// <summary>What Redis did per task over three more bulk runs of n tasks: CPU, scripts and commands (the workers'
    /// polling and the waiting included; the deletes after each run are not counted, as BullMQ's row deletes nothing).</summary>
    public static async Task<RedisWork> RedisPerTask(RrqController obj, ConnectionMultiplexer mux, int n)
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
    public static async Task<BulkRun> BulkPhases(RrqController obj, int n, int[] pids)
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

    public static async Task<string> RoundTrip(RrqController obj, int i)
    {
        var t = await obj.TaskCreateExprAsync("i + 1", new { i });
        if (!await obj.TaskWaitAsync(t, TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException($"task {t} did not complete: {await obj.TaskStatusAsync(t)}");
        }
        _ = await obj.TaskResultAsync(t);
        return t;
    }

    public static async Task RoundTripSeparate(RrqController obj, string expr, int i)
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
    public static async Task<double> Many(RrqController obj, int n)
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
}

/// <summary>What one bulk run measured (ms; Cpu per process while the tasks ran).</summary>
internal sealed record BulkRun(double PerTask, double Submit, double Wait, double Results, double Delete, double[] Cpu);
