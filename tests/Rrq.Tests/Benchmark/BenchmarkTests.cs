using Rrq.Tests.Support;

namespace Rrq.Tests.Benchmark;

/// <summary>The benchmark program as its users run it (built with the tests, so a change that breaks it fails here): a
/// section on a redis-server of its own, and a section it does not have.</summary>
public class BenchmarkTests
{
    private static string BenchDll()
    {
        // The same configuration as these tests, from the repository's bench/ folder.
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var dll = Path.Combine(dir.FullName, "bench", "Rrq.Bench", "bin", configuration, "net10.0", "Rrq.Bench.dll");
            if (File.Exists(dll))
            {
                return dll;
            }
        }
        throw new FileNotFoundException($"bench/Rrq.Bench/bin/{configuration}/net10.0/Rrq.Bench.dll not found above {AppContext.BaseDirectory}");
    }

    [Fact]
    public async Task A_section_runs_on_a_redis_server_of_its_own_and_reports_against_the_PING_measured_in_the_same_run()
    {
        var folders = Directory.GetDirectories(Path.GetTempPath(), "rrq-bench-redis-*").Length;
        var r = await Dotnet.RunOkAsync(AppContext.BaseDirectory, TimeSpan.FromMinutes(3), new Dictionary<string, string?> { ["RRQ_REDIS"] = null },
            BenchDll(), "--quick", "--only", "death");
        Assert.Matches(@"Redis: 127\.0\.0\.1:\d+ \(private redis-server\)", r.Output);
        Assert.Matches(@"baseline: Redis PING round trip, median \d+\.\d+ ms", r.Output);
        Assert.Matches(@"SIGKILL to DIED, heartbeat 1 s, automatic detection: median \d+\.\d\d s", r.Output);
        Assert.DoesNotContain("round trip (submit", r.Output);   // only the section asked for
        Assert.Equal(folders, Directory.GetDirectories(Path.GetTempPath(), "rrq-bench-redis-*").Length);   // its server's folder went with it
    }

    [Fact]
    public async Task A_section_it_does_not_have_is_refused_naming_those_it_has()
    {
        var r = await Dotnet.RunAsync(AppContext.BaseDirectory, TimeSpan.FromMinutes(1), BenchDll(), "--only", "layout");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("'layout'", r.Error);
        Assert.Contains("roundtrip", r.Error);
        Assert.Contains("slurm", r.Error);
        Assert.DoesNotContain("Redis:", r.Output);   // refused before it starts anything
    }
}
