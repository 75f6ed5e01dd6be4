using Microsoft.Extensions.Logging;

namespace Rrq.Workers;

/// <summary>
/// A worker's share of the queue's housekeeping, offered after each of its heartbeats: one worker per heartbeat period
/// (sweep_turn.lua) looks for lost workers (their heartbeat expired: LOST, their tasks DIED or retried), carries on walks
/// over dependents a dead process left half-done, and expires finished tasks past the queue's retention, a bounded number
/// per turn. Nothing here waits for a user to call anything.
/// </summary>
internal sealed class WorkerSweep(RrqController controller, string workerId, TimeSpan? heartbeatPeriod, ILogger log)
{
    /// <summary>Whether it is this worker's turn, for 0.9 of its heartbeat period.</summary>
    public async Task<bool> TakeTurnAsync()
    {
        var period = heartbeatPeriod ?? throw new InvalidOperationException("A worker without a heartbeat does not sweep.");
        return await controller.Queue.SweepTurnAsync(workerId, period).ConfigureAwait(false);
    }

    /// <summary>One turn, when it is this worker's. <paramref name="cancellationToken"/> stops it (an outage started: the
    /// heartbeat sweeps again once the worker's beats are steady).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (!await TakeTurnAsync().ConfigureAwait(false))
        {
            return;
        }
        var found = await controller.WorkerDetectExitedAsync(cancellationToken).ConfigureAwait(false);
        if (!found.IsEmpty)
        {
            Logging.RrqLog.DeclaredLost(log, found.ToString().Replace("\n", "; ", StringComparison.Ordinal));
        }
        // Housekeeping that must not wait for a user: a walk over dependents (failing, releasing or re-arming them) left
        // half-done by a process that died, and the queue's retention (expiring a bounded number of tasks per turn).
        await controller.Queue.WalksDrainAsync(cancellationToken).ConfigureAwait(false);
        await controller.LinkingDrainAsync(cancellationToken).ConfigureAwait(false);
        var expired = await controller.RetentionSweepAsync(RrqController.RetentionSweepMax, cancellationToken).ConfigureAwait(false);
        if (expired > 0)
        {
            Logging.RrqLog.RetentionExpired(log, expired, controller.QueueId);
        }
    }
}
