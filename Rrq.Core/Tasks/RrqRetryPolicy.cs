using System.Globalization;

namespace Rrq;

/// <summary>
/// Automatic retry, given when a task is created: when an attempt ends in one of
/// <see cref="On"/>, the task is retried (a new task of the same chain, as
/// <see cref="RrqController.TaskRetry(string, string?)"/> would make), up to
/// <see cref="MaxAttempts"/> attempts in all. The failure and the retry are one atomic step, so
/// <c>TaskWait</c> on the first id waits for the final outcome.
/// </summary>
public sealed record RrqRetryPolicy
{
    /// <summary>Attempts in all, the first included (at least 1). Default 3.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>The outcomes that trigger a retry: any of ERROR, DIED, TIMEOUT. Default all three.
    /// (A cancelled task is never retried automatically.)</summary>
    public IReadOnlyList<RrqTaskStatus> On { get; init; } = [RrqTaskStatus.Error, RrqTaskStatus.Died, RrqTaskStatus.Timeout];

    /// <summary>Wait before the first retry; zero (the default) queues it at once.</summary>
    public TimeSpan Delay { get; init; } = TimeSpan.Zero;

    /// <summary>Each further retry waits this many times longer than the one before (at least 1;
    /// default 1, a constant delay; 2 doubles it each time).</summary>
    public double Backoff { get; init; } = 1;

    /// <summary>Checks every field; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxAttempts, 1, nameof(MaxAttempts));
        if (Delay < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Delay), Delay, "Delay must be zero or more.");
        }
        if (Backoff < 1 || double.IsNaN(Backoff) || double.IsInfinity(Backoff))
        {
            throw new ArgumentOutOfRangeException(nameof(Backoff), Backoff, "Backoff must be a finite number of at least 1.");
        }
        if (On is null || On.Count == 0 || On.Any(s => s is not (RrqTaskStatus.Error or RrqTaskStatus.Died or RrqTaskStatus.Timeout)))
        {
            throw new ArgumentException("On must list one or more of Error, Died and Timeout.", nameof(On));
        }
    }

    /// <summary>The form stored in Redis and read by the Lua scripts.</summary>
    internal string ToRedisString() => string.Join(';',
        MaxAttempts.ToString(CultureInfo.InvariantCulture),
        string.Join(',', On.Select(s => s.ToRedisString())),
        ((long)Delay.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
        Backoff.ToString("0.0##", CultureInfo.InvariantCulture));
}
