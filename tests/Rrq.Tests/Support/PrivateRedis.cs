using System.Diagnostics;
using Rrq.Testing;
using StackExchange.Redis;

namespace Rrq.Tests.Support;

/// <summary>
/// A redis-server of one test's own, on a free loopback port, that the test can restart, freeze and cut
/// off: the faults of Redis itself, injected for real. Append-only persistence is on (fsync every
/// second), as an operator would run it, so a restart keeps the queue.
/// </summary>
public sealed class PrivateRedis : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rrq-redis-").FullName;
    private Process? _process;
    private readonly string[] _extra;

    /// <param name="extra">More redis-server arguments (TLS, say).</param>
    public PrivateRedis(params string[] extra)
    {
        _extra = extra;
        Port = Rrq.Embedded.LoopbackPort.Free();
        try
        {
            Start();
        }
        catch
        {
            Dispose();   // a server that did not come up must not outlive the test
            throw;
        }
    }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    public int Pid => _process!.Id;

    /// <summary>Starts the server (again, after <see cref="Kill"/>) on the same port from its files.</summary>
    public void Start()
    {
        _process = ServerProcesses.Start(["--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
            "--dir", _dir, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--daemonize", "no",
            "--loglevel", "warning", .. _extra]);
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var mux = ConnectionMultiplexer.Connect($"{Address},connectTimeout=500,allowAdmin=true");
                var db = mux.GetDatabase();
                db.Ping();
                if (!((string?)db.Execute("INFO", "persistence"))!.Contains("loading:1", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (RedisException) when (sw.Elapsed < TimeSpan.FromSeconds(15) && !_process.HasExited)
            {
            }
            Thread.Sleep(50);   // between tries to reach the server starting
        }
    }

    private ConnectionMultiplexer? _admin;

    /// <summary>Runs one command on the test's own connection (CLIENT KILL skips the connection that sends it).</summary>
    public RedisResult Command(string command, params object[] args)
    {
        _admin ??= ConnectionMultiplexer.Connect($"{Address},connectTimeout=2000,syncTimeout=20000,allowAdmin=true,abortConnect=false");
        return _admin.GetDatabase().Execute(command, args);
    }

    /// <summary>Stops the server (SHUTDOWN, which writes the append-only file out; or SIGKILL, which loses up
    /// to its last second of writes), waits, and starts it again on the same port from its files.</summary>
    public TimeSpan Restart(TimeSpan down, bool kill)
    {
        var sw = Stopwatch.StartNew();
        if (kill)
        {
            _process!.Kill();
        }
        else
        {
            try
            {
                Command("SHUTDOWN");
            }
            catch (RedisConnectionException)
            {
                // The server closes the connection as it goes: that is the answer.
            }
        }
        _process!.WaitForExit(10_000);
        Thread.Sleep(down);   // the outage lasts as long as the test asked
        Start();
        return sw.Elapsed;
    }

    /// <summary>Kills the server and starts it again on the same port with nothing in it, as a server without persistence
    /// comes back (or an old master rejoining a failover before it is made a replica).</summary>
    public void RestartEmpty()
    {
        Kill();
        foreach (var f in Directory.EnumerateFileSystemEntries(_dir))
        {
            if (Directory.Exists(f))
            {
                Directory.Delete(f, recursive: true);
            }
            else
            {
                File.Delete(f);
            }
        }
        Start();
    }

    /// <summary>Whether the server answers a PING within half a second now (false while it is down or frozen).</summary>
    public bool Answers()
    {
        try
        {
            using var mux = ConnectionMultiplexer.Connect($"{Address},connectTimeout=500,syncTimeout=500,abortConnect=true");
            mux.GetDatabase().Ping();
            return true;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            return false;
        }
    }

    /// <summary>Ends the server for good (SIGKILL), as a machine or a notebook kernel holding it would go.</summary>
    public void Kill()
    {
        _process!.Kill();
        _process.WaitForExit(10_000);
    }

    /// <summary>Freezes the server process (SIGSTOP) for <paramref name="length"/>, then lets it go on.</summary>
    public void Freeze(TimeSpan length)
    {
        Signal("STOP");
        try
        {
            Thread.Sleep(length);   // the freeze lasts as long as the test asked
        }
        finally
        {
            Signal("CONT");
        }
    }

    private void Signal(string name)
    {
        using var kill = Process.Start("kill", ["-" + name, Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    public void Dispose()
    {
        _admin?.Close(allowCommandsToComplete: false);
        try
        {
            if (_process is { HasExited: false })
            {
                Signal("CONT");
                _process.Kill();
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process?.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
