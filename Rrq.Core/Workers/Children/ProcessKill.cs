using System.Diagnostics;

namespace Rrq.Workers;

/// <summary>Kills a process of this machine by pid (SIGKILL on Unix), ignoring one that is already gone.</summary>
internal static class ProcessKill
{
    /// <summary>When a process started, or null when it is gone or cannot be read.</summary>
    public static DateTimeOffset? StartTime(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return new DateTimeOffset(p.StartTime.ToUniversalTime(), TimeSpan.Zero);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception
            or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Kills process <paramref name="pid"/>, only if it is the one that started at <paramref name="started"/>
    /// (when given; to the second): a pid reused by another process since is left alone. Returns whether it killed.</summary>
    public static bool Kill(int pid, DateTimeOffset? started = null)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            if (started is { } expected && StartTime(pid) is { } actual && (actual - expected).Duration() > TimeSpan.FromSeconds(1))
            {
                return false;
            }
            p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
            return true;
        }
        catch (ArgumentException)
        {
            return false;   // already gone
        }
        catch (InvalidOperationException)
        {
            return false;   // exited between the lookup and the kill
        }
    }
}
