// Test environment for workers of several slots: tasks meet inside one process, so a test can see they ran at
// once there without timing anything.
using System.Threading;

public static class Meet
{
    private static int _arrived;

    // Waits until n tasks of this process have arrived here (at most a minute); returns how many had.
    public static int At(int n)
    {
        Interlocked.Increment(ref _arrived);
        var end = DateTime.UtcNow.AddMinutes(1);
        while (Volatile.Read(ref _arrived) < n && DateTime.UtcNow < end)
        {
            Thread.Sleep(10);
        }
        return Volatile.Read(ref _arrived);
    }

    // Arrives, then never returns: the task runs until its process is killed.
    public static int Forever()
    {
        Interlocked.Increment(ref _arrived);
        Thread.Sleep(Timeout.Infinite);
        return 0;
    }
}
