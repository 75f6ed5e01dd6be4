namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>
    /// Durable submissions: when set, a call that creates tasks (<c>TaskCreate*</c>, the bulk and call forms, <c>TaskRetry</c>)
    /// returns only once that many replicas hold the new tasks (Redis's <c>WAIT</c>), and otherwise throws an
    /// <see cref="RrqDurabilityException"/> saying how many did; the tasks exist on the master either way. Null (the
    /// default): a call returns once the master has them, and a failover in the moment after can lose them.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Fewer than one replica, or a timeout not below the connection's command timeout.</exception>
    public RrqDurability? Durability
    {
        get => _durability;
        set
        {
            if (value?.Problem(Redis.TimeoutMilliseconds) is { } problem)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, problem);
            }
            _durability = value;
        }
    }

    private RrqDurability? _durability;

    /// <summary>With <see cref="Durability"/> set, waits for its replicas to hold what this connection has written (the
    /// tasks <paramref name="ids"/> just created); throws when too few do in time.</summary>
    internal async Task ConfirmDurableAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        if (_durability is not { } d || ids.Count == 0)
        {
            return;
        }
        var what = ids.Count == 1 ? $"task {ids[0]}" : $"{ids.Count} tasks ({ids[0]} … {ids[^1]})";
        long acknowledged;
        try
        {
            acknowledged = await Queue.ReplicasHoldingAsync(d.Replicas, d.Timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            throw new RrqDurabilityException(ids, d.Replicas, 0,
                $"Created {what} in queue '{QueueId}' on the master, but could not confirm that {d.Replicas} replica(s) hold " +
                $"them ({Connection.RedisFaults.Describe(e)}): they exist and will run, unless the master fails before a " +
                "replica has them. Check the tasks' status before submitting them again.", e);
        }
        if (acknowledged < d.Replicas)
        {
            throw new RrqDurabilityException(ids, d.Replicas, acknowledged,
                $"Created {what} in queue '{QueueId}' on the master, but only {acknowledged} of the {d.Replicas} replica(s) " +
                $"Durability asks for confirmed holding them within {d.Timeout.TotalMilliseconds:0} ms: they exist and will run, " +
                "unless the master fails before a replica has them. Check the replicas (INFO replication on the master), or " +
                "lower Durability.Replicas.");
        }
    }
}
