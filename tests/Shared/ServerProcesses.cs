using System.Diagnostics;

namespace Rrq.Tests.Support;

/// <summary>Starts the redis-server processes of the fixtures, and ends them with the fixture's folder.</summary>
public static class ServerProcesses
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Process, Queue<string>> Output = [];

    /// <summary>Starts redis-server with these arguments (a config file first, for a Sentinel), its output read as it
    /// comes (so that it never blocks on a full pipe), the last lines kept for <see cref="Describe"/>.</summary>
    public static Process Start(params string[] args)
    {
        var exe = RedisServer.FindRedisServer();
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

    /// <summary>A server process's state and last lines of output, for a fixture's failure message.</summary>
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

    public static void EndAll(IEnumerable<Process> processes, string dir)
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
            Directory.Delete(dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
