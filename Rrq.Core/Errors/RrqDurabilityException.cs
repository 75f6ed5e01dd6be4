namespace Rrq;

/// <summary>Tasks were created on the master, but fewer replicas than <see cref="RrqController.Durability"/> asks for
/// confirmed holding them in time: they exist and will run, unless the master fails before a replica has them.</summary>
public sealed class RrqDurabilityException : RrqException
{
    /// <summary>Creates the exception.</summary>
    public RrqDurabilityException(IReadOnlyList<string> taskIds, int required, long acknowledged, string message, Exception? innerException = null)
        : base(message, innerException ?? new InvalidOperationException(message))
    {
        TaskIds = taskIds;
        Required = required;
        Acknowledged = acknowledged;
    }

    /// <summary>Creates the exception.</summary>
    public RrqDurabilityException(string message) : base(message) => TaskIds = [];

    /// <summary>Creates the exception.</summary>
    public RrqDurabilityException(string message, Exception innerException) : base(message, innerException) => TaskIds = [];

    /// <summary>Creates an exception with no message.</summary>
    public RrqDurabilityException() => TaskIds = [];

    /// <summary>The tasks the call created (they exist on the master).</summary>
    public IReadOnlyList<string> TaskIds { get; }

    /// <summary>How many replicas were asked for.</summary>
    public int Required { get; }

    /// <summary>How many confirmed in time (0 when the confirmation itself failed).</summary>
    public long Acknowledged { get; }
}
