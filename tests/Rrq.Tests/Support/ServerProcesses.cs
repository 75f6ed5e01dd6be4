using System.Diagnostics;

namespace Rrq.Tests.Support;

/// <summary>Starts the redis-server processes of the fixtures, and ends them with the fixture's folder.</summary>
public static class ServerProcesses
{
    /// <summary>Starts redis-server with these arguments (a config file first, for a Sentinel), its output read and
    /// dropped so that it never blocks on a full pipe.</summary>
    public static Process Start(params string[] args)
    {
        var exe = RedisServer.FindRedisServer();
        var psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {exe}");
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
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
