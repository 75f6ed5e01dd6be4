using System.Diagnostics;
using Rrq.Testing;
using StackExchange.Redis;

namespace Rrq.Tests.Support;

/// <summary>
/// A private redis-server for the whole test run: started on a free loopback port with persistence
/// off, stopped by pid when the test process exits. Tests share it and keep apart by queue id.
/// With <c>RRQ_TEST_SERVER=garnet</c> it is a Garnet server in this process instead, started as
/// Rrq's embedded server is (test.sh runs the tests marked <see cref="OnGarnet"/> that way too).
/// </summary>
public sealed class RedisServer
{
    private static readonly Lazy<RedisServer> Shared = new(() => new RedisServer(), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The trait that marks the tests run against Garnet as well: <c>[Trait(OnGarnet, "yes")]</c>.</summary>
    public const string OnGarnet = "Garnet";

    private readonly Process? _process;
    private readonly IDisposable? _garnet;

    private RedisServer()
    {
        Port = Rrq.Embedded.LoopbackPort.Free();
        if (Environment.GetEnvironmentVariable("RRQ_TEST_SERVER") == "garnet")
        {
            _garnet = Rrq.Embedded.EmbeddedGarnet.StartOn(Port);
            Connection = ConnectionMultiplexer.Connect(Address);
            return;
        }
        _process = ServerProcesses.Start("--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();
        ServerProcesses.WaitUntilAnswering(_process, Port, TimeSpan.FromSeconds(15));
        Connection = ConnectionMultiplexer.Connect(Address);
    }

    public static RedisServer Instance => Shared.Value;

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    /// <summary>A connection for tests to look at keys directly.</summary>
    public ConnectionMultiplexer Connection { get; }

    private void Stop()
    {
        try
        {
            if (_process is not null && !_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }
}
