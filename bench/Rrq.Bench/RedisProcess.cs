namespace Rrq.Bench;

/// <summary>A redis-server of the benchmark's own on a free loopback port, persistence off, killed on dispose; started as
/// the tests start theirs (tests/Shared/ServerProcesses.cs).</summary>
internal sealed class RedisProcess : IDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _dir;

    private RedisProcess(int port, params string[] extra)
    {
        // A folder of its own: a replica writes the master's snapshot there on every full sync.
        _dir = Directory.CreateTempSubdirectory("rrq-bench-redis-");
        _process = ServerProcesses.Start(["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", _dir.FullName, .. extra]);
        ServerProcesses.WaitUntilAnswering(_process, port, TimeSpan.FromSeconds(15));
        Address = $"127.0.0.1:{port}";
    }

    public string Address { get; }

    public int Pid => _process.Id;

    /// <summary>A server of its own, unless RRQ_REDIS names one to measure against (then null).</summary>
    public static RedisProcess? StartUnlessConfigured() =>
        Environment.GetEnvironmentVariable("RRQ_REDIS") is { Length: > 0 } ? null : new RedisProcess(Rrq.Embedded.LoopbackPort.Free());

    /// <summary>A server replicating <paramref name="master"/> (host:port).</summary>
    public static RedisProcess StartReplicaOf(string master)
    {
        var (host, port) = (master[..master.LastIndexOf(':')], master[(master.LastIndexOf(':') + 1)..]);
        return new RedisProcess(Rrq.Embedded.LoopbackPort.Free(), "--replicaof", host, port);
    }

    public void Dispose() => ServerProcesses.EndAll([_process], _dir.FullName);
}
