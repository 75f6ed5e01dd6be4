namespace Rrq;

/// <summary>
/// Durable submissions (<see cref="RrqController.Durability"/>): a call that creates tasks returns only once at least
/// <see cref="Replicas"/> replicas of the master hold them, confirmed with Redis's <c>WAIT</c> within
/// <see cref="Timeout"/>. Replication is asynchronous: without this, a task acknowledged to its caller in the moment
/// before the master dies can be missing from the replica promoted in its place. With it, that window closes for
/// submissions, at the cost of a replica's round trip per call (see docs/fault-tolerance.md, "Sentinel").
/// </summary>
/// <param name="Replicas">How many replicas must hold the new tasks (at least 1).</param>
/// <param name="Timeout">How long to wait for them (positive, and shorter than the connection's command timeout).</param>
public sealed record RrqDurability(int Replicas, TimeSpan Timeout)
{
    /// <summary>One replica, within a second.</summary>
    public RrqDurability() : this(1, TimeSpan.FromSeconds(1))
    {
    }

    /// <summary>What is wrong with these settings for a connection whose commands time out after
    /// <paramref name="commandTimeoutMs"/>; null when nothing is.</summary>
    internal string? Problem(int commandTimeoutMs) =>
        Replicas < 1 ? $"Durability.Replicas must be at least 1, not {Replicas} (or set Durability to null)."
        : Timeout <= TimeSpan.Zero || Timeout.TotalMilliseconds >= commandTimeoutMs
            ? $"Durability.Timeout must be positive and below the connection's command timeout ({commandTimeoutMs} ms; " +
              $"asyncTimeout= in the connection string raises it), not {Timeout}."
            : null;
}
