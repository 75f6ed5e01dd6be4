using System.Diagnostics;

namespace Rrq.Controller;

/// <summary>
/// A one-line progress bar on standard error for long waits, redrawn at most ten times a second:
/// <c>[##########----------] 1024/2048 done (50%), 3.2 s</c>. Shown by default only when standard
/// error is a terminal and CI is not set.
/// </summary>
internal sealed class ProgressBar : IDisposable
{
    private const int Width = 30;
    private readonly int _total;
    private readonly string _what;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastDrawn = -1000;
    private bool _drawn;

    private ProgressBar(int total, string what)
    {
        _total = total;
        _what = what;
    }

    public static ProgressBar? Create(bool? wanted, int total, string what) =>
        (wanted ?? (!Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null && total > 1))
            ? new ProgressBar(total, what) : null;

    public void Report(int done, bool force = false)
    {
        var now = _clock.ElapsedMilliseconds;
        if (!force && now - _lastDrawn < 100)
        {
            return;
        }
        _lastDrawn = now;
        var filled = _total == 0 ? Width : (int)((long)done * Width / _total);
        Console.Error.Write($"\r[{new string('#', filled)}{new string('-', Width - filled)}] {done}/{_total} {_what} " +
            $"({(_total == 0 ? 100 : done * 100 / _total)}%), {_clock.Elapsed.TotalSeconds:0.0} s ");
        _drawn = true;
    }

    public void Dispose()
    {
        if (_drawn)
        {
            Console.Error.WriteLine();
        }
    }
}
