using System.Diagnostics;

namespace Rrq.Workers;

/// <summary>Kills a process of this machine by pid (SIGKILL on Unix), ignoring one that is already gone.</summary>
internal static class ProcessKill
{
    public static void Kill(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
        }
        catch (ArgumentException)
        {
            // Already gone.
        }
        catch (InvalidOperationException)
        {
            // Exited between the lookup and the kill.
        }
    }
}
