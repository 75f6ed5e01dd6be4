using System.Diagnostics;
using Rrq.Testing;
using StackExchange.Redis;

namespace Rrq.Tests.Support;

/// <summary>
/// Redis as operators run it for high availability: one master and one replica (no persistence), watched by three
/// Sentinels (<c>redis-server CONF --sentinel</c>), all on free loopback ports. Clients connect through the Sentinels
/// (<see cref="ConnectionString"/>). The test can kill the master and start it again empty.
/// </summary>
public sealed class SentinelSet : IDisposable
{
    public const string Service = "mymaster";

    private readonly string _dir = Directory.CreateTempSubdirectory("rrq-sentinel-").FullName;
    private readonly Dictionary<int, Process> _servers = [];
    private readonly List<Process> _sentinels = [];
    private readonly int[] _sentinelPorts;

    public SentinelSet()
    {
        var ports = ServerProcesses.FreePorts(5);   // all different (a Sentinel once got the replica's port)
        var (a, b) = (ports[0], ports[1]);
        _sentinelPorts = ports[2..];
        try
        {
            StartServer(a);
            StartServer(b, "--replicaof", "127.0.0.1", a.ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var port in _sentinelPorts)
            {
                var conf = Path.Combine(_dir, $"sentinel-{port}.conf");
                File.WriteAllText(conf, $"""
                    port {port}
                    bind 127.0.0.1
                    dir {_dir}
                    sentinel monitor {Service} 127.0.0.1 {a} 2
                    sentinel down-after-milliseconds {Service} 1000
                    sentinel failover-timeout {Service} 5000
                    sentinel parallel-syncs {Service} 1

                    """);
                _sentinels.Add(Run(conf, "--sentinel"));
            }
            var sw = Stopwatch.StartNew();
            while (Master() != a || !ReplicaKnown() || !InSync(b))
            {
                if (sw.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new InvalidOperationException("the Sentinels did not come to know the master and its replica, or the replica " +
                        $"did not finish its first sync, within 30 s: master named {Master()} (want {a}), replica known {ReplicaKnown()}, " +
                        $"replica in sync {InSync(b)}\n" + string.Join("\n", _servers.Select(s => $"server {s.Key}: {ServerProcesses.Describe(s.Value)}")
                            .Concat(_sentinels.Select((p, i) => $"sentinel {_sentinelPorts[i]}: {ServerProcesses.Describe(p)}"))));
                }
                Thread.Sleep(100);   // between looks at what the Sentinels know
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The connection string through the Sentinels, as an operator gives it to Rrq.</summary>
    public string ConnectionString => string.Join(",", _sentinelPorts.Select(p => $"127.0.0.1:{p}")) + $",serviceName={Service}";

    /// <summary>The port of the master the Sentinels name now (0 when they cannot say).</summary>
    public int Master()
    {
        foreach (var port in _sentinelPorts)
        {
            try
            {
                using var mux = Sentinel(port);
                if (mux.GetServer($"127.0.0.1:{port}").SentinelGetMasterAddressByName(Service) is System.Net.IPEndPoint ep)
                {
                    return ep.Port;
                }
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
            }
        }
        return 0;
    }

    /// <summary>Whether the replica on <paramref name="port"/> has finished its first sync (its link to the master is up).</summary>
    private static bool InSync(int port)
    {
        try
        {
            using var mux = ConnectionMultiplexer.Connect($"127.0.0.1:{port},connectTimeout=1000,allowAdmin=true");
            return mux.GetServer($"127.0.0.1:{port}").Info("replication").SelectMany(g => g)
                .Any(kv => kv.Key == "master_link_status" && kv.Value == "up");
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return false;
        }
    }

    private bool ReplicaKnown()
    {
        try
        {
            using var mux = Sentinel(_sentinelPorts[0]);
            return mux.GetServer($"127.0.0.1:{_sentinelPorts[0]}").SentinelReplicas(Service).Length > 0;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return false;
        }
    }

    /// <summary>A connection to one Sentinel itself (not through it), for asking it what it knows.</summary>
    private static ConnectionMultiplexer Sentinel(int port) =>
        ConnectionMultiplexer.SentinelConnect($"127.0.0.1:{port},connectTimeout=1000,abortConnect=false");

    /// <summary>SIGKILLs the master; returns its port.</summary>
    public int KillMaster()
    {
        var port = Master();
        _servers[port].Kill();
        _servers[port].WaitForExit(10_000);
        return port;
    }

    /// <summary>The port of the other data server (the replica, while both run).</summary>
    public int Replica()
    {
        var master = Master();
        return _servers.Keys.Single(p => p != master);
    }

    /// <summary>SIGKILLs the replica; returns its port.</summary>
    public int KillReplica()
    {
        var port = Replica();
        _servers[port].Kill();
        _servers[port].WaitForExit(10_000);
        return port;
    }

    /// <summary>How many Lua script calls (EVAL and EVALSHA) the server on <paramref name="port"/> has run since it started, as
    /// text for a test's output; "unknown" when it does not answer within seconds (a server being turned into a replica
    /// can be busy loading its master's data).</summary>
    public static string ScriptCalls(int port)
    {
        try
        {
            using var mux = ConnectionMultiplexer.Connect($"127.0.0.1:{port},connectTimeout=5000,allowAdmin=true");
            var stats = mux.GetServer($"127.0.0.1:{port}").Info("commandstats").SelectMany(g => g)
                .Where(kv => kv.Key is "cmdstat_evalsha" or "cmdstat_eval");
            return stats.Sum(kv => long.Parse(kv.Value.Split(',')[0].Split('=')[1], System.Globalization.CultureInfo.InvariantCulture))
                .ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (RedisException e)
        {
            return $"unknown ({e.GetType().Name})";
        }
    }

    /// <summary>Whether the server on <paramref name="port"/> is a replica now (false while it does not answer).</summary>
    public static bool IsReplica(int port)
    {
        try
        {
            using var mux = ConnectionMultiplexer.Connect($"127.0.0.1:{port},connectTimeout=1000,allowAdmin=true");
            return mux.GetServer($"127.0.0.1:{port}").Role() is Role.Replica;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return false;   // not answering for a moment (the Sentinels turning it into a replica): not one yet
        }
    }

    /// <summary>Starts a server again on <paramref name="port"/>, empty (no persistence), as a master: what an old master
    /// that comes back looks like until the Sentinels make it a replica.</summary>
    public void StartEmpty(int port) => StartServer(port);

    private void StartServer(int port, params string[] extra)
    {
        if (_servers.Remove(port, out var gone))
        {
            gone.Dispose();
        }
        var p = Run(null, ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", "--dir", _dir, "--dbfilename", $"dump-{port}.rdb", .. extra]);
        _servers[port] = p;
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var mux = ConnectionMultiplexer.Connect($"127.0.0.1:{port},connectTimeout=500");
                mux.GetDatabase().Ping();
                if (p.HasExited)
                {
                    // Another process answers on the port (a port picked as free was taken meanwhile).
                    throw new InvalidOperationException($"redis-server on {port} exited: {ServerProcesses.Describe(p)}");
                }
                return;
            }
            catch (RedisException) when (sw.Elapsed < TimeSpan.FromSeconds(15) && !p.HasExited)
            {
                Thread.Sleep(50);   // between tries to reach the server starting
            }
        }
    }

    private static Process Run(string? conf, params string[] args) =>
        ServerProcesses.Start(conf is null ? args : [conf, .. args]);

    public void Dispose()
    {
        ServerProcesses.EndAll([.. _sentinels.Concat(_servers.Values)], _dir);
    }
}
