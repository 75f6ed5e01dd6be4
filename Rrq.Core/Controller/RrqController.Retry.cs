using Rrq.Keys;
using Rrq.Scripts;

namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>
    /// Retries a finished task (COMPLETE, ERROR, CANCELLED, DIED or TIMEOUT), rrq's
    /// <c>rrq_task_retry</c>. The newest task of its chain becomes MOVED and points at a new task
    /// that runs the same expression and locals, in the queue of the task it replaces unless <paramref name="queue"/>
    /// names another, with the same separate-process flag and timeout. Returns the new id. The old
    /// results stay readable with <c>follow: false</c>; with follow (the default) every id of the
    /// chain reads as the new task. Tasks that had become IMPOSSIBLE because this one failed wait
    /// again (DEFERRED), for the new task.
    /// </summary>
    /// <exception cref="RrqException">The task cannot be retried (PENDING, RUNNING, DEFERRED, IMPOSSIBLE,
    /// MISSING; the message gives its state), or was retried by someone else at the same moment.
    /// Nothing is changed.</exception>
    public string TaskRetry(string taskId, string? queue = null) => TaskRetryAsync([taskId], queue).GetAwaiter().GetResult()[0];

    /// <summary>Retries several tasks (see <see cref="TaskRetry(string, string?)"/>). Every one is checked before any is
    /// retried, so a bad id or state changes nothing; thousands are then retried in slices of a few milliseconds of Redis
    /// each, and only a task retried or deleted by someone else in that moment stops the rest (the message says how many
    /// were retried). Returns the new ids in the order given.</summary>
    /// <exception cref="ArgumentException">An id is given twice, or two ids belong to one retry chain.</exception>
    public IReadOnlyList<string> TaskRetry(IEnumerable<string> taskIds, string? queue = null) =>
        TaskRetryAsync(taskIds, queue).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskRetry(IEnumerable{string}, string?)"/>
    public async Task<IReadOnlyList<string>> TaskRetryAsync(IEnumerable<string> taskIds, string? queue = null,
        CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = ToIdArray(taskIds);
        if (ids.Length == 0)
        {
            return [];
        }
        if (queue is not null)
        {
            QueueIdValidation.CheckName(queue, "queue name", nameof(queue));
        }
        var dups = ids.GroupBy(i => i, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToArray();
        if (dups.Length > 0)
        {
            throw new ArgumentException($"Task ids to retry must not repeat: {string.Join(", ", dups)}. Nothing was retried.", nameof(taskIds));
        }
        var leaves = await FollowAsync(ids).ConfigureAwait(false);
        foreach (var id in ids.Concat(leaves))
        {
            _waiter.Forget(id);
        }
        var sameChain = ids.Zip(leaves).GroupBy(p => p.Second, StringComparer.Ordinal).Where(g => g.Count() > 1).ToArray();
        if (sameChain.Length > 0)
        {
            throw new ArgumentException("Task ids to retry must be of different retry chains; these are one chain each: " +
                string.Join("; ", sameChain.Select(g => $"{string.Join(", ", g.Select(p => p.First))} (newest {g.Key})")) +
                ". Nothing was retried.", nameof(taskIds));
        }
        var statuses = await Queue.TaskFieldAsync(TaskField.Status, [.. leaves], cancellationToken).ConfigureAwait(false);
        var bad = ids.Select((id, i) => (id, leaf: leaves[i], status: RrqTaskStatusExtensions.ParseTaskStatus(statuses[i])))
            .Where(x => !IsRetriable(x.status)).ToArray();
        if (bad.Length > 0)
        {
            throw new RrqException("Cannot retry tasks in these states (only COMPLETE, ERROR, CANCELLED, DIED and TIMEOUT can be " +
                "retried): " + string.Join(", ", bad.Select(b => $"{b.id} ({b.status.ToRedisString()}" + (b.leaf == b.id ? ")" : $", as {b.leaf})"))) +
                ". Nothing was retried.");
        }

        var rootOf = await Queue.TaskFieldAsync(TaskField.MovedRoot, [.. leaves], cancellationToken).ConfigureAwait(false);
        var roots = leaves.Select((l, i) => rootOf[i] ?? l).ToArray();
        // The new task goes where the task it replaces was, unless told otherwise: a chain retried into
        // another queue stays there, as automatic retries do.
        var leafQueues = await Queue.TaskFieldAsync(TaskField.Queue, [.. leaves], cancellationToken).ConfigureAwait(false);
        var targets = leafQueues.Select(q => queue ?? (string?)q ?? RrqKeys.DefaultQueue).ToArray();
        var newIds = ids.Select(_ => NewTaskId()).ToArray();
        // Checked whole above; retried in slices, so that no one script keeps Redis from everyone else for long. Only a
        // task that changes between the check and its slice (retried or deleted by someone else) stops the rest.
        var retries = ids.Select((_, i) => (leaves[i], roots[i], newIds[i], targets[i])).ToArray();
        var done = 0;
        var rearm = false;
        foreach (var slice in retries.Chunk(ScriptSlice / 2))   // a retry writes about twice what a delete does
        {
            var r = await Queue.TaskRetryAsync(slice, cancellationToken).ConfigureAwait(false);
            var so = done == 0 ? "nothing was retried" : $"{done} of the {ids.Length} tasks were retried (TaskInfo(id).Moved shows their new tasks), the rest not";
            switch (r.Refusal)
            {
                case -1:
                    throw new RrqException($"Task '{r.RefusedId}' does not exist in queue '{QueueId}' (MISSING: deleted just now); {so}.");
                case -7:
                    throw new RrqException($"Task '{r.RefusedId}' was retried by someone else just now; {so}. " +
                        "Its chain already has a newer task (see TaskInfo(id).Moved).");
                case -8:
                    throw new RrqException($"Task '{r.RefusedId}' changed to {r.RefusedStatus} just now and cannot be retried; {so}.");
                case -4:
                    throw new RrqException($"Queue '{r.RefusedId}' was not known when retrying; {so}. Try again.");
            }
            done += slice.Length;
            rearm |= r.Rearming > 0;
        }
        if (rearm)
        {
            // Their IMPOSSIBLE dependents wait again, a bounded slice per script; done before returning, so a caller
            // sees them DEFERRED.
            await Queue.WalksDrainAsync(cancellationToken).ConfigureAwait(false);
        }
        await ConfirmDurableAsync(newIds, cancellationToken).ConfigureAwait(false);
        return newIds;
    }

    private static bool IsRetriable(RrqTaskStatus status) => status is RrqTaskStatus.Complete or RrqTaskStatus.Error
        or RrqTaskStatus.Cancelled or RrqTaskStatus.Died or RrqTaskStatus.Timeout;
}
