namespace Rrq.Bench;

/// <summary>WorkerSpawn to the first task completed, through Slurm and through local processes in the same run (<c>--only slurm</c>).</summary>
internal static class SlurmSection
{
    public static async Task RunAsync(Bench b)
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
                await using var c = await RrqController.ConnectAsync(q, b.Address);
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
}
