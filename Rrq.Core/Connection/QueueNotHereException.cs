namespace Rrq.Connection;

/// <summary>The server that answered has none of the queue, and nothing says the queue was destroyed: it restarted
/// without persistence, or it is an old master back empty during a failover. Transient (see <see cref="RedisFaults"/>):
/// a read that would report tasks MISSING, or a submission, waits it out within the outage budget.</summary>
internal sealed class QueueNotHereException(string queueId) : Exception(
    $"queue '{queueId}' is not on the server answering (it restarted without persistence, or is an old master back empty " +
    "during a failover)")
{
}
