using System.Diagnostics;
using Rrq.Testing;
using StackExchange.Redis;

namespace Rrq.Tests.Support;

/// <summary>
/// A real three-primary Redis Cluster on loopback, for one test: three redis-server processes in cluster
/// mode on free ports, joined with <c>redis-cli --cluster create</c>. It can move a hash slot from one
/// primary to another while clients use it, as an operator resharding a live cluster would.
/// </summary>
public sealed class RedisCluster : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rrq-cluster-").FullName;
    private readonly List<Process> _nodes = [];
    private readonly ConnectionMultiplexer? _admin;

    public RedisCluster()
    {
        try
        {
            _admin = Create();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    private ConnectionMultiplexer Create()
    {
        var ports = ServerProcesses.FreePorts(6);   // all different: three nodes and their bus ports
        Ports = ports[..3];
        foreach (var (port, bus) in Ports.Zip(ports[3..]))
        {
            var dir = Directory.CreateDirectory(Path.Combine(_dir, port.ToString(System.Globalization.CultureInfo.InvariantCulture))).FullName;
            // The bus port is chosen too: by default it is the port + 10000, which may be taken, or above 65535.
            var p = ServerProcesses.Start("--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                "--cluster-port", bus.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "--dir", dir, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning");
            _nodes.Add(p);
        }
        foreach (var (port, p) in Ports.Zip(_nodes))
        {
            ServerProcesses.WaitUntilAnswering(p, port, TimeSpan.FromSeconds(30));
        }
        var create = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--cluster", "create" }.Concat(Ports.Select(p => $"127.0.0.1:{p}"))
                     .Concat(["--cluster-replicas", "0", "--cluster-yes"]))
        {
            create.ArgumentList.Add(a);
        }
        using (var cli = Process.Start(create)!)
        {
            var said = cli.StandardOutput.ReadToEnd() + cli.StandardError.ReadToEnd();
            cli.WaitForExit();
            if (cli.ExitCode != 0)
            {
                throw new InvalidOperationException($"redis-cli --cluster create failed:\n{said}");
            }
        }
        foreach (var port in Ports)
        {
            WaitFor(() => Info(port, "CLUSTER", "INFO").Contains("cluster_state:ok", StringComparison.Ordinal), $"node {port} to see the cluster ok");
        }
        return ConnectionMultiplexer.Connect(Address + ",allowAdmin=true");
    }

    public IReadOnlyList<int> Ports { get; private set; } = [];

    /// <summary>A connection string naming every primary.</summary>
    public string Address => string.Join(",", Ports.Select(p => $"127.0.0.1:{p}"));

    private static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"waited 30 s for {what}");
            }
            Thread.Sleep(100);   // between looks at the condition waited for
        }
    }

    /// <summary>Runs a command on one node (not through cluster routing).</summary>
    private static string Info(int port, string command, params object[] args)
    {
        using var mux = ConnectionMultiplexer.Connect($"127.0.0.1:{port},connectTimeout=2000,allowAdmin=true");
        return mux.GetServer($"127.0.0.1:{port}").Execute(command, args).ToString();
    }

    private IServer Node(int port) => _admin!.GetServer($"127.0.0.1:{port}");

    private string NodeId(int port) => Node(port).Execute("CLUSTER", "MYID").ToString();

    /// <summary>The hash slot of a queue's keys.</summary>
    public int SlotOf(string queueId) => (int)Node(Ports[0]).Execute("CLUSTER", "KEYSLOT", "{" + queueId + "}");

    /// <summary>The port of the primary that serves a slot.</summary>
    public int OwnerOf(int slot)
    {
        var shards = (RedisResult[])Node(Ports[0]).Execute("CLUSTER", "SLOTS")!;
        foreach (var range in shards.Select(s => (RedisResult[])s!))
        {
            if ((int)range[0] <= slot && slot <= (int)range[1])
            {
                return (int)((RedisResult[])range[2]!)[1];
            }
        }
        throw new InvalidOperationException($"no primary serves slot {slot}");
    }

    /// <summary>Moves <paramref name="slot"/> to another primary the way redis-cli's resharding does: IMPORTING on
    /// the target, MIGRATING on the source, MIGRATE of its keys a few at a time (with a pause between batches, so
    /// clients work against the slot while it is half moved), then the new owner announced to every node.
    /// Returns the port of the new owner and how long the slot was in motion.</summary>
    public (int Target, TimeSpan Took) MigrateSlot(int slot, int keysPerStep = 2, TimeSpan? pause = null)
    {
        var sw = Stopwatch.StartNew();
        var source = OwnerOf(slot);
        var target = Ports.First(p => p != source);
        var (sourceId, targetId) = (NodeId(source), NodeId(target));
        Node(target).Execute("CLUSTER", "SETSLOT", slot, "IMPORTING", sourceId);
        Node(source).Execute("CLUSTER", "SETSLOT", slot, "MIGRATING", targetId);
        while (true)
        {
            var keys = (RedisResult[])Node(source).Execute("CLUSTER", "GETKEYSINSLOT", slot, keysPerStep)!;
            if (keys.Length == 0)
            {
                break;
            }
            Node(source).Execute("MIGRATE", ["127.0.0.1", target, "", 0, 5000, "REPLACE", "KEYS", .. keys.Select(k => (object)(string)k!)]);
            Thread.Sleep(pause ?? TimeSpan.FromMilliseconds(20));   // the migration's pace: the move spread over time, as an operator's
        }
        foreach (var port in Ports)
        {
            Node(port).Execute("CLUSTER", "SETSLOT", slot, "NODE", targetId);
        }
        return (target, sw.Elapsed);
    }

    public void Dispose()
    {
        _admin?.Dispose();
        ServerProcesses.EndAll([.. _nodes], _dir);
    }
}
