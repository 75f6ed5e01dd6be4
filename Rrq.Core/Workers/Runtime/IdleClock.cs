namespace Rrq.Workers;

/// <summary>
/// How long a worker has had nothing to do, by its clock: for its idle timeout (<see cref="RrqWorkerConfig.TimeoutIdle"/>,
/// changed by TIMEOUT_SET), for stopping spare children, and for giving memory back once per idle spell. A task run, or
/// any message but TIMEOUT_GET, counts as activity, as in rrq.
/// </summary>
internal sealed class IdleClock(TimeProvider time, TimeSpan? timeout)
{
    private DateTimeOffset _since = time.GetUtcNow();

    /// <summary>How long the worker may idle before it leaves (null: for ever).</summary>
    public TimeSpan? Timeout { get; set; } = timeout;

    /// <summary>How long since the last activity.</summary>
    public TimeSpan Idle => time.GetUtcNow() - _since;

    /// <summary>Whether the idle timeout has run out.</summary>
    public bool TimedOut => Timeout is { } limit && Idle >= limit;

    /// <summary>What is left of the idle timeout (never negative; null without one).</summary>
    public TimeSpan? Remaining => Timeout is { } limit ? (limit - Idle < TimeSpan.Zero ? TimeSpan.Zero : limit - Idle) : null;

    /// <summary>Something happened: the idle spell starts again.</summary>
    public void Touch() => _since = time.GetUtcNow();
}
