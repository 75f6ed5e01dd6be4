using System.Diagnostics;

namespace Rrq.Tests.Support;

/// <summary>Ends the redis-server processes a fixture started, and removes its folder.</summary>
public static class ServerProcesses
{
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
