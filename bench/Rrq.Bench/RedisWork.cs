namespace Rrq.Bench;

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

/// <summary>Figures Redis reports about itself (INFO).</summary>
internal static class RedisInfo
{
    /// <summary>Scripts (EVAL and EVALSHA) Redis has run since it started, and the microseconds they took.</summary>
    public static async Task<(long Calls, long Usec)> ScriptStats(ConnectionMultiplexer mux)
    {
        var info = await mux.GetServer(mux.GetEndPoints()[0]).InfoRawAsync("commandstats") ?? "";
        var lines = info.Split('\n').Where(l => l.StartsWith("cmdstat_eval", StringComparison.Ordinal)).ToArray();
        return (lines.Sum(l => long.Parse(l.Split("calls=")[1].Split(',')[0], CultureInfo.InvariantCulture)),
            lines.Sum(l => long.Parse(l.Split("usec=")[1].Split(',')[0], CultureInfo.InvariantCulture)));
    }

    /// <summary>Redis's used_memory, in bytes.</summary>
    public static async Task<long> UsedMemory(ConnectionMultiplexer mux)
    {
        var info = await mux.GetServer(mux.GetEndPoints()[0]).InfoRawAsync("memory") ?? "";
        var line = info.Split('\n').First(l => l.StartsWith("used_memory:", StringComparison.Ordinal));
        return long.Parse(line["used_memory:".Length..].Trim(), CultureInfo.InvariantCulture);
    }
}
