using System.Diagnostics;
using System.Net.Sockets;

namespace Rrq.Testing;

/// <summary>
/// Starts redis-server processes, for the test fixtures and the benchmark alike (this file is compiled into both): the
/// server found on the PATH, its output read as it comes (so that it never blocks on a full pipe) with the last lines kept
/// for a failure message, and a wait until it answers.
/// </summary>
public static class ServerProcesses
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Process, Queue<string>> Output = [];

    /// <summary>The redis-server on the PATH (or in /usr/bin, /usr/local/bin).</summary>
    /// <exception cref="InvalidOperationException">There is none: says how to install one.</exception>
    public static string RedisServerPath()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin").Append("/usr/local/bin"))
        {
            var p = Path.Combine(dir, "redis-server");
            if (File.Exists(p))
            {
                return p;
            }
        }
        throw new InvalidOperationException(
            "redis-server is not installed: the tests and the benchmark need a real one. Run the tests through ./test.sh, which " +
            "installs it (apt-get install redis-server), or install it yourself.");
    }

    /// <summary><paramref name="n"/> loopback ports free now, all different (each held open until all are found: ports
    /// looked up one at a time may be the same port twice).</summary>
    public static int[] FreePorts(int n)
    {
        var listeners = Enumerable.Range(0, n).Select(_ => new TcpListener(System.Net.IPAddress.Loopback, 0)).ToArray();
        try
        {
            foreach (var l in listeners)
            {
                l.Start();
            }
            return [.. listeners.Select(l => ((System.Net.IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var l in listeners)
            {
                l.Stop();
            }
        }
    }

    /// <summary>Starts redis-server with these arguments (a config file first, for a Sentinel); the last lines of its
    /// output are kept for <see cref="Describe"/>.</summary>
    public static Process Start(params string[] args)
    {
        var exe = RedisServerPath();
        var psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {exe}");
        var lines = new Queue<string>();
        Output.Add(p, lines);
        void Keep(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (lines)
            {
                lines.Enqueue(line);
                if (lines.Count > 20)
                {
                    lines.Dequeue();
                }
            }
        }
        p.OutputDataReceived += (_, e) => Keep(e.Data);
        p.ErrorDataReceived += (_, e) => Keep(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>Waits until the server of <paramref name="process"/> answers PING on loopback <paramref name="port"/>
    /// (a server still loading its data answers LOADING, and is waited for too).</summary>
    /// <exception cref="InvalidOperationException">It exited, or did not answer within <paramref name="timeout"/>: says
    /// which, with its last lines of output.</exception>
    public static void WaitUntilAnswering(Process process, int port, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var client = new TcpClient("127.0.0.1", port);
                client.ReceiveTimeout = 1000;
                var stream = client.GetStream();
                stream.Write("PING\r\n"u8);
                var buffer = new byte[64];
                var n = stream.Read(buffer);
                if (n >= 5 && System.Text.Encoding.ASCII.GetString(buffer, 0, 5) == "+PONG")
                {
                    return;
                }
            }
            catch (Exception e) when (e is SocketException or IOException)
            {
            }
            if (process.HasExited || sw.Elapsed > timeout)
            {
                throw new InvalidOperationException($"redis-server on port {port} did not answer within {timeout.TotalSeconds:0} s: {Describe(process)}");
            }
            Thread.Sleep(50);   // between tries to reach the server starting
        }
    }

    /// <summary>A server process's state and last lines of output, for a failure message.</summary>
    public static string Describe(Process p)
    {
        var state = p.HasExited ? $"exited with {p.ExitCode}" : "running";
        var text = $"process {p.Id} ({state})";
        if (Output.TryGetValue(p, out var lines))
        {
            lock (lines)
            {
                text += lines.Count == 0 ? ", no output" : ":\n    " + string.Join("\n    ", lines);
            }
        }
        return text;
    }

    /// <summary>Kills the processes and deletes their folder (<paramref name="dir"/>, when not null).</summary>
    public static void EndAll(IEnumerable<Process> processes, string? dir)
    {
        foreach (var p in processes)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill();
                    p.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
            }
            p.Dispose();
        }
        try
        {
            if (dir is not null)
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }
}
