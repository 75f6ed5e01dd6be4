using Rrq.Scripts;
using Microsoft.Extensions.Logging;

namespace Rrq;

public sealed partial class RrqController
{
    /// <summary>Deletes tasks and all that is stored for them; a retried task's whole chain goes.
    /// Unknown ids are ignored.</summary>
    /// <exception cref="RrqException">One of them is RUNNING (nothing is deleted).</exception>
    public void TaskDelete(IEnumerable<string> taskIds) => TaskDeleteAsync(taskIds).GetAwaiter().GetResult();

    /// <summary>Deletes one task (and its retry chain).</summary>
    public void TaskDelete(string taskId) => TaskDeleteAsync([taskId]).GetAwaiter().GetResult();

    /// <inheritdoc cref="TaskDelete(IEnumerable{string})"/>
    public async Task TaskDeleteAsync(IEnumerable<string> taskIds, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        var ids = ToIdArray(taskIds);
        if (ids.Length == 0)
        {
            return;
        }
        // Whole chains go, in slices of whole chains, so that no one script keeps Redis from everyone else for
        // long. A RUNNING task refuses the whole call before anything is deleted; one that starts running while the
        // slices go stops them there, and the message says how far they got (deleting again finishes the job).
        var chains = await ChainsAsync(ids).ConfigureAwait(false);
        var all = chains.SelectMany(c => c).Distinct(StringComparer.Ordinal).ToArray();
        var statuses = await Queue.TaskFieldAsync(TaskField.Status, all, cancellationToken)
            .ConfigureAwait(false);
        if (all.Where((_, i) => statuses[i] == "RUNNING").FirstOrDefault() is { } running)
        {
            throw new RrqException(
                $"Cannot delete task '{running}' of queue '{QueueId}': it is RUNNING. Nothing was deleted; " +
                "wait for it to finish (or stop its worker) and delete again.");
        }
        var (deleted, refused) = await DeleteChainsAsync(chains, null, "Deleted tasks", cancellationToken).ConfigureAwait(false);
        var so = deleted == 0 ? "Nothing was deleted" : $"{deleted} of the {all.Length} tasks were deleted";
        switch (refused?.Refusal ?? 0)
        {
            case -2:
                throw new RrqException(
                    $"Cannot delete task '{refused!.RefusedId}' of queue '{QueueId}': it started RUNNING while the tasks were being " +
                    $"deleted. {so}; wait for it to finish (or stop its worker) and delete again.");
            case -9:
                throw new RrqException($"Task '{refused!.RefusedId}' of queue '{QueueId}' kept being retried while it was being " +
                    $"deleted. {so}; delete again.");
        }
    }

    /// <summary>Deletes retry chains a slice of whole chains per script, forgetting their values and deleting the files
    /// nothing uses any more (<paramref name="what"/> says whose, should that fail), then finishes failing the
    /// dependents of those deleted before they ran. With <paramref name="tombstoneFor"/> only finished chains go, each
    /// leaving a tombstone (retention; none for zero). Returns how many tasks went, and the refusal that stopped it, if
    /// one did.</summary>
    private async Task<(long Deleted, Scripts.DeleteReply? Refused)> DeleteChainsAsync(IEnumerable<string[]> chains, TimeSpan? tombstoneFor,
        string what, CancellationToken cancellationToken)
    {
        long deleted = 0;
        Scripts.DeleteReply? refused = null;
        foreach (var slice in ChainSlices(chains))
        {
            var result = await DeleteSliceAsync(slice, tombstoneFor, cancellationToken).ConfigureAwait(false);
            if (result.Refusal != 0)
            {
                refused = result;
                break;
            }
            deleted += result.Deleted;
            foreach (var id in slice)
            {
                _waiter.Forget(id);
            }
            DeleteFreedValues(result.Freed, what);
        }
        await Queue.WalksDrainAsync(cancellationToken).ConfigureAwait(false);
        return (deleted, refused);
    }

    /// <summary>How many tasks one script changes at most when a call asks for many (a few milliseconds of Redis).</summary>
    internal static int ScriptSlice { get; set; } = 100;

    /// <summary>Retry chains packed into slices of about <see cref="ScriptSlice"/> ids, each chain whole.</summary>
    private static IEnumerable<string[]> ChainSlices(IEnumerable<string[]> chains)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var slice = new List<string>();
        foreach (var chain in chains)
        {
            var fresh = chain.Where(seen.Add).ToArray();
            if (slice.Count > 0 && slice.Count + fresh.Length > ScriptSlice)
            {
                yield return [.. slice];
                slice.Clear();
            }
            slice.AddRange(fresh);
        }
        if (slice.Count > 0)
        {
            yield return [.. slice];
        }
    }

    /// <summary>Deletes one slice of whole chains; should a retry lengthen one meanwhile, the chains are read again.</summary>
    private async Task<Scripts.DeleteReply> DeleteSliceAsync(string[] slice, TimeSpan? tombstoneFor, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var result = await DeleteWholeChainsAsync(slice, tombstoneFor, cancellationToken).ConfigureAwait(false);
            if (result.Refusal != -9 || attempt >= 5)
            {
                return result;
            }
            slice = (await ChainsAsync(slice).ConfigureAwait(false)).SelectMany(c => c).Distinct(StringComparer.Ordinal).ToArray();
        }
    }

    /// <summary>Deletes the files of offloaded values that nothing uses any more, or says why they stay.</summary>
    internal void DeleteFreedValues(string[] freed, string what)
    {
        if (freed.Length == 0)
        {
            return;
        }
        if (Values.Directory is null)
        {
            Logging.RrqLog.OffloadedValuesLeft(Logger, what, QueueId, freed.Length, string.Join(", ", freed));
        }
        Values.Delete(freed);
    }

    /// <summary>Runs task_delete on ids that must be whole retry chains.</summary>
    private async Task<Scripts.DeleteReply> DeleteWholeChainsAsync(string[] unique, TimeSpan? tombstoneFor, CancellationToken cancellationToken)
    {
        var queues = await Queue.TaskFieldAsync(TaskField.Queue, [.. unique], cancellationToken).ConfigureAwait(false);
        return await Queue.TaskDeleteAsync(unique, queues.OfType<string>().Distinct(StringComparer.Ordinal),
            cancellationToken, tombstoneFor).ConfigureAwait(false);
    }
}
